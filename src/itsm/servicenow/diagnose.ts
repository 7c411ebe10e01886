import type { CheckResult } from '../../app/checks.ts';
import { HttpError } from '../../engine/errors.ts';

/**
 * A failed call to the instance → one CheckResult whose fix is specific to the cause: the
 * instance cannot be reached (DNS, TLS, refused, timeout), the credentials are refused (401, for
 * which identity), or the account lacks a role (403, naming the role the table needs).
 */

/** Who the connection signs in as, without the secret (module.ts builds it from the config). */
export type AuthLabel =
  | { type: 'basic'; username: string }
  | { type: 'oauth'; grant: 'client_credentials'; clientId: string }
  | { type: 'oauth'; grant: 'password'; clientId: string; username: string }
  | { type: 'apikey' };

export interface DiagnoseContext {
  target: string;
  check: string;
  instanceUrl: string;
  auth?: AuthLabel;
  /** The table the failed call read. */
  table?: string;
}

export interface Diagnosis {
  result: CheckResult;
  /**
   * What failed. Anything but `table` concerns the whole connection — the instance is not
   * reachable or not answering as ServiceNow (`connection`), the credentials are refused
   * (`sign-in`), the account may not use the API at all (`access`) — so every other call would
   * fail the same way: report it once and check nothing else.
   */
  scope: 'connection' | 'sign-in' | 'access' | 'table';
}

const TICKET_TABLES = new Set(['incident', 'change_request', 'problem', 'sc_request', 'sc_req_item', 'sc_task']);

const REACH_FIX =
  'check instanceUrl and that this host can reach the instance (proxy, firewall, caFile for a private CA)';

/** "user 'it.support'", "the OAuth client 'abc'", "the API key". */
export function identity(auth: AuthLabel | undefined): string {
  if (!auth) return 'the configured credentials';
  if (auth.type === 'basic') return `user '${auth.username}'`;
  if (auth.type === 'apikey') return 'the API key';
  if (auth.grant === 'password') return `the OAuth client '${auth.clientId}' with user '${auth.username}'`;
  return `the OAuth client '${auth.clientId}'`;
}

/** The user whose roles decide the ACLs (the OAuth application user for client_credentials). */
function account(auth: AuthLabel | undefined): string {
  if (auth?.type === 'basic' || (auth?.type === 'oauth' && auth.grant === 'password')) return `user '${auth.username}'`;
  if (auth?.type === 'oauth') return `the OAuth client's application user ('${auth.clientId}')`;
  if (auth?.type === 'apikey') return "the API key's user";
  return 'the account';
}

function snError(body: unknown): { message: string; detail: string } {
  const e = body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
  if (!e || typeof e !== 'object') return { message: '', detail: '' };
  const { message, detail } = e as { message?: unknown; detail?: unknown };
  return { message: typeof message === 'string' ? message : '', detail: typeof detail === 'string' ? detail : '' };
}

function header(h: HttpError['headers'], name: string): string {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** The role a table's read (and write) ACLs want, as advice. */
function roleFor(table: string | undefined, who: string): string {
  if (!table || TICKET_TABLES.has(table) || table === 'task')
    return `give ${who} the itil role (reading and writing ${table ?? 'the ticket tables'} needs it)`;
  if (table === 'sys_choice')
    return `give ${who} the itil role: base instances let itil read sys_choice (the close-out choice lists); if yours restricts it, add a read ACL on sys_choice for the account's role`;
  if (table === 'sys_user') return `give ${who} the itil role (people lookups read sys_user)`;
  if (table === 'sys_properties' || table === 'sys_script')
    return `${table} needs the admin role: install by hand (setup prints the steps) or run setup with an admin account`;
  return `give ${who} a role whose ACLs allow reading ${table}`;
}

function unreachable(message: string): string {
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(message))
    return 'check instanceUrl: its host name does not resolve from this host (DNS, or a proxy is needed)';
  if (/certificate|self[- ]signed|CERT_|SSL|TLS|UNABLE_TO_VERIFY/i.test(message))
    return "the instance's certificate is not trusted here: set caFile to the private CA that signed it, or check instanceUrl";
  return REACH_FIX;
}

export function diagnose(err: unknown, c: DiagnoseContext): Diagnosis {
  const fail = (detail: string, fix: string, scope: Diagnosis['scope'] = 'table'): Diagnosis => ({
    result: { target: c.target, check: c.check, ok: false, detail, fix },
    scope,
  });
  if (!(err instanceof HttpError)) {
    const message = (err as Error)?.message ?? String(err);
    if (/answered without/.test(message))
      return fail(message, `check instanceUrl: ${c.instanceUrl} did not answer as ServiceNow does`, 'connection');
    return fail(message, 'see the detail');
  }
  const token = err.upstream === 'servicenow-oauth';
  const sn = snError(err.body);
  if (err.status === 0) {
    const message = typeof err.body === 'string' && err.body ? err.body : err.message;
    return fail(`cannot reach ${c.instanceUrl}: ${message}`, unreachable(message), 'connection');
  }
  if (err.status === 401 || (token && err.status === 400)) {
    const who = identity(c.auth);
    if (token) {
      const a = c.auth?.type === 'oauth' ? c.auth : undefined;
      const fix =
        a?.grant === 'password'
          ? `check the client secret and the password of user '${a.username}'`
          : 'check the client secret (and that the instance allows the client_credentials grant: glide.oauth.inbound.client.credential.grant_type.enabled)';
      return fail(`${err.status} for ${who} at /oauth_token.do`, fix, 'sign-in');
    }
    if (header(err.headers, 'x-mfa_token') === 'invalid')
      return fail(
        `401 for ${who}: the instance wants a multi-factor token`,
        'use an account without MFA for integrations (or OAuth)',
        'sign-in',
      );
    const fix =
      c.auth?.type === 'basic'
        ? `check the password (and that user '${c.auth.username}' is active and not locked out)`
        : c.auth?.type === 'apikey'
          ? 'check the API key (and that it is active in ServiceNow: REST API Key)'
          : "the instance refused the access token: check that the OAuth client's user is active and the token's scope allows the Table API";
    return fail(`401 for ${who}`, fix, 'sign-in');
  }
  if (err.status === 403) {
    const reason = [sn.message, sn.detail].filter(Boolean).join(': ') || 'Forbidden';
    if (/API level ACL/i.test(sn.detail))
      return fail(
        `403 for ${identity(c.auth)}: ${reason}`,
        `${account(c.auth)} has no role that may use the Table API: give it the itil role (the ticket tables Ticketloop works on need it)`,
        'access',
      );
    return fail(`403 reading ${c.table ?? 'the instance'}: ${reason}`, roleFor(c.table, account(c.auth)));
  }
  if (err.status === 400 && /^Invalid table/i.test(sn.message))
    return fail(
      `table '${c.table}' does not exist on the instance (${sn.message})`,
      'check the table name (the flow configuration names the ticket kinds), or install the plugin that provides it',
    );
  if (err.status === 404 || (err.status === 400 && !sn.message))
    return fail(
      `${err.status} from ${c.instanceUrl}: not a ServiceNow Table API answer`,
      'check instanceUrl: it should be the instance root, e.g. https://<name>.service-now.com',
      'connection',
    );
  if (err.status === 429)
    return fail(
      `429 rate limit exceeded${sn.detail ? `: ${sn.detail}` : ''}`,
      "wait and check again; if it persists, raise the account's limit in sys_rate_limit_rules",
      'connection',
    );
  if (err.status >= 500)
    return fail(
      `${err.status} from the instance${sn.message ? `: ${sn.message}` : ''}`,
      'the instance had a problem: check again later, and its health if it persists',
      'connection',
    );
  return fail(
    `${err.status}${sn.message ? `: ${[sn.message, sn.detail].filter(Boolean).join(' — ')}` : ''}`,
    'see the detail',
  );
}
