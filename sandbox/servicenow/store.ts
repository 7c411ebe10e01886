import type { DocStore } from '../shared/persist.ts';
import { generatedRows } from './dictionary.ts';
import { TABLES, TASK_TABLES, type FieldDef } from './tables.ts';

/** One stored row: every value a string; references hold the target sys_id (name-keyed ones its name). */
export type Row = Record<string, string>;

/**
 * The instance's tables, held in memory (a Map per table, whose iteration order is insertion
 * order) and written through to the DocStore on every change. The client benchmark pages through
 * 100,000 incidents, so reads must never touch SQLite or re-sort when no ORDERBY is given.
 */
export class TableStore {
  private readonly tables = new Map<string, Map<string, Row>>();
  /** Insertion-ordered snapshot per table, rebuilt lazily after a delete. */
  private readonly arrays = new Map<string, Row[] | undefined>();
  /** Bumped on every sys_choice change so cached choice labels are rebuilt. */
  choiceVersion = 0;
  /** Journal entries by element_id, built lazily; dropped on any journal change. */
  private journalIndex: Map<string, Row[]> | undefined;
  private readonly versions = new Map<string, number>();
  /**
   * correlation_id → sys_ids per table, add-only (a row is indexed under every value it was saved
   * with; readers re-check the row). Integrations look tickets up by correlation id before every
   * create, and a scan per lookup would make creating N tickets cost N².
   */
  private readonly correlation = new Map<string, Map<string, Set<string>>>();
  /** Serialized default JSON per row (with / without reference links); dropped when the row is saved. */
  readonly serialCache = new WeakMap<Row, [string | undefined, string | undefined]>();

  constructor(readonly docs: DocStore) {
    for (const [name, def] of Object.entries(TABLES)) {
      const m = new Map<string, Row>();
      // The dictionary tables are generated from the definitions, never stored.
      for (const row of def.generated ? generatedRows(name) : docs.iterate<Row>(coll(name))) m.set(row.sys_id, row);
      this.tables.set(name, m);
    }
  }

  has(table: string): boolean {
    return this.tables.has(table);
  }

  get(table: string, sysId: string): Row | undefined {
    if (table === 'task') {
      for (const t of TASK_TABLES) {
        const r = this.tables.get(t)!.get(sysId);
        if (r) return r;
      }
      return undefined;
    }
    return this.tables.get(table)?.get(sysId);
  }

  /** The record a reference value points at: by sys_id, or by the column the reference is keyed on. */
  resolve(def: FieldDef, value: string): Row | undefined {
    if (!def.ref || value === '') return undefined;
    if (!def.refKey) return this.get(def.ref, value);
    return this.rows(def.ref).find((r) => r[def.refKey!] === value);
  }

  /** All rows of a table in insertion order (do not mutate the array). */
  rows(table: string): Row[] {
    let a = this.arrays.get(table);
    if (!a) {
      a = [...(this.tables.get(table)?.values() ?? [])];
      this.arrays.set(table, a);
    }
    return a;
  }

  count(table: string): number {
    return this.tables.get(table)?.size ?? 0;
  }

  insert(table: string, row: Row): void {
    this.tables.get(table)!.set(row.sys_id, row);
    this.indexCorrelation(table, row);
    this.arrays.get(table)?.push(row);
    this.docs.put(coll(table), row.sys_id, row);
    this.touched(table);
  }

  /** Rows are updated in place (the Map and the array share the object), then persisted. */
  save(table: string, row: Row): void {
    this.serialCache.delete(row);
    this.indexCorrelation(table, row);
    this.docs.put(coll(table), row.sys_id, row);
    this.touched(table);
  }

  delete(table: string, sysId: string): Row | undefined {
    const m = this.tables.get(table)!;
    const row = m.get(sysId);
    if (!row) return undefined;
    m.delete(sysId);
    this.arrays.set(table, undefined);
    this.docs.delete(coll(table), sysId);
    this.touched(table);
    return row;
  }

  /** Drop every row of a table (admin reset); no business rules, no webhooks. */
  clear(table: string): number {
    const m = this.tables.get(table)!;
    const n = m.size;
    this.docs.transaction(() => {
      for (const id of m.keys()) this.docs.delete(coll(table), id);
    });
    m.clear();
    this.arrays.set(table, undefined);
    this.touched(table);
    return n;
  }

  /** Rows whose correlation_id is exactly `value`, in insertion order. */
  byCorrelationId(table: string, value: string): Row[] {
    let idx = this.correlation.get(table);
    if (!idx) {
      idx = new Map();
      this.correlation.set(table, idx);
      for (const r of this.rows(table)) this.indexCorrelation(table, r);
    }
    const m = this.tables.get(table)!;
    const rows = [...(idx.get(value) ?? [])]
      .map((id) => m.get(id))
      .filter((r): r is Row => !!r && r.correlation_id === value);
    return rows;
  }

  private indexCorrelation(table: string, row: Row): void {
    const idx = this.correlation.get(table);
    const v = row.correlation_id;
    if (!idx || !v) return;
    const set = idx.get(v);
    if (set) set.add(row.sys_id);
    else idx.set(v, new Set([row.sys_id]));
  }

  /** Write version per table: cached query results are valid while it is unchanged. */
  version(table: string): number {
    return this.versions.get(table) ?? 0;
  }

  private touched(table: string): void {
    this.versions.set(table, this.version(table) + 1);
    if (table === 'sys_choice') this.choiceVersion++;
    if (table === 'sys_journal_field') this.journalIndex = undefined;
  }

  /** Journal entries (work notes, comments) of one record, oldest first. */
  journal(elementId: string): Row[] {
    if (!this.journalIndex) {
      const idx = new Map<string, Row[]>();
      for (const r of this.rows('sys_journal_field')) {
        const list = idx.get(r.element_id);
        if (list) list.push(r);
        else idx.set(r.element_id, [r]);
      }
      this.journalIndex = idx;
    }
    return this.journalIndex.get(elementId) ?? [];
  }

  /** Next auto-number for a table: prefix + counter, at least 7 digits. */
  nextNumber(table: string): string {
    const def = TABLES[table];
    if (!def.prefix) return '';
    const n = this.docs.nextCounter(`number:${table}`, def.counterStart ?? 1);
    return def.prefix + String(n).padStart(7, '0');
  }
}

const coll = (table: string) => `sn:${table}`;
