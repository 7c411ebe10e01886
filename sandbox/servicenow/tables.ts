/**
 * Table dictionary of the sandbox instance: which tables exist, their columns and column types,
 * number prefixes and the state model of each task table (fact sheet §1.4, §1.7).
 * Everything is stored and returned as strings, like the real Table API.
 */

export type FieldType = 'string' | 'integer' | 'boolean' | 'datetime' | 'reference' | 'choice' | 'journal' | 'guid';

export interface FieldDef {
  type: FieldType;
  label: string;
  /** Referenced table for `reference` fields ('task' = any task table). */
  ref?: string;
  /** Written by the platform only (sys_* fields, priority, number after insert, ...). */
  readOnly?: boolean;
  /** sys_dictionary max_length of a base instance; records.ts stores varchar-sized ones (≤ 255) cut to it. */
  maxLength?: number;
}

export interface StateModel {
  /** States in which the record is no longer active (active = "false"). */
  inactive: string[];
  resolved: string[];
  closed: string[];
  canceled: string[];
  /** States that need the close-out fields (data policy), with the labels used in the error text. */
  closeOutStates: string[];
  closeOutFields: { field: string; label: string }[];
  /** States in which a non-admin can no longer update the record (closed incidents are read-only). */
  lockedStates: string[];
  defaultState: string;
}

export interface TableDef {
  name: string;
  label: string;
  /** Auto-number prefix and first counter value (INC0010001 → prefix INC, start 10001). */
  prefix?: string;
  counterStart?: number;
  /** Field shown as the reference display value. */
  displayField: string;
  isTask: boolean;
  fields: Record<string, FieldDef>;
  states?: StateModel;
}

const f = (type: FieldType, label: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type, label, ...extra });
const ref = (table: string, label: string, extra: Partial<FieldDef> = {}): FieldDef =>
  f('reference', label, { ref: table, ...extra });

/** Columns every record has. */
const SYS_FIELDS: Record<string, FieldDef> = {
  sys_id: f('guid', 'Sys ID', { readOnly: true }),
  sys_created_on: f('datetime', 'Created', { readOnly: true }),
  sys_created_by: f('string', 'Created by', { readOnly: true }),
  sys_updated_on: f('datetime', 'Updated', { readOnly: true }),
  sys_updated_by: f('string', 'Updated by', { readOnly: true }),
  sys_mod_count: f('integer', 'Updates', { readOnly: true }),
  sys_class_name: f('string', 'Class', { readOnly: true }),
  sys_domain: ref('sys_user_group', 'Domain', { readOnly: true }),
  sys_domain_path: f('string', 'Domain Path', { readOnly: true }),
  sys_tags: f('string', 'Tags', { readOnly: true }),
};

/** Columns of the `task` base table, shared by every ticket table. */
const TASK_FIELDS: Record<string, FieldDef> = {
  number: f('string', 'Number'),
  state: f('choice', 'State'),
  active: f('boolean', 'Active', { readOnly: true }),
  short_description: f('string', 'Short description', { maxLength: 160 }),
  description: f('string', 'Description', { maxLength: 4000 }),
  impact: f('choice', 'Impact'),
  urgency: f('choice', 'Urgency'),
  priority: f('choice', 'Priority', { readOnly: true }),
  assigned_to: ref('sys_user', 'Assigned to'),
  assignment_group: ref('sys_user_group', 'Assignment group'),
  opened_at: f('datetime', 'Opened'),
  opened_by: ref('sys_user', 'Opened by'),
  resolved_at: f('datetime', 'Resolved'),
  resolved_by: ref('sys_user', 'Resolved by'),
  closed_at: f('datetime', 'Closed'),
  closed_by: ref('sys_user', 'Closed by'),
  close_code: f('choice', 'Resolution code'),
  close_notes: f('string', 'Resolution notes', { maxLength: 4000 }),
  correlation_id: f('string', 'Correlation ID', { maxLength: 100 }),
  correlation_display: f('string', 'Correlation display', { maxLength: 100 }),
  approval: f('choice', 'Approval'),
  due_date: f('datetime', 'Due date'),
  work_notes: f('journal', 'Work notes', { maxLength: 4000 }),
  comments: f('journal', 'Additional comments', { maxLength: 4000 }),
  ...SYS_FIELDS,
};

const INCIDENT_STATES: StateModel = {
  inactive: ['7', '8'],
  resolved: ['6'],
  closed: ['7'],
  canceled: ['8'],
  closeOutStates: ['6', '7'],
  closeOutFields: [
    { field: 'close_code', label: 'Resolution code' },
    { field: 'close_notes', label: 'Resolution notes' },
  ],
  lockedStates: ['7', '8'],
  defaultState: '1',
};

const CHANGE_STATES: StateModel = {
  inactive: ['3', '4'],
  resolved: [],
  closed: ['3'],
  canceled: ['4'],
  closeOutStates: ['3'],
  closeOutFields: [
    { field: 'close_code', label: 'Close code' },
    { field: 'close_notes', label: 'Close notes' },
  ],
  lockedStates: [],
  defaultState: '-5',
};

const PROBLEM_STATES: StateModel = {
  inactive: ['107'],
  resolved: ['106'],
  closed: ['107'],
  canceled: [],
  closeOutStates: [],
  closeOutFields: [],
  lockedStates: [],
  defaultState: '101',
};

/**
 * sc_request / sc_req_item / sc_task use the standard task states of the base `task` table:
 * 1 Open, 2 Work in Progress, 3 Closed Complete, 4 Closed Incomplete, 7 Closed Skipped
 * (-5 Pending exists on real instances; not modelled). No close code, so no data policy.
 */
const TASK_STATES: StateModel = {
  inactive: ['3', '4', '7'],
  resolved: [],
  closed: ['3', '4', '7'],
  canceled: ['4'],
  closeOutStates: [],
  closeOutFields: [],
  lockedStates: [],
  defaultState: '1',
};

export const TABLES: Record<string, TableDef> = {
  incident: {
    name: 'incident',
    label: 'Incident',
    prefix: 'INC',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: INCIDENT_STATES,
    fields: {
      ...TASK_FIELDS,
      caller_id: ref('sys_user', 'Caller'),
      category: f('choice', 'Category'),
      subcategory: f('string', 'Subcategory'),
      incident_state: f('choice', 'Incident state', { readOnly: true }),
      hold_reason: f('choice', 'On hold reason'),
      reopen_count: f('integer', 'Reopen count', { readOnly: true }),
      problem_id: ref('problem', 'Problem'),
      rfc: ref('change_request', 'Change Request'),
    },
  },
  change_request: {
    name: 'change_request',
    label: 'Change Request',
    prefix: 'CHG',
    counterStart: 30001,
    displayField: 'number',
    isTask: true,
    states: CHANGE_STATES,
    fields: {
      ...TASK_FIELDS,
      type: f('choice', 'Type'),
      risk: f('choice', 'Risk'),
      category: f('string', 'Category'),
      requested_by: ref('sys_user', 'Requested by'),
      start_date: f('datetime', 'Planned start date'),
      end_date: f('datetime', 'Planned end date'),
    },
  },
  problem: {
    name: 'problem',
    label: 'Problem',
    prefix: 'PRB',
    counterStart: 40001,
    displayField: 'number',
    isTask: true,
    states: PROBLEM_STATES,
    fields: {
      ...TASK_FIELDS,
      problem_statement: f('string', 'Problem statement'),
      resolution_code: f('choice', 'Resolution code'),
      cause_notes: f('string', 'Cause notes'),
      fix_notes: f('string', 'Fix notes'),
      known_error: f('boolean', 'Known error'),
    },
  },
  sc_request: {
    name: 'sc_request',
    label: 'Request',
    prefix: 'REQ',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      requested_for: ref('sys_user', 'Requested for'),
      request_state: f('choice', 'Request state'),
      stage: f('choice', 'Stage'),
    },
  },
  sc_req_item: {
    name: 'sc_req_item',
    label: 'Requested Item',
    prefix: 'RITM',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      request: ref('sc_request', 'Request'),
      requested_for: ref('sys_user', 'Requested for'),
      cat_item: f('string', 'Item'),
      quantity: f('integer', 'Quantity'),
      stage: f('choice', 'Stage'),
    },
  },
  sc_task: {
    name: 'sc_task',
    label: 'Catalog Task',
    prefix: 'SCTASK',
    counterStart: 10001,
    displayField: 'number',
    isTask: true,
    states: TASK_STATES,
    fields: {
      ...TASK_FIELDS,
      request: ref('sc_request', 'Request'),
      request_item: ref('sc_req_item', 'Request item'),
      requested_for: ref('sys_user', 'Requested for'),
    },
  },
  sys_user: {
    name: 'sys_user',
    label: 'User',
    displayField: 'name',
    isTask: false,
    fields: {
      user_name: f('string', 'User ID'),
      first_name: f('string', 'First name'),
      last_name: f('string', 'Last name'),
      name: f('string', 'Name', { readOnly: true }),
      email: f('string', 'Email'),
      title: f('string', 'Title'),
      department: f('string', 'Department'),
      manager: ref('sys_user', 'Manager'),
      // Computed from sys_user_has_role (roles.ts keeps it in step); clients read the role tables.
      roles: f('string', 'Roles', { readOnly: true }),
      active: f('boolean', 'Active'),
      locked_out: f('boolean', 'Locked out'),
      ...SYS_FIELDS,
    },
  },
  sys_user_group: {
    name: 'sys_user_group',
    label: 'Group',
    displayField: 'name',
    isTask: false,
    fields: {
      name: f('string', 'Name'),
      description: f('string', 'Description'),
      email: f('string', 'Group email'),
      manager: ref('sys_user', 'Manager'),
      active: f('boolean', 'Active'),
      ...SYS_FIELDS,
    },
  },
  sys_choice: {
    name: 'sys_choice',
    label: 'Choice',
    displayField: 'label',
    isTask: false,
    fields: {
      name: f('string', 'Table'),
      element: f('string', 'Element'),
      value: f('string', 'Value'),
      label: f('string', 'Label'),
      sequence: f('integer', 'Sequence'),
      language: f('string', 'Language'),
      inactive: f('boolean', 'Inactive'),
      dependent_value: f('string', 'Dependent value'),
      ...SYS_FIELDS,
    },
  },
  sysapproval_approver: {
    name: 'sysapproval_approver',
    label: 'Approval',
    displayField: 'approver',
    isTask: false,
    fields: {
      approver: ref('sys_user', 'Approver'),
      sysapproval: ref('task', 'Approval for'),
      document_id: f('string', 'Approving'),
      source_table: f('string', 'Source table'),
      state: f('choice', 'State'),
      comments: f('journal', 'Comments'),
      due_date: f('datetime', 'Due date'),
      ...SYS_FIELDS,
    },
  },
  sys_user_role: {
    name: 'sys_user_role',
    label: 'Role',
    displayField: 'name',
    isTask: false,
    fields: {
      name: f('string', 'Name'),
      description: f('string', 'Description'),
      ...SYS_FIELDS,
    },
  },
  sys_user_has_role: {
    name: 'sys_user_has_role',
    label: 'User Role',
    displayField: 'role',
    isTask: false,
    fields: {
      user: ref('sys_user', 'User'),
      role: ref('sys_user_role', 'Role'),
      /** `active` grants count; `requested` / `pending` ones do not. */
      state: f('choice', 'State'),
      inherited: f('boolean', 'Inherited'),
      ...SYS_FIELDS,
    },
  },
  sys_properties: {
    name: 'sys_properties',
    label: 'System Property',
    displayField: 'name',
    isTask: false,
    fields: {
      name: f('string', 'Name'),
      /** For type password2 this holds the encrypted value (see vault.ts), never the clear text. */
      value: f('string', 'Value'),
      type: f('choice', 'Type'),
      description: f('string', 'Description'),
      ...SYS_FIELDS,
    },
  },
  sys_script: {
    name: 'sys_script',
    label: 'Business Rule',
    displayField: 'name',
    isTask: false,
    fields: {
      name: f('string', 'Name'),
      collection: f('string', 'Table'),
      when: f('choice', 'When'),
      action_insert: f('boolean', 'Insert'),
      action_update: f('boolean', 'Update'),
      action_delete: f('boolean', 'Delete'),
      action_query: f('boolean', 'Query'),
      active: f('boolean', 'Active'),
      advanced: f('boolean', 'Advanced'),
      condition: f('string', 'Condition'),
      script: f('string', 'Script'),
      order: f('integer', 'Order'),
      description: f('string', 'Description'),
      ...SYS_FIELDS,
    },
  },
  sys_journal_field: {
    name: 'sys_journal_field',
    label: 'Journal Entry',
    displayField: 'value',
    isTask: false,
    fields: {
      element_id: f('guid', 'Element ID'),
      name: f('string', 'Table name'),
      element: f('string', 'Element'),
      value: f('string', 'Value'),
      ...SYS_FIELDS,
    },
  },
};

export const TASK_TABLES = Object.values(TABLES)
  .filter((t) => t.isTask)
  .map((t) => t.name);

/** Priority lookup rules (dl_u_priority), fact sheet §1.7: impact × urgency → priority. */
export function priorityFor(impact: string, urgency: string): string {
  const i = Number(impact);
  const u = Number(urgency);
  if (![1, 2, 3].includes(i) || ![1, 2, 3].includes(u)) return '5';
  return String(Math.min(5, i + u - 1));
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, the Table API's date format. */
export function snDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Parse the canonical format (UTC) back to epoch ms; NaN if it is not a date. */
export function parseSnDate(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/.exec(s);
  if (m) return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  return Date.parse(s);
}

/** Resolve a dot-walk path (`caller_id.manager.email`) to the field definitions along it. */
export function fieldPath(table: string, path: string): { defs: FieldDef[]; tables: string[] } | undefined {
  const defs: FieldDef[] = [];
  const tables: string[] = [];
  let t = table;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const def = fieldOf(t, parts[i]);
    if (!def) return undefined;
    defs.push(def);
    tables.push(t);
    if (i < parts.length - 1) {
      if (def.type !== 'reference' || !def.ref) return undefined;
      t = def.ref;
    }
  }
  return { defs, tables };
}

/** A field of a table; 'task' (polymorphic reference target) knows the base task columns. */
export function fieldOf(table: string, field: string): FieldDef | undefined {
  if (table === 'task') return TASK_FIELDS[field];
  return TABLES[table]?.fields[field];
}
