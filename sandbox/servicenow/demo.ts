import { seedAccessCatalog } from './demo-access.ts';
import { stableSysId } from './dictionary.ts';
import type { Actor, Records } from './records.ts';
import type { Row, TableStore } from './store.ts';

/**
 * Demo records, like the ones a new personal developer instance comes with: a handful of
 * incidents (New, In Progress, On Hold, Resolved), catalog requests with their requested items,
 * the "Cloud access request" item with its variables and the tenant's provisioned users
 * (demo-access.ts), and knowledge articles — with demo callers ("Abel Tuter", …) and assignment groups ("Service
 * Desk", "Network", "Hardware"). Loaded only when asked (`ticketloop sandbox --seed demo`,
 * `POST /_sandbox/servicenow/seed {"set":"demo"}`): tests and the demo rely on an empty incident
 * table. Numbers are below the counters (INC0000001 …, new records get INC0010001 …), as on a
 * real instance whose demo data predates its first own record.
 *
 * Every demo record has a fixed sys_id, so loading the set again inserts nothing twice; the rows
 * are stored like any other, so they survive restarts.
 */

export const SEED_SETS = ['demo'] as const;
export type SeedSet = (typeof SEED_SETS)[number];

/** Rows inserted per table (0 when the set was loaded before). */
export type SeedResult = Record<string, number>;

const PEOPLE = [
  { user_name: 'abel.tuter', first_name: 'Abel', last_name: 'Tuter', title: 'Cloud Engineer' },
  { user_name: 'beth.anglin', first_name: 'Beth', last_name: 'Anglin', title: 'Service Desk Manager' },
  { user_name: 'david.miller', first_name: 'David', last_name: 'Miller', title: 'IT Support Agent' },
  { user_name: 'fred.luddy', first_name: 'Fred', last_name: 'Luddy', title: 'Sales Manager' },
  { user_name: 'bud.richman', first_name: 'Bud', last_name: 'Richman', title: 'Accountant' },
  { user_name: 'joe.employee', first_name: 'Joe', last_name: 'Employee', title: 'Employee' },
];

const GROUPS = [
  { name: 'Service Desk', description: 'First-line support' },
  { name: 'Network', description: 'Network and VPN' },
  { name: 'Hardware', description: 'Laptops, phones and peripherals' },
];

const CATALOG_ITEMS = [
  { name: 'Standard Laptop', short_description: 'Lenovo - Carbon x1' },
  { name: 'Apple iPad 3', short_description: 'Apple iPad 3 with Wi-Fi' },
  { name: 'Sales Laptop', short_description: 'Acer Aspire NX' },
];

const KB_CATEGORIES = [
  { label: 'Email', value: 'email' },
  { label: 'Network', value: 'network' },
  { label: 'Devices', value: 'devices' },
  { label: 'Accounts', value: 'accounts' },
];

type Fields = Record<string, string>;

/** Incidents as Table API input; people by user_name, groups by name (resolved when loading). */
const INCIDENTS: Fields[] = [
  {
    number: 'INC0000001',
    short_description: 'Unable to connect to email',
    caller_id: 'abel.tuter',
    category: 'software',
    state: '1', // New
    impact: '2',
    urgency: '2',
    assignment_group: 'Service Desk',
  },
  {
    number: 'INC0000002',
    short_description: 'Wireless access is down in my area',
    caller_id: 'fred.luddy',
    category: 'network',
    state: '2', // In Progress
    impact: '1',
    urgency: '1',
    assignment_group: 'Network',
    assigned_to: 'beth.anglin',
  },
  {
    number: 'INC0000003',
    short_description: 'I need a replacement iPhone, please',
    caller_id: 'abel.tuter',
    category: 'hardware',
    state: '3', // On Hold
    hold_reason: '1', // Awaiting Caller
    impact: '3',
    urgency: '2',
    assignment_group: 'Hardware',
    assigned_to: 'david.miller',
  },
  {
    number: 'INC0000004',
    short_description: 'Reset my password',
    caller_id: 'joe.employee',
    category: 'inquiry',
    state: '6', // Resolved
    close_code: 'Solution provided',
    close_notes: 'Password reset; the user signed in again.',
    impact: '3',
    urgency: '3',
    assignment_group: 'Service Desk',
    assigned_to: 'david.miller',
  },
  {
    number: 'INC0000005',
    short_description: 'Sales forecast spreadsheet is READ ONLY',
    caller_id: 'bud.richman',
    category: 'software',
    state: '1',
    impact: '2',
    urgency: '3',
    assignment_group: 'Service Desk',
  },
  {
    number: 'INC0000006',
    short_description: 'Trouble getting to Oregon mail server',
    caller_id: 'fred.luddy',
    category: 'network',
    state: '2',
    impact: '2',
    urgency: '2',
    assignment_group: 'Network',
    assigned_to: 'beth.anglin',
  },
  {
    number: 'INC0000007',
    short_description: 'Performance problems with wifi',
    caller_id: 'abel.tuter',
    category: 'network',
    state: '6',
    close_code: 'Workaround provided',
    close_notes: 'Moved the user to the 5 GHz network.',
    impact: '2',
    urgency: '3',
    assignment_group: 'Network',
    assigned_to: 'beth.anglin',
  },
  {
    number: 'INC0000008',
    short_description: 'My laptop does not power on',
    caller_id: 'joe.employee',
    category: 'hardware',
    state: '1',
    impact: '3',
    urgency: '1',
    assignment_group: 'Hardware',
  },
];

/** Requests (task states: 1 Open, 2 Work in Progress, 3 Closed Complete), requested_for by user_name. */
const REQUESTS: Fields[] = [
  {
    number: 'REQ0000001',
    requested_for: 'abel.tuter',
    stage: 'fulfillment',
    state: '2',
    request_state: 'in_process',
    approval: 'approved',
  },
  {
    number: 'REQ0000002',
    requested_for: 'fred.luddy',
    stage: 'waiting_for_approval',
    state: '1',
    request_state: 'submitted',
    approval: 'requested',
  },
  {
    number: 'REQ0000003',
    requested_for: 'joe.employee',
    stage: 'completed',
    state: '3',
    request_state: 'closed_complete',
    approval: 'approved',
  },
];

/** Requested items: request by number, cat_item by name, assignment_group by name. */
const ITEMS: Fields[] = [
  {
    number: 'RITM0000001',
    request: 'REQ0000001',
    cat_item: 'Standard Laptop',
    stage: 'fulfillment',
    state: '2',
    assignment_group: 'Hardware',
  },
  {
    number: 'RITM0000002',
    request: 'REQ0000001',
    cat_item: 'Apple iPad 3',
    stage: 'fulfillment',
    state: '1',
    assignment_group: 'Hardware',
  },
  {
    number: 'RITM0000003',
    request: 'REQ0000002',
    cat_item: 'Sales Laptop',
    stage: 'waiting_for_approval',
    state: '1',
    assignment_group: 'Hardware',
  },
  {
    number: 'RITM0000004',
    request: 'REQ0000003',
    cat_item: 'Apple iPad 3',
    stage: 'completed',
    state: '3',
    assignment_group: 'Service Desk',
  },
];

/** Knowledge articles of the "IT" knowledge base, kb_category by value. */
const ARTICLES: Fields[] = [
  {
    number: 'KB0000001',
    short_description: 'How to set up email on your phone',
    kb_category: 'email',
    workflow_state: 'published',
    text: '<p>Open Settings, add an Exchange account and sign in with your work address.</p>',
  },
  {
    number: 'KB0000002',
    short_description: 'Connecting to the corporate VPN',
    kb_category: 'network',
    workflow_state: 'published',
    text: '<p>Start the VPN client, choose the nearest gateway and sign in with your work account.</p>',
  },
  {
    number: 'KB0000003',
    short_description: 'Resetting your password',
    kb_category: 'accounts',
    workflow_state: 'published',
    text: '<p>Use the self-service password reset page, or call the Service Desk.</p>',
  },
  {
    number: 'KB0000004',
    short_description: 'What to do when your laptop does not start',
    kb_category: 'devices',
    workflow_state: 'published',
    text: '<p>Connect the charger for 15 minutes, then hold the power button for 10 seconds.</p>',
  },
  {
    number: 'KB0000005',
    short_description: 'Wireless network troubleshooting',
    kb_category: 'network',
    workflow_state: 'draft',
    text: '<p>Forget the network, reconnect, and check whether other devices connect.</p>',
  },
];

/** Load a seed set; idempotent. */
export function loadSeedSet(set: SeedSet, store: TableStore, records: Records): SeedResult {
  if (set !== 'demo') throw new Error(`unknown seed set ${String(set)}`);
  const inserted: SeedResult = {};
  const admin = store.rows('sys_user').find((u) => u.user_name === 'admin');
  const actor: Actor = { userName: 'admin', sysId: admin?.sys_id ?? '', roles: ['admin'] };

  /** The row with this key's fixed sys_id, or the existing one matching `find`, else a new one. */
  const ensure = (table: string, key: string, fields: Fields, find?: (r: Row) => boolean): string => {
    const sysId = stableSysId(`demo:${table}:${key}`);
    const existing = store.get(table, sysId) ?? (find && store.rows(table).find(find));
    if (existing) return existing.sys_id;
    records.insert(table, { sys_id: sysId, ...fields }, actor, { seeding: true });
    inserted[table] = (inserted[table] ?? 0) + 1;
    return sysId;
  };

  store.docs.transaction(() => {
    const user = new Map<string, string>([['', '']]);
    for (const p of PEOPLE)
      user.set(
        p.user_name,
        ensure(
          'sys_user',
          p.user_name,
          { ...p, email: `${p.user_name}@example.com`, active: 'true' },
          (r) => r.user_name === p.user_name,
        ),
      );
    const group = new Map<string, string>();
    for (const g of GROUPS)
      group.set(
        g.name,
        ensure(
          'sys_user_group',
          g.name,
          { ...g, email: `${g.name.toLowerCase().replace(/\W+/g, '.')}@example.com`, active: 'true' },
          (r) => r.name === g.name,
        ),
      );
    const item = new Map<string, string>();
    for (const c of CATALOG_ITEMS) item.set(c.name, ensure('sc_cat_item', c.name, { ...c, active: 'true' }));
    seedAccessCatalog(ensure);

    for (const i of INCIDENTS) {
      const caller = user.get(i.caller_id)!;
      ensure('incident', i.number, {
        ...i,
        caller_id: caller,
        opened_by: caller,
        assignment_group: group.get(i.assignment_group)!,
        assigned_to: user.get(i.assigned_to ?? '')!,
      });
    }

    const request = new Map<string, Row>();
    for (const r of REQUESTS) {
      const requestedFor = user.get(r.requested_for)!;
      const sysId = ensure('sc_request', r.number, { ...r, requested_for: requestedFor, opened_by: requestedFor });
      request.set(r.number, store.get('sc_request', sysId)!);
    }
    for (const i of ITEMS) {
      const parent = request.get(i.request)!;
      ensure('sc_req_item', i.number, {
        ...i,
        request: parent.sys_id,
        requested_for: parent.requested_for,
        opened_by: parent.requested_for,
        cat_item: item.get(i.cat_item)!,
        short_description: i.cat_item,
        quantity: '1',
        assignment_group: group.get(i.assignment_group)!,
      });
    }

    const base = ensure('kb_knowledge_base', 'IT', {
      title: 'IT',
      description: 'General IT knowledge',
      active: 'true',
    });
    const category = new Map<string, string>();
    for (const c of KB_CATEGORIES)
      category.set(c.value, ensure('kb_category', c.value, { ...c, kb_knowledge_base: base, active: 'true' }));
    for (const a of ARTICLES)
      ensure('kb_knowledge', a.number, {
        ...a,
        kb_knowledge_base: base,
        kb_category: category.get(a.kb_category)!,
        author: user.get('beth.anglin')!,
        active: 'true',
      });
  });
  return inserted;
}
