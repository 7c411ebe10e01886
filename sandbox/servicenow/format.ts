import type { Row, TableStore } from './store.ts';
import { TABLES, fieldOf, fieldPath, type FieldDef } from './tables.ts';

export type DisplayMode = 'false' | 'true' | 'all';

export interface FormatOptions {
  /** sysparm_fields (dot-walk allowed); undefined = every column. Unknown fields are ignored. */
  fields?: string[];
  display: DisplayMode;
  excludeRefLink: boolean;
}

/**
 * Turns stored rows into Table API JSON (fact sheet §1.4): every scalar a string, references as
 * `{"link","value"}` (or `""` when empty), display values from sys_choice labels and the
 * referenced record's display field, journal fields empty unless display values are asked for.
 */
export class Formatter {
  private labels = new Map<string, string>();
  private labelsVersion = -1;

  constructor(
    private readonly store: TableStore,
    /** Instance URL for reference links; set once the server listens. */
    public baseUrl: string,
  ) {}

  /** Table a row lives in (rows reached through a polymorphic 'task' reference carry their class). */
  private tableOf(row: Row, fallback: string): string {
    return fallback === 'task' ? row.sys_class_name : fallback;
  }

  /** Walk a dot-walk path; returns the last row, its table and the field name on it. */
  private walk(table: string, row: Row, path: string): { row: Row; table: string; field: string } | undefined {
    const parts = path.split('.');
    let t = table;
    let r: Row | undefined = row;
    for (let i = 0; i < parts.length - 1; i++) {
      const def = fieldOf(t, parts[i]);
      if (!def?.ref) return undefined;
      r = this.store.resolve(def, r[parts[i]] ?? '');
      if (!r) return undefined;
      t = this.tableOf(r, def.ref);
    }
    return { row: r, table: t, field: parts[parts.length - 1] };
  }

  /** Stored value at a (dot-walked) path; '' when a reference on the way is empty. */
  value(table: string, row: Row, path: string): string {
    if (!path.includes('.')) return row[path] ?? '';
    const w = this.walk(table, row, path);
    return w ? (w.row[w.field] ?? '') : '';
  }

  display(table: string, row: Row, path: string): string {
    const w = this.walk(table, row, path);
    if (!w) return '';
    const def = fieldOf(w.table, w.field);
    return def ? this.displayOf(w.table, w.row, w.field, def) : '';
  }

  /** The display value of a whole record (what a reference to it shows). */
  recordDisplay(table: string, row: Row | undefined): string {
    if (!row) return '';
    const t = this.tableOf(row, table);
    const df = TABLES[t]?.displayField ?? 'number';
    const def = fieldOf(t, df);
    if (def?.type === 'reference') return this.recordDisplay(def.ref!, this.store.resolve(def, row[df] ?? ''));
    return row[df] ?? '';
  }

  choiceLabel(table: string, field: string, value: string): string | undefined {
    if (this.labelsVersion !== this.store.choiceVersion) {
      this.labels.clear();
      for (const c of this.store.rows('sys_choice')) {
        if (c.inactive === 'true') continue;
        this.labels.set(`${c.name}.${c.element}.${c.value}`, c.label);
      }
      this.labelsVersion = this.store.choiceVersion;
    }
    return this.labels.get(`${table}.${field}.${value}`) ?? this.labels.get(`task.${field}.${value}`);
  }

  private displayOf(table: string, row: Row, field: string, def: FieldDef): string {
    const v = row[field] ?? '';
    switch (def.type) {
      case 'reference':
        if (v === '') return '';
        return this.recordDisplay(def.ref!, this.store.resolve(def, v)) || (field === 'sys_domain' ? v : '');
      case 'choice':
        return v === '' ? '' : (this.choiceLabel(table, field, v) ?? v);
      case 'journal':
        return this.journalText(row.sys_id, field);
      default:
        return v;
    }
  }

  /** Journal display value: newest first, `<date> - <user> (<Label>)\n<text>\n\n` per entry. */
  journalText(sysId: string, element: string): string {
    const label = element === 'work_notes' ? 'Work notes' : 'Additional comments';
    return this.store
      .journal(sysId)
      .filter((j) => j.element === element)
      .reverse()
      .map((j) => `${j.sys_created_on} - ${this.userDisplay(j.sys_created_by)} (${label})\n${j.value}\n\n`)
      .join('');
  }

  private userDisplay(userName: string): string {
    const u = this.store.rows('sys_user').find((r) => r.user_name === userName);
    return u?.name || userName;
  }

  /** One field of the response, in the shape asked for. */
  private cell(table: string, row: Row, path: string, opts: FormatOptions): unknown {
    const w = this.walk(table, row, path);
    const def = w && fieldOf(w.table, w.field);
    if (!w || !def) return '';
    const value = def.type === 'journal' ? '' : (w.row[w.field] ?? '');
    const isRef = def.type === 'reference';
    const link =
      isRef && value !== '' && !opts.excludeRefLink ? `${this.baseUrl}/api/now/table/${def.ref}/${value}` : undefined;
    if (opts.display === 'false') {
      if (!isRef || opts.excludeRefLink || value === '') return value;
      return { link, value };
    }
    const display = this.displayOf(w.table, w.row, w.field, def);
    if (opts.display === 'true') {
      if (!link) return display;
      return { display_value: display, link };
    }
    return link ? { display_value: display, link, value } : { display_value: display, value };
  }

  format(table: string, row: Row, opts: FormatOptions): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (!opts.fields) {
      const defs = TABLES[table].fields;
      // Fast path for the common list call (no display values): no dot-walk, no lookups.
      if (opts.display === 'false') {
        for (const name in defs) {
          const def = defs[name];
          const v = def.type === 'journal' ? '' : (row[name] ?? '');
          out[name] =
            def.type === 'reference' && v !== '' && !opts.excludeRefLink
              ? { link: `${this.baseUrl}/api/now/table/${def.ref}/${v}`, value: v }
              : v;
        }
        return out;
      }
      for (const name in defs) out[name] = this.cell(table, row, name, opts);
      return out;
    }
    for (const path of opts.fields) out[path] = this.cell(table, row, path, opts);
    return out;
  }

  /**
   * JSON text of one formatted row. The default shape (all columns, no display values) is cached
   * per row, which is what lets a client page through 100k records quickly.
   */
  formatJson(table: string, row: Row, opts: FormatOptions): string {
    if (opts.fields || opts.display !== 'false') return JSON.stringify(this.format(table, row, opts));
    const i = opts.excludeRefLink ? 1 : 0;
    let entry = this.store.serialCache.get(row);
    if (!entry) {
      entry = [undefined, undefined];
      this.store.serialCache.set(row, entry);
    }
    return (entry[i] ??= JSON.stringify(this.format(table, row, opts)));
  }

  /** Fill the JSON cache of a table in the background (after a bulk seed), a chunk per tick. */
  warm(table: string): void {
    const rows = this.store.rows(table);
    let i = 0;
    const step = () => {
      const end = Math.min(rows.length, i + 2000);
      for (; i < end; i++) this.formatJson(table, rows[i], { display: 'false', excludeRefLink: false });
      if (i < rows.length) setImmediate(step);
    };
    setImmediate(step);
  }

  /** sysparm_fields minus the fields that do not exist (the real instance ignores them). */
  static validFields(table: string, fields: string | undefined): string[] | undefined {
    if (fields === undefined || fields.trim() === '') return undefined;
    return fields
      .split(',')
      .map((s) => s.trim())
      .filter((p) => p !== '' && fieldPath(table, p) !== undefined);
  }
}
