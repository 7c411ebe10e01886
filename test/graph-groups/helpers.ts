import { graphCaller, startHarness, tokenWithRoles, type Harness } from '../microsoft/helpers.ts';
import { DEMO_USERS, RESOURCE_GROUPS } from '../../sandbox/microsoft/constants.ts';

/** A sandbox and Graph callers holding the permissions the groups tests need. */

export const [ADELE, ALEX, MEGAN, NESTOR] = DEMO_USERS;
export const FINANCE = RESOURCE_GROUPS.find((g) => g.displayName === 'Finance Readers')!;
export const BREAK_GLASS = RESOURCE_GROUPS.find((g) => g.displayName === 'Prod Break-glass')!;
export const STORAGE = RESOURCE_GROUPS.find((g) => g.displayName === 'Storage Contributors')!;

/** What Ticketloop's broker app holds to manage people and workloads in groups, and PIM for Groups. */
export const BROKER_ROLES = [
  'GroupMember.ReadWrite.All',
  'Group.Read.All',
  'User.Read.All',
  'Application.ReadWrite.All',
  'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
];

export type Graph = ReturnType<typeof graphCaller>;

export const ref = (id: string) => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });

/** A registered app: its service principal can be made a group member (a workload identity). */
export async function workload(h: Harness, name = 'Billing worker'): Promise<{ id: string; appId: string }> {
  const app = await h.call('POST', '/_sandbox/entra/apps', { json: { displayName: name } });
  return { id: app.body.servicePrincipalId, appId: app.body.clientId };
}

export async function withGroups(
  fn: (h: Harness, g: Graph) => Promise<void>,
  roles: string[] = BROKER_ROLES,
): Promise<void> {
  const h = await startHarness();
  try {
    await fn(h, graphCaller(h, await tokenWithRoles(h, roles)));
  } finally {
    await h.close();
  }
}

export { graphCaller, tokenWithRoles };
