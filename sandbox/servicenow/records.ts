import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/engine/clock.ts';
import type { Formatter } from './format.ts';
import type { Row, TableStore } from './store.ts';
import { TABLES, priorityFor, snDate, type FieldDef, type TableDef } from './tables.ts';
import type { Vault } from './vault.ts';

/** Who is acting: the authenticated user (sys_updated_by, ACLs, opened_by). */
export interface Actor {
  userName: string;
  sysId: string;
  roles: string[];
}

/** A Table API failure with ServiceNow's error envelope. */
export class SnError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: string | null,
  ) {
    super(message);
  }
  body() {
    return { error: { message: this.message, detail: this.detail }, status: 'failure' };
  }
}

export const notFound = () =>
  new SnError(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
const aclDenied = (op: 'Insert' | 'Update' | 'Delete') =>
  new SnError(403, 'Operation Failed', `ACL Exception ${op} Failed due to security constraints`);

export type Operation = 'insert' | 'update' | 'delete';
export type ChangeListener = (table: string, op: Operation, row: Row) => void;

export interface WriteOptions {
  /** sysparm_input_display_value: choice labels are accepted in place of values. */
  inputDisplay?: boolean;
  /** Bulk seeding: no change notifications (webhooks), sys_* fields may be given. */
  seeding?: boolean;
}

export const newSysId = () => randomBytes(16).toString('hex');
const SYS_ID_RE = /^[0-9a-f]{32}$/;

const isAdmin = (a: Actor) => a.roles.includes('admin');
const isAgent = (a: Actor) => isAdmin(a) || a.roles.includes('itil');

/**
 * Write ACLs: itil may write tickets, approvals and journal entries; the other tables need admin.
 * The generated dictionary tables (sys_dictionary, sys_db_object, sys_glide_object) refuse everyone.
 */
function canWrite(actor: Actor, table: string): boolean {
  if (TABLES[table].generated) return false;
  if (isAdmin(actor)) return true;
  if (!isAgent(actor)) return false;
  return TABLES[table].isTask || table === 'sysapproval_approver' || table === 'sys_journal_field';
}

/**
 * Inserts, updates and deletes with the instance's business rules: auto-numbering, sys_* fields,
 * priority lookup, state → active, resolved/closed stamps, the close-out data policy, journal
 * fields, and change notifications. The Table API and the web UI both write through here.
 */
export class Records {
  readonly listeners: ChangeListener[] = [];

  constructor(
    private readonly store: TableStore,
    private readonly clock: Clock,
    private readonly fmt: Formatter,
    private readonly vault: Vault,
  ) {}

  private now(): string {
    return snDate(this.clock.now());
  }

  private emit(table: string, op: Operation, row: Row): void {
    for (const l of this.listeners) l(table, op, row);
  }

  /** Turn one input value into the stored string, or undefined to leave the field alone. */
  private coerce(table: string, field: string, def: FieldDef, input: unknown, opts: WriteOptions): string | undefined {
    let v: unknown = input;
    if (v !== null && typeof v === 'object') v = (v as { value?: unknown }).value ?? '';
    const s = v === null || v === undefined ? '' : String(v);
    switch (def.type) {
      case 'boolean':
        return s === 'true' || s === '1' ? 'true' : 'false';
      case 'choice': {
        if (s === '') return undefined; // empty string does not clear a choice field (§1.1)
        if (opts.inputDisplay) {
          const c = this.store.rows('sys_choice').find((r) => r.name === table && r.element === field && r.label === s);
          if (c) return c.value;
        }
        return s;
      }
      case 'reference': {
        if (s === '' || this.store.resolve(def, s)) return s;
        // Like the real instance, a non-sys_id value is looked up by the target's display value.
        const target = def.ref === 'task' ? undefined : TABLES[def.ref!];
        const hit = target && this.store.rows(target.name).find((r) => r[target.displayField] === s);
        return hit ? hit.sys_id : s;
      }
      case 'datetime': {
        if (s === '' || /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return s;
        const t = Date.parse(s);
        return Number.isNaN(t) ? s : snDate(t);
      }
      default:
        // Like a real instance (KB0685779): max_length is not enforced, but a short string column is
        // a varchar of that size, so longer input is cut; long text columns keep the whole value.
        return def.maxLength !== undefined && def.maxLength <= 255 ? s.slice(0, def.maxLength) : s;
    }
  }

  /** Copy writable input fields onto `next`; journal fields are returned separately. */
  private apply(def: TableDef, next: Row, input: Record<string, unknown>, opts: WriteOptions, inserting: boolean) {
    const journal: { element: string; value: string }[] = [];
    for (const [name, raw] of Object.entries(input ?? {})) {
      const fd = def.fields[name];
      if (!fd) continue; // unknown fields are ignored
      if (fd.type === 'journal') {
        const text = raw === null || raw === undefined ? '' : String(raw);
        if (text !== '') journal.push({ element: name, value: text });
        continue;
      }
      // sys_* and computed fields are not writable; a client may choose the sys_id (and number)
      // of a new record; bulk seeding may also set sys_created_on / sys_updated_on etc.
      if (name === 'number' && !inserting) continue;
      const ownSysId = inserting && name === 'sys_id' && SYS_ID_RE.test(String(raw));
      const seedable = opts.seeding && name.startsWith('sys_') && name !== 'sys_id';
      if (fd.readOnly && !ownSysId && !seedable) continue;
      const v = this.coerce(def.name, name, fd, raw, opts);
      if (v !== undefined) next[name] = v;
    }
    return journal;
  }

  /** Business rules run before every save; throws SnError for data-policy violations. */
  private rules(def: TableDef, prev: Row | undefined, next: Row, actor: Actor): void {
    if (def.name === 'sys_user')
      next.name = [next.first_name, next.last_name].filter(Boolean).join(' ') || next.name || next.user_name;
    // The dictionary defaults of the platform tables.
    if (def.name === 'sys_script') {
      next.when ||= 'before';
      next.order ||= '100';
    }
    if (def.name === 'sys_properties') next.type ||= 'string';
    if (def.name === 'sys_user_has_role') next.state ||= 'active';
    const sm = def.states;
    if (!sm) return;
    if (next.state === '') next.state = sm.defaultState;
    if (next.impact === '') next.impact = '3';
    if (next.urgency === '') next.urgency = '3';
    next.priority = priorityFor(next.impact, next.urgency);
    if (def.name === 'incident') next.incident_state = next.state;
    next.active = sm.inactive.includes(next.state) ? 'false' : 'true';

    const now = this.now();
    const stateChanged = !prev || prev.state !== next.state;
    if (stateChanged && (sm.resolved.includes(next.state) || sm.closed.includes(next.state))) {
      if (next.resolved_at === '' && (sm.resolved.includes(next.state) || def.name === 'incident')) {
        next.resolved_at = now;
        next.resolved_by = actor.sysId;
      }
      if (sm.closed.includes(next.state) && next.closed_at === '') {
        next.closed_at = now;
        next.closed_by = actor.sysId;
      }
    }
    const wasDone = prev && (sm.resolved.includes(prev.state) || sm.inactive.includes(prev.state));
    const isOpen = !sm.resolved.includes(next.state) && !sm.inactive.includes(next.state);
    if (wasDone && isOpen) {
      // Reopened: the resolution stamps go, the reopen is counted.
      next.resolved_at = next.resolved_by = next.closed_at = next.closed_by = '';
      if (def.name === 'incident') next.reopen_count = String(Number(next.reopen_count || 0) + 1);
    }

    // Data policy: close-out fields are mandatory in the close-out states.
    if (sm.closeOutStates.includes(next.state)) {
      const missing = sm.closeOutFields.filter((f) => (next[f.field] ?? '') === '').map((f) => f.label);
      if (missing.length > 0) {
        throw new SnError(
          403,
          'Operation Failed',
          `Data Policy Exception: The following fields are mandatory: ${missing.join(', ')}`,
        );
      }
    }
    // No check against sys_choice: the Table API stores a choice value that is not in the list as
    // given (only data policies and business rules refuse); validating close codes is the client's job.
  }

  /**
   * A password2 property stores its value encrypted. Clear text is accepted only as a display
   * value (`sysparm_input_display_value=true`, §1.2); otherwise the value is stored as given,
   * taken to be encrypted already, as the real instance does.
   */
  private seal(table: string, next: Row, input: Record<string, unknown>, opts: WriteOptions): void {
    if (table !== 'sys_properties' || next.type !== 'password2' || !opts.inputDisplay) return;
    if (input && 'value' in input && next.value !== '') next.value = this.vault.encrypt(next.value);
  }

  private blankRow(def: TableDef): Row {
    const row: Row = {};
    for (const [name, fd] of Object.entries(def.fields)) row[name] = fd.type === 'boolean' ? 'false' : '';
    return row;
  }

  insert(table: string, input: Record<string, unknown>, actor: Actor, opts: WriteOptions = {}): Row {
    const def = TABLES[table];
    if (def.generated || (!opts.seeding && !canWrite(actor, table))) throw aclDenied('Insert');
    const row = this.blankRow(def);
    const now = this.now();
    Object.assign(row, {
      sys_class_name: table,
      sys_domain: 'global',
      sys_domain_path: '/',
      sys_created_on: now,
      sys_created_by: actor.userName,
      sys_updated_on: now,
      sys_updated_by: actor.userName,
      sys_mod_count: '0',
    });
    if ('active' in def.fields) row.active = 'true';
    if (def.isTask) Object.assign(row, { opened_at: now, opened_by: actor.sysId });
    if (table === 'incident') row.reopen_count = '0';
    if (table === 'sys_choice') Object.assign(row, { language: 'en', inactive: 'false' });
    const journal = this.apply(def, row, input, opts, true);
    this.seal(table, row, input, opts);
    if (!row.sys_id) row.sys_id = newSysId();
    if (this.store.get(table, row.sys_id))
      throw new SnError(403, 'Operation Failed', 'Error during insert of ' + table + ' (duplicate sys_id)');
    this.rules(def, undefined, row, actor);
    if (def.prefix && !row.number) row.number = this.store.nextNumber(table);
    this.store.insert(table, row);
    this.addJournal(table, row, journal, actor);
    if (!opts.seeding) this.emit(table, 'insert', row);
    return row;
  }

  update(table: string, sysId: string, input: Record<string, unknown>, actor: Actor, opts: WriteOptions = {}): Row {
    const def = TABLES[table];
    const row = this.store.get(table, sysId);
    if (!row) throw notFound();
    // An approver may decide their own approval row (the base ACL on sysapproval_approver).
    const ownApproval = table === 'sysapproval_approver' && row.approver !== '' && row.approver === actor.sysId;
    if (!canWrite(actor, table) && !ownApproval) throw aclDenied('Update');
    // Closed/canceled incidents are read-only for everyone but admin (base-instance ACL).
    if (def.states?.lockedStates.includes(row.state) && !isAdmin(actor)) throw aclDenied('Update');
    const next = { ...row };
    const journal = this.apply(def, next, input, opts, false);
    this.seal(table, next, input, opts);
    this.rules(def, row, next, actor);
    const changed = Object.keys(next).some((k) => next[k] !== row[k]);
    if (!changed && journal.length === 0) return row; // a no-op update is not a write
    next.sys_updated_on = this.now();
    next.sys_updated_by = actor.userName;
    next.sys_mod_count = String(Number(row.sys_mod_count || 0) + 1);
    Object.assign(row, next);
    this.store.save(table, row);
    this.addJournal(table, row, journal, actor);
    this.emit(table, 'update', row);
    return row;
  }

  delete(table: string, sysId: string, actor: Actor): void {
    if (!this.store.get(table, sysId)) throw notFound();
    if (!canWrite(actor, table)) throw aclDenied('Delete');
    const row = this.store.delete(table, sysId)!;
    this.emit(table, 'delete', row);
  }

  private addJournal(table: string, row: Row, entries: { element: string; value: string }[], actor: Actor): void {
    for (const e of entries) {
      this.insert(
        'sys_journal_field',
        { element_id: row.sys_id, name: table, element: e.element, value: e.value },
        actor,
        { seeding: false },
      );
    }
  }

  /** Bulk insert for benchmarks: one transaction, `{n}` in a string value = 1-based index. */
  seed(table: string, count: number, fields: Record<string, unknown>, actor: Actor): number {
    const templ = Object.entries(fields ?? {});
    this.store.docs.transaction(() => {
      for (let n = 1; n <= count; n++) {
        const input: Record<string, unknown> = {};
        for (const [k, v] of templ) input[k] = typeof v === 'string' ? v.replaceAll('{n}', String(n)) : v;
        this.insert(table, input, actor, { seeding: true });
      }
    });
    return count;
  }

  get formatter(): Formatter {
    return this.fmt;
  }
}
