/**
 * The building blocks of the sandbox's table definitions: column and table types, and the columns
 * every record (SYS_FIELDS) and every ticket (TASK_FIELDS, the `task` base table) has.
 * Everything is stored and returned as strings, like the real Table API.
 */

export type FieldType = 'string' | 'integer' | 'boolean' | 'datetime' | 'reference' | 'choice' | 'journal' | 'guid';

export interface FieldDef {
  type: FieldType;
  label: string;
  /** Referenced table for `reference` fields ('task' = any task table). */
  ref?: string;
  /**
   * The referenced table's column a reference holds, when it is not sys_id (sys_dictionary's
   * `reference` and `internal_type` hold a name: `reference=sys_user`).
   */
  refKey?: string;
  /** Written by the platform only (sys_* fields, priority, number after insert, ...). */
  readOnly?: boolean;
  /** sys_dictionary max_length of a base instance; records.ts stores varchar-sized ones (≤ 255) cut to it. */
  maxLength?: number;
  /**
   * sys_dictionary internal_type where the usual one for `type` is not it: numeric choice lists are
   * `integer`, HTML text `html`, the class and domain columns their own types (dictionary.ts).
   */
  internalType?: string;
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
  /** Extends `task` (sys_db_object super_class; its TASK_FIELDS are defined on `task` in sys_dictionary). */
  isTask: boolean;
  fields: Record<string, FieldDef>;
  states?: StateModel;
  /**
   * The rows are generated from these definitions (the dictionary tables, dictionary.ts): never
   * stored, and read-only through every API.
   */
  generated?: boolean;
}

export const f = (type: FieldType, label: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  type,
  label,
  ...extra,
});
export const ref = (table: string, label: string, extra: Partial<FieldDef> = {}): FieldDef =>
  f('reference', label, { ref: table, ...extra });
/** A choice list whose values are numbers (state, impact, ...): internal_type integer. */
export const intChoice = (label: string, extra: Partial<FieldDef> = {}): FieldDef =>
  f('choice', label, { internalType: 'integer', ...extra });

/** Columns every record has. */
export const SYS_FIELDS: Record<string, FieldDef> = {
  sys_id: f('guid', 'Sys ID', { readOnly: true }),
  sys_created_on: f('datetime', 'Created', { readOnly: true }),
  sys_created_by: f('string', 'Created by', { readOnly: true }),
  sys_updated_on: f('datetime', 'Updated', { readOnly: true }),
  sys_updated_by: f('string', 'Updated by', { readOnly: true }),
  sys_mod_count: f('integer', 'Updates', { readOnly: true }),
  sys_class_name: f('string', 'Class', { readOnly: true, internalType: 'sys_class_name', maxLength: 80 }),
  sys_domain: ref('sys_user_group', 'Domain', { readOnly: true, internalType: 'domain_id' }),
  sys_domain_path: f('string', 'Domain Path', { readOnly: true, internalType: 'domain_path', maxLength: 255 }),
  sys_tags: f('string', 'Tags', { readOnly: true }),
};

/** Columns of the `task` base table, shared by every ticket table. */
export const TASK_FIELDS: Record<string, FieldDef> = {
  number: f('string', 'Number'),
  state: intChoice('State'),
  active: f('boolean', 'Active', { readOnly: true }),
  short_description: f('string', 'Short description', { maxLength: 160 }),
  description: f('string', 'Description', { maxLength: 4000 }),
  impact: intChoice('Impact'),
  urgency: intChoice('Urgency'),
  priority: intChoice('Priority', { readOnly: true }),
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
