import { HttpError } from '../connectors/http.ts';
import { PermanentError } from '../engine/errors.ts';
import { str, type ServiceNowClient, type SnRecord } from '../connectors/servicenow/client.ts';
import { q, checkValue } from '../connectors/servicenow/query.ts';
import type { CloseOutInput, ItsmPort, OpenTicketInput, Ticket, TicketRef } from './port.ts';
import { NOTES_FIELD, TICKET_FIELDS, statesFor, toTicket, type CloseAction, type MapContext, type TableStates } from './servicenow-map.ts';

/**
 * ItsmPort on ServiceNow's Table API. Correlation ids are the idempotency key: every create is
 * preceded by an exact lookup, so a create retried after a lost response finds the first ticket.
 * Close-out fields come from config and are checked against `sys_choice` before the first close.
 */

/** `closeOut: { incident: { resolve: { close_code: 'Solution provided' } } }` */
export type CloseOutConfig = Record<string, Partial<Record<CloseAction, Record<string, string>>>>;

export interface ServiceNowItsmOptions {
  client: ServiceNowClient;
  system?: string;
  /** Base for human links (default: the client's base URL). */
  instanceUrl?: string;
  closeOut?: CloseOutConfig;
  /** Tables `checkSetup()` probes besides those in `closeOut` (default incident). */
  tables?: string[];
  /** Override or add per-table state mappings. */
  states?: Record<string, TableStates>;
  /** Restrict the fields read back (default: all). */
  fields?: string[];
  /** Create attempts after ambiguous failures (each preceded by a lookup). Default 3. */
  createAttempts?: number;
  /** Wait before the lookup that follows an ambiguous create failure. Default 1000 ms. */
  ambiguousWaitMs?: number;
}

const MAX_CORRELATION = 100; // task.correlation_id is a 100-character string

export function checkCorrelationId(id: unknown): string {
  if (typeof id !== 'string' || id.trim() === '') throw new PermanentError('refusing an empty correlation id: it would match unrelated tickets');
  if (id !== id.trim()) throw new PermanentError('correlation id has leading/trailing whitespace');
  if (id.length > MAX_CORRELATION) throw new PermanentError(`correlation id longer than ${MAX_CORRELATION} characters would be truncated by ServiceNow`);
  try {
    checkValue('correlation_id', id);
  } catch (e) {
    throw new PermanentError(`invalid correlation id: ${(e as Error).message}`);
  }
  return id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ambiguous(e: unknown): boolean {
  return e instanceof HttpError ? e.status === 0 || e.status >= 500 : false;
}

export class ServiceNowItsm implements ItsmPort {
  private readonly client: ServiceNowClient;
  private readonly ctx: MapContext;
  private readonly choices = new Map<string, Promise<Set<string> | null>>();
  private readonly validated = new Set<string>();

  constructor(private readonly o: ServiceNowItsmOptions) {
    this.client = o.client;
    this.ctx = { system: o.system ?? 'servicenow', instanceUrl: o.instanceUrl ?? o.client.baseUrl, states: o.states };
  }

  async openTicket(i: OpenTicketInput): Promise<{ ticket: Ticket; created: boolean }> {
    const correlationId = checkCorrelationId(i.correlationId);
    const attempts = Math.max(1, this.o.createAttempts ?? 3);
    const body = { ...i.fields, correlation_id: correlationId, ...(i.correlationDisplay ? { correlation_display: i.correlationDisplay } : {}) };
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const existing = await this.findByCorrelationId(i.table, correlationId);
      if (existing) return { ticket: existing, created: false };
      try {
        const rec = await this.client.create(i.table, body, this.read());
        return { ticket: this.ticket(i.table, rec), created: true };
      } catch (e) {
        if (!ambiguous(e)) throw e;
        last = e; // the create may have landed: look up again before any new attempt
        if (attempt < attempts) await sleep(this.o.ambiguousWaitMs ?? 1000);
      }
    }
    throw last;
  }

  async findByCorrelationId(table: string, correlationId: string): Promise<Ticket | undefined> {
    const id = checkCorrelationId(correlationId);
    const page = await this.client.list(table, {
      ...this.read(),
      query: q().eq('correlation_id', id).orderBy('sys_created_on').orderBy('sys_id'),
      pageSize: 20,
      noCount: true,
    });
    // `=` may be case-insensitive on the instance's database: keep exact matches only.
    const hit = page.records.find((r) => str(r.correlation_id) === id);
    return hit && this.ticket(table, hit);
  }

  async getTicket(table: string, sysId: string): Promise<Ticket | undefined> {
    const rec = await this.client.get(table, sysId, this.read());
    return rec && this.ticket(table, rec);
  }

  async updateTicket(ref: TicketRef, fields: Record<string, string>): Promise<Ticket> {
    return this.patch(ref, fields, true);
  }

  async addWorkNote(ref: TicketRef, text: string): Promise<void> {
    await this.patch(ref, { work_notes: nonEmpty('work note', text) }, false);
  }

  async addComment(ref: TicketRef, text: string): Promise<void> {
    await this.patch(ref, { comments: nonEmpty('comment', text) }, false);
  }

  resolveTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket> {
    return this.closeOut(ref, 'resolve', c);
  }

  closeTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket> {
    return this.closeOut(ref, 'close', c);
  }

  cancelTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket> {
    return this.closeOut(ref, 'cancel', c);
  }

  async reopenTicket(ref: TicketRef, note: string): Promise<Ticket> {
    const target = statesFor(ref.table, this.o.states).write.reopen;
    const t = await this.patch(ref, { state: target, work_notes: nonEmpty('reopen note', note) }, false);
    if (t.rawState !== target) throw new PermanentError(`${ref.number}: reopen was not applied (state is ${t.rawState}, expected ${target})`);
    return t;
  }

  async checkSetup(): Promise<{ ok: boolean; problems: string[] }> {
    const problems: string[] = [];
    const tables = new Set([...(this.o.tables ?? ['incident']), ...Object.keys(this.o.closeOut ?? {})]);
    for (const table of tables) {
      try {
        await this.client.list(table, { query: q().isNotEmpty('sys_id'), pageSize: 1, fields: ['sys_id'], noCount: true });
      } catch (e) {
        problems.push(`table ${table} is not reachable: ${(e as Error).message}`);
        continue;
      }
      let states: TableStates;
      try {
        states = statesFor(table, this.o.states);
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      for (const action of ['resolve', 'close', 'cancel'] as const) {
        if (!this.o.closeOut?.[table]?.[action] && !states.mandatory[action]?.length) continue;
        problems.push(...(await this.closeOutProblems(table, action, this.configured(table, action))));
      }
    }
    return { ok: problems.length === 0, problems };
  }

  // ---- internals ----------------------------------------------------------------------------

  private read() {
    const fields = this.o.fields && [...new Set([...TICKET_FIELDS, ...this.o.fields])];
    return { fields, excludeReferenceLink: true, displayValue: false as const };
  }

  /** Defaults + config for an action; resolve and close fall back to each other's config. */
  private configured(table: string, action: CloseAction): Record<string, string> {
    const cfg = this.o.closeOut?.[table] ?? {};
    const other = action === 'resolve' ? cfg.close : action === 'close' ? cfg.resolve : undefined;
    return { ...(statesFor(table, this.o.states).defaults?.[action] ?? {}), ...(cfg[action] ?? other ?? {}) };
  }

  private ticket(table: string, rec: SnRecord): Ticket {
    return toTicket(this.ctx, table, rec);
  }

  private async patch(ref: TicketRef, fields: Record<string, string>, idempotent: boolean): Promise<Ticket> {
    try {
      return this.ticket(ref.table, await this.client.update(ref.table, ref.sysId, fields, { ...this.read(), idempotent }));
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) throw new PermanentError(`${ref.table} ${ref.number || ref.sysId} no longer exists (or is hidden by ACL)`);
      throw e;
    }
  }

  private async closeOut(ref: TicketRef, action: CloseAction, c: CloseOutInput): Promise<Ticket> {
    const states = statesFor(ref.table, this.o.states);
    const values: Record<string, string> = { ...this.configured(ref.table, action), ...(c.fields ?? {}) };
    if (c.code) values[states.codeField] = c.code;
    const problems = [...(await this.closeOutProblems(ref.table, action, values))];
    if (!c.notes?.trim()) problems.push(`${ref.table} ${action}: mandatory field '${NOTES_FIELD}' (notes) is empty`);
    if (problems.length) throw new PermanentError(problems.join('; '));
    const target = states.write[action];
    const t = await this.patch(ref, { ...values, [NOTES_FIELD]: c.notes, state: target }, true);
    if (t.rawState !== target) {
      throw new PermanentError(`${ref.number}: ${action} was not applied (state is ${t.rawState}, expected ${target}); a business rule or data policy may require more fields`);
    }
    return t;
  }

  /** Mandatory fields present and every value a valid `sys_choice` (when the field has choices). */
  private async closeOutProblems(table: string, action: CloseAction, values: Record<string, string>): Promise<string[]> {
    const key = `${table}|${action}|${JSON.stringify(Object.entries(values).sort())}`;
    if (this.validated.has(key)) return [];
    const problems: string[] = [];
    for (const field of statesFor(table, this.o.states).mandatory[action] ?? []) {
      if (!values[field]?.trim()) problems.push(`${table} ${action}: mandatory field '${field}' is missing (set closeOut.${table}.${action}.${field})`);
    }
    for (const [field, value] of Object.entries(values)) {
      const valid = await this.choicesFor(table, field);
      if (valid && !valid.has(value)) {
        problems.push(`${table} ${action}: '${value}' is not a valid choice for field '${field}' (sys_choice has: ${[...valid].join(', ')})`);
      }
    }
    if (!problems.length) this.validated.add(key);
    return problems;
  }

  /** Active choice values of table.field (falling back to the parent `task`), or null if none. */
  private choicesFor(table: string, field: string): Promise<Set<string> | null> {
    const key = `${table}.${field}`;
    let p = this.choices.get(key);
    if (!p) {
      p = (async () => {
        for (const name of table === 'task' ? ['task'] : [table, 'task']) {
          const values = new Set<string>();
          const query = q().eq('name', name).eq('element', field);
          for await (const c of this.client.listAll('sys_choice', { query, fields: ['value', 'inactive'], pageSize: 500 })) {
            if (str(c.inactive) !== 'true') values.add(str(c.value));
          }
          if (values.size) return values;
        }
        return null;
      })();
      p.catch(() => this.choices.delete(key)); // don't cache failures
      this.choices.set(key, p);
    }
    return p;
  }
}

function nonEmpty(what: string, text: string): string {
  if (typeof text !== 'string' || !text.trim()) throw new PermanentError(`refusing an empty ${what}`);
  return text;
}
