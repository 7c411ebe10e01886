import { str, type ServiceNowClient, type SnRecord } from './client.ts';
import { diagnose, identity, type AuthLabel } from './diagnose.ts';
import { q } from './query.ts';

/**
 * The roles of the account Ticketloop signs in as, read from sys_user_has_role (a user may read
 * their own grants; inherited roles are rows there too, so incident_manager's itil shows). Used
 * by `setup servicenow` and by the write-access check of Test setup, which must not write.
 */

export interface Account {
  user?: string;
  /** Undefined when they could not be determined. */
  roles?: string[];
  why?: string;
}

/**
 * The account's active roles from sys_user_has_role. With a user name (basic, OAuth password
 * grant) by `user.user_name`; otherwise (client_credentials, API key) by the instance's own
 * `gs.getUserID()`. An instance that refuses that script value drops the term and would list
 * everyone's grants, so that answer counts only when it is about one user.
 */
export async function readRoles(client: ServiceNowClient, auth: AuthLabel): Promise<Account> {
  const username =
    auth.type === 'basic' || (auth.type === 'oauth' && auth.grant === 'password') ? auth.username : undefined;
  const query = (
    username ? q().eq('user.user_name', username) : q().script('user', '=', 'javascript:gs.getUserID()')
  ).eq('state', 'active');
  const rows: SnRecord[] = [];
  for await (const r of client.listAll('sys_user_has_role', {
    query,
    fields: ['role.name', 'user.user_name'],
    pageSize: 500,
  }))
    rows.push(r);
  const users = new Set(rows.map((r) => str(r['user.user_name'])));
  const roles = [...new Set(rows.map((r) => str(r['role.name'])))].sort();
  if (username) return { user: username, roles };
  if (users.size === 1) return { user: [...users][0], roles };
  return {
    why: `the roles of ${identity(auth)} could not be determined (${users.size === 0 ? 'no grants were listed for the user the instance signs it in as' : 'the instance did not narrow the list to one user'})`,
  };
}

/** readRoles, with a refusal turned into `why`. */
export async function readRolesOrWhy(
  client: ServiceNowClient,
  auth: AuthLabel,
  where: { target: string; instanceUrl: string },
): Promise<Account> {
  try {
    return await readRoles(client, auth);
  } catch (e) {
    const d = diagnose(e, { ...where, check: 'account roles', auth, table: 'sys_user_has_role' });
    return { why: `the roles of ${identity(auth)} could not be read (${d.result.detail})` };
  }
}

/**
 * Roles whose ACLs let a user write a task table: itil on every task table (the base system's
 * incident, problem, change_request, sc_* write ACLs), sn_incident_write on incident alone
 * (the narrower role ServiceNow added for incident writers); admin passes every ACL.
 */
export function writeRolesFor(table: string): string[] {
  return ['admin', 'itil', ...(table === 'incident' ? ['sn_incident_write'] : [])];
}
