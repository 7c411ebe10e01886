import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './db.ts';

/**
 * A top-level text field of a JSON column, in each dialect's own syntax, for filters and GROUP BY
 * over `flow_state.state` (read pages and the overview count in SQL instead of loading every item).
 */
export function jsonText(dialect: Dialect, column: string, key: string): RawBuilder<string | null> {
  if (!/^[a-z_.]+$/i.test(column) || !/^[a-zA-Z]+$/.test(key)) throw new Error(`bad JSON field ${column}.${key}`);
  // The key is a literal, not a parameter: PostgreSQL matches a GROUP BY expression to the selected one
  // by its text, and `$1` in one and `$4` in the other would not be the same expression.
  return dialect === 'postgres'
    ? sql<string | null>`(${sql.ref(column)}::json ->> ${sql.lit(key)})`
    : sql<string | null>`json_extract(${sql.ref(column)}, ${sql.lit(`$.${key}`)})`;
}
