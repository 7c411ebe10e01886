import { createHash } from 'node:crypto';
import type { FieldDef, FieldType, TableDef } from './fields.ts';
import type { Row } from './store.ts';
import { TABLES, TASK_FIELDS } from './tables.ts';

/**
 * The system dictionary, generated from the sandbox's own table definitions, as a real instance
 * serves it through the Table API:
 *
 * - `sys_db_object`: one row per table (`name`, `label`, `super_class` = reference to the parent
 *   table's sys_db_object row, `is_extendable`). The ticket tables extend `task`.
 * - `sys_dictionary`: one row per column (`name` = table, `element`, `column_label`,
 *   `internal_type`, `max_length`, `mandatory`, `read_only`, `reference`, `display`, `choice`),
 *   plus the table's "collection" row (empty element). Columns a table inherits from `task` are
 *   defined on `name=task`, its own on its own name. `internal_type` and `reference` are references
 *   keyed by name (`reference=sys_user`), as on a real instance.
 * - `sys_glide_object`: the field types those rows name.
 *
 * Rows are never stored: their sys_ids are derived from what they describe, so they are the same
 * on every start and every sandbox. The tables are read-only (records.ts refuses every write).
 */

/** The `task` base table: not served by the sandbox's Table API, but the parent of every ticket table. */
const TASK_TABLE: TableDef = {
  name: 'task',
  label: 'Task',
  displayField: 'number',
  isTask: false,
  fields: TASK_FIELDS,
};

const INTERNAL_TYPE: Record<FieldType, string> = {
  string: 'string',
  integer: 'integer',
  boolean: 'boolean',
  datetime: 'glide_date_time',
  reference: 'reference',
  choice: 'string',
  journal: 'journal_input',
  guid: 'GUID',
};

/** Labels of the field classes (sys_glide_object) the definitions use. */
const TYPE_LABELS: Record<string, string> = {
  collection: 'Collection',
  string: 'String',
  integer: 'Integer',
  boolean: 'True/False',
  glide_date_time: 'Date/Time',
  reference: 'Reference',
  journal_input: 'Journal Input',
  GUID: 'Sys ID (GUID)',
  html: 'HTML',
  sys_class_name: 'System Class Name',
  domain_id: 'Domain ID',
  domain_path: 'Domain Path',
  table_name: 'Table Name',
  document_id: 'Document ID',
  script_plain: 'Script (Plain)',
  workflow: 'Workflow',
};

/** max_length of a column whose definition gives none: the type's default size. */
const DEFAULT_MAX_LENGTH: Record<string, number> = { reference: 32, GUID: 32, domain_id: 32, journal_input: 4000 };

export const internalTypeOf = (d: FieldDef): string => d.internalType ?? INTERNAL_TYPE[d.type];
export const maxLengthOf = (d: FieldDef): number => d.maxLength ?? DEFAULT_MAX_LENGTH[internalTypeOf(d)] ?? 40;

/** A fixed 32-hex sys_id for what a generated row describes. */
export const stableSysId = (key: string): string => createHash('md5').update(`sn-sandbox:${key}`).digest('hex');

/** When the base system "created" the dictionary (a fixed date: the rows never change). */
const INSTALLED_ON = '2024-01-01 00:00:00';

function row(table: string, key: string, values: Record<string, string>): Row {
  const out: Row = {};
  for (const [name, fd] of Object.entries(TABLES[table].fields)) out[name] = fd.type === 'boolean' ? 'false' : '';
  return Object.assign(out, {
    sys_id: stableSysId(`${table}:${key}`),
    sys_created_on: INSTALLED_ON,
    sys_created_by: 'system',
    sys_updated_on: INSTALLED_ON,
    sys_updated_by: 'system',
    sys_mod_count: '0',
    sys_class_name: table,
    sys_domain: 'global',
    sys_domain_path: '/',
    ...values,
  });
}

/** The tables the dictionary describes: `task`, then every table the sandbox serves. */
const described = (): TableDef[] => [TASK_TABLE, ...Object.values(TABLES)];

/** Columns defined on the table itself: a ticket table's TASK_FIELDS are `task`'s. */
function ownFields(t: TableDef): [string, FieldDef][] {
  return Object.entries(t.fields).filter(([name, def]) => !t.isTask || TASK_FIELDS[name] !== def);
}

function tableRows(): Row[] {
  return described().map((t) =>
    row('sys_db_object', t.name, {
      name: t.name,
      label: t.label,
      super_class: t.isTask ? stableSysId('sys_db_object:task') : '',
      is_extendable: String(t === TASK_TABLE),
    }),
  );
}

function columnRows(): Row[] {
  const rows: Row[] = [];
  for (const t of described()) {
    rows.push(
      row('sys_dictionary', `${t.name}.`, {
        name: t.name,
        column_label: t.label,
        internal_type: 'collection',
        max_length: '40',
        active: 'true',
      }),
    );
    for (const [element, def] of ownFields(t)) {
      rows.push(
        row('sys_dictionary', `${t.name}.${element}`, {
          name: t.name,
          element,
          column_label: def.label,
          internal_type: internalTypeOf(def),
          max_length: String(maxLengthOf(def)),
          read_only: String(!!def.readOnly),
          reference: def.ref ?? '',
          display: String(element === t.displayField),
          choice: def.type === 'choice' ? '1' : '',
          active: 'true',
        }),
      );
    }
  }
  return rows;
}

function typeRows(): Row[] {
  const used = new Set(['collection']);
  for (const t of described()) for (const [, def] of ownFields(t)) used.add(internalTypeOf(def));
  return [...used].map((name) => row('sys_glide_object', name, { name, label: TYPE_LABELS[name] ?? name }));
}

const GENERATORS: Record<string, () => Row[]> = {
  sys_db_object: tableRows,
  sys_dictionary: columnRows,
  sys_glide_object: typeRows,
};

/** The rows of a generated table (TableDef.generated). */
export function generatedRows(table: string): Row[] {
  const make = GENERATORS[table];
  if (!make) throw new Error(`${table} is not a generated table`);
  return make();
}
