import type { Actor, Records } from './records.ts';
import type { TableStore } from './store.ts';

/** Demo credentials. Fixed so docs, demos and tests can rely on them. */
export const DEMO = {
  admin: { username: 'admin', password: 'admin-password-1' },
  itil: { username: 'it.support', password: 'itil-password-1' },
  readonly: { username: 'read.only', password: 'readonly-password-1' },
  /** The person who plays "IT support" in the web UI: a different user than any API credential,
   *  so a client that ignores its own updates (loop prevention) still sees the human's changes. */
  agent: { username: 'david.miller', password: 'agent-password-1' },
  /** The OAuth application user (client_credentials) and the API key's user. */
  integration: { username: 'ticketloop.integration' },
  oauth: { clientId: 'ticketloop-client', clientSecret: 'ticketloop-client-secret-1' },
  apiKey: 'sn-sandbox-apikey-0f4c2a9e7b1d4c3e',
};

/** The well-known sys_id the admin user has on every ServiceNow instance. */
export const ADMIN_SYS_ID = '6816f79cc0a8016401c5a33be04be441';

/** The platform itself (used for seeding). */
export const SYSTEM_ACTOR: Actor = { userName: 'system', sysId: '', roles: ['admin'] };

const USERS: {
  user_name: string;
  first_name: string;
  last_name: string;
  roles: string;
  title: string;
  manager?: string;
  password?: string;
  sys_id?: string;
}[] = [
  {
    user_name: 'admin',
    first_name: 'System',
    last_name: 'Administrator',
    roles: 'admin',
    title: 'Administrator',
    password: DEMO.admin.password,
    sys_id: ADMIN_SYS_ID,
  },
  { user_name: 'beth.anglin', first_name: 'Beth', last_name: 'Anglin', roles: 'itil', title: 'Service Desk Manager' },
  {
    user_name: 'it.support',
    first_name: 'IT',
    last_name: 'Support',
    roles: 'itil',
    title: 'Service Desk API account',
    manager: 'beth.anglin',
    password: DEMO.itil.password,
  },
  {
    user_name: 'david.miller',
    first_name: 'David',
    last_name: 'Miller',
    roles: 'itil',
    title: 'IT Support Agent',
    manager: 'beth.anglin',
    password: DEMO.agent.password,
  },
  {
    user_name: 'ticketloop.integration',
    first_name: 'Ticketloop',
    last_name: 'Integration',
    roles: 'itil',
    title: 'Integration user',
  },
  {
    user_name: 'read.only',
    first_name: 'Read',
    last_name: 'Only',
    roles: '',
    title: 'Employee',
    manager: 'beth.anglin',
    password: DEMO.readonly.password,
  },
  { user_name: 'carol.chen', first_name: 'Carol', last_name: 'Chen', roles: '', title: 'Head of Finance' },
  {
    user_name: 'abel.tuter',
    first_name: 'Abel',
    last_name: 'Tuter',
    roles: '',
    title: 'Cloud Engineer',
    manager: 'carol.chen',
  },
  { user_name: 'dana.ruiz', first_name: 'Dana', last_name: 'Ruiz', roles: '', title: 'Analyst', manager: 'carol.chen' },
];

const GROUPS = [
  { name: 'Service Desk', manager: 'beth.anglin', description: 'First-line support' },
  { name: 'Identity and Access', manager: 'beth.anglin', description: 'Entra ID, access packages' },
  { name: 'Cloud Security', manager: 'beth.anglin', description: 'Defender for Cloud findings' },
  { name: 'Network', manager: 'beth.anglin', description: 'Network and VPN' },
];

type Choices = Record<string, [string, string][]>;

const IMPACT: [string, string][] = [
  ['1', '1 - High'],
  ['2', '2 - Medium'],
  ['3', '3 - Low'],
];
const PRIORITY: [string, string][] = [
  ['1', '1 - Critical'],
  ['2', '2 - High'],
  ['3', '3 - Moderate'],
  ['4', '4 - Low'],
  ['5', '5 - Planning'],
];
const APPROVAL: [string, string][] = [
  ['not requested', 'Not Yet Requested'],
  ['requested', 'Requested'],
  ['approved', 'Approved'],
  ['rejected', 'Rejected'],
];
const TASK_STATE: [string, string][] = [
  ['-5', 'Pending'],
  ['1', 'Open'],
  ['2', 'Work in Progress'],
  ['3', 'Closed Complete'],
  ['4', 'Closed Incomplete'],
  ['7', 'Closed Skipped'],
];
const STAGE: [string, string][] = [
  ['waiting_for_approval', 'Waiting for Approval'],
  ['request_approved', 'Request Approved'],
  ['fulfillment', 'Fulfillment'],
  ['delivery', 'Delivery'],
  ['completed', 'Completed'],
];
const common = (state: [string, string][]): Choices => ({
  state,
  impact: IMPACT,
  urgency: IMPACT,
  priority: PRIORITY,
  approval: APPROVAL,
});

/** sys_choice rows (fact sheet §1.7): the instance data a client validates close codes against. */
export const CHOICES: Record<string, Choices> = {
  incident: {
    ...common([
      ['1', 'New'],
      ['2', 'In Progress'],
      ['3', 'On Hold'],
      ['6', 'Resolved'],
      ['7', 'Closed'],
      ['8', 'Canceled'],
    ]),
    close_code: [
      ['Duplicate', 'Duplicate'],
      ['Known error', 'Known error'],
      ['Resolved by caller', 'Resolved by caller'],
      ['Resolved by change', 'Resolved by change'],
      ['Resolved by problem', 'Resolved by problem'],
      ['Solution provided', 'Solution provided'],
      ['Workaround provided', 'Workaround provided'],
      ['User error', 'User error'],
    ],
    hold_reason: [
      ['1', 'Awaiting Caller'],
      ['3', 'Awaiting Problem'],
      ['4', 'Awaiting Vendor'],
      ['5', 'Awaiting Change'],
    ],
    category: [
      ['inquiry', 'Inquiry / Help'],
      ['software', 'Software'],
      ['hardware', 'Hardware'],
      ['network', 'Network'],
      ['database', 'Database'],
    ],
  },
  change_request: {
    ...common([
      ['-5', 'New'],
      ['-4', 'Assess'],
      ['-3', 'Authorize'],
      ['-2', 'Scheduled'],
      ['-1', 'Implement'],
      ['0', 'Review'],
      ['3', 'Closed'],
      ['4', 'Canceled'],
    ]),
    close_code: [
      ['successful', 'Successful'],
      ['successful_issues', 'Successful with issues'],
      ['unsuccessful', 'Unsuccessful'],
    ],
    type: [
      ['standard', 'Standard'],
      ['normal', 'Normal'],
      ['emergency', 'Emergency'],
    ],
    risk: [
      ['1', 'Very High'],
      ['2', 'High'],
      ['3', 'Moderate'],
      ['4', 'Low'],
    ],
  },
  problem: {
    ...common([
      ['101', 'New'],
      ['102', 'Assess'],
      ['103', 'Root Cause Analysis'],
      ['104', 'Fix in Progress'],
      ['106', 'Resolved'],
      ['107', 'Closed'],
    ]),
    resolution_code: [
      ['fix_applied', 'Fix Applied'],
      ['risk_accepted', 'Risk Accepted'],
      ['canceled', 'Canceled'],
      ['duplicate', 'Duplicate'],
    ],
  },
  sc_request: {
    ...common(TASK_STATE),
    request_state: [
      ['draft', 'Draft'],
      ['submitted', 'Submitted'],
      ['in_process', 'Approved'],
      ['delivered', 'Delivered'],
      ['cancelled', 'Cancelled'],
      ['closed_incomplete', 'Closed Incomplete'],
      ['closed_complete', 'Closed Complete'],
      ['closed_cancelled', 'Closed Cancelled'],
    ],
    stage: STAGE,
  },
  sc_req_item: { ...common(TASK_STATE), stage: STAGE },
  sc_task: common(TASK_STATE),
  kb_knowledge: {
    workflow_state: [
      ['draft', 'Draft'],
      ['review', 'Review'],
      ['published', 'Published'],
      ['pending_retirement', 'Pending retirement'],
      ['retired', 'Retired'],
      ['outdated', 'Outdated'],
    ],
  },
  sysapproval_approver: {
    state: [
      ['requested', 'Requested'],
      ['approved', 'Approved'],
      ['rejected', 'Rejected'],
      ['not_required', 'No Longer Required'],
      ['cancelled', 'Cancelled'],
    ],
  },
};

/** The demo roles of a seeded user (comma-separated), granted through sys_user_has_role by roles.ts. */
export function demoRolesOf(userName: string): string | undefined {
  return USERS.find((u) => u.user_name === userName)?.roles;
}

/**
 * Fill an empty instance. The accounts behind the demo credentials are always created (else
 * nothing could log in); `full` adds the other demo users, the groups and the choice lists.
 */
export function seedDemoData(
  store: TableStore,
  records: Records,
  full: boolean,
  setPassword: (user: string, pw: string) => void,
): void {
  if (store.count('sys_user') > 0) return;
  const accounts = new Set(['admin', 'it.support', 'read.only', 'david.miller', 'ticketloop.integration']);
  const users = USERS.filter((u) => full || accounts.has(u.user_name));
  store.docs.transaction(() => {
    const ids = new Map<string, string>();
    for (const u of users) {
      const row = records.insert(
        'sys_user',
        {
          sys_id: u.sys_id,
          user_name: u.user_name,
          first_name: u.first_name,
          last_name: u.last_name,
          title: u.title,
          email: `${u.user_name}@example.com`,
          active: 'true',
        },
        SYSTEM_ACTOR,
        { seeding: true },
      );
      ids.set(u.user_name, row.sys_id);
      if (u.password) setPassword(u.user_name, u.password);
    }
    for (const u of users) {
      const row = store.get('sys_user', ids.get(u.user_name)!)!;
      if (u.manager && ids.has(u.manager)) row.manager = ids.get(u.manager)!;
      store.save('sys_user', row);
    }
    if (!full) return;
    for (const g of GROUPS) {
      records.insert(
        'sys_user_group',
        {
          ...g,
          manager: ids.get(g.manager),
          email: `${g.name.toLowerCase().replace(/\W+/g, '.')}@example.com`,
          active: 'true',
        },
        SYSTEM_ACTOR,
        { seeding: true },
      );
    }
    for (const [table, elements] of Object.entries(CHOICES)) {
      for (const [element, list] of Object.entries(elements)) {
        list.forEach(([value, label], i) => {
          records.insert(
            'sys_choice',
            { name: table, element, value, label, sequence: String((i + 1) * 10) },
            SYSTEM_ACTOR,
            { seeding: true },
          );
        });
      }
    }
  });
}
