import { TASK_FIELDS, type FieldDef, type TableDef } from './fields.ts';
import { CONTENT_TABLE_DEFS } from './tables-content.ts';
import { PLATFORM_TABLE_DEFS } from './tables-platform.ts';
import { TASK_TABLE_DEFS } from './tables-task.ts';

/**
 * Table dictionary of the sandbox instance: which tables exist, their columns and column types,
 * number prefixes and the state model of each task table (fact sheet §1.4, §1.7). The definitions
 * are split by concern (tables-task.ts, tables-content.ts, tables-platform.ts); the instance serves
 * them as sys_db_object / sys_dictionary too (dictionary.ts).
 */

export type { FieldDef, FieldType, StateModel, TableDef } from './fields.ts';
export { TASK_FIELDS } from './fields.ts';

export const TABLES: Record<string, TableDef> = {
  ...TASK_TABLE_DEFS,
  ...CONTENT_TABLE_DEFS,
  ...PLATFORM_TABLE_DEFS,
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
