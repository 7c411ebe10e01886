import type { CheckResult } from '../../app/checks.ts';
import { HttpError, PermanentError } from '../../engine/errors.ts';
import type { App } from '../../http/server.ts';
import type {
  CloseOutInput,
  ItsmPort,
  KnownTicket,
  OnTicketChange,
  OpenTicketInput,
  Person,
  Ticket,
  TicketRef,
  WriteAccess,
} from '../port.ts';
import { checkServiceNowSetup } from './check-setup.ts';
import { str, type ServiceNowClient, type SnRecord } from './client.ts';
import { CloseOutRules, type CloseOutConfig } from './closeout.ts';
import { boundFields, FIELD_LIMITS } from './limits.ts';
import type { WebhookAuthConfig } from './config.ts';
import type { AuthLabel } from './diagnose.ts';
import {
  CALLER_FIELDS,
  NOTES_FIELD,
  TICKET_FIELDS,
  statesFor,
  toTicket,
  type CloseAction,
  type MapContext,
  type TableStates,
} from './map.ts';
import { MemoryWatermarkStore, ServiceNowPoller } from './poller.ts';
import { ServiceNowAccessRequests } from './access-requests.ts';
import { ServiceNowIncidentFeed } from './incident-feed.ts';
import { ServiceNowKnowledge } from './knowledge.ts';
import { readRolesOrWhy, writeRolesFor } from './account-roles.ts';
import { checkCorrelationId } from './correlation.ts';
import { q } from './query.ts';
import { registerServiceNowWebhook, webhookPath } from './webhook.ts';

/**
 * The ITSM port on ServiceNow's Table API. The correlation key is written to `correlation_id` and
 * is the idempotency key: every create is preceded by an exact lookup, so a create retried after a
 * lost response finds the first ticket. Close-out fields come from configuration and are checked
 * against `sys_choice` before the first close. Changes arrive by business-rule webhook (push),
 * `sys_updated_on` polling and a periodic full reconcile; people come from `sys_user`.
 */

export type { CloseOutConfig } from './closeout.ts';
export { checkCorrelationId } from './correlation.ts';

export interface ServiceNowItsmOptions {
  client: ServiceNowClient;
  /** The connection's name (default "servicenow"). */
  system?: string;
  /** Base for human links (default: the client's base URL). */
  instanceUrl?: string;
  closeOut?: CloseOutConfig;
  /** Who the client signs in as (never the secret), for checkSetup()'s findings. */
  authLabel?: AuthLabel;
  /** Tables `checkSetup()` probes besides those in `closeOut` (default incident). */
  tables?: string[];
  /** Override or add per-table state mappings. */
  states?: Record<string, TableStates>;
  /** Restrict the fields read back (default: all). */
  fields?: string[];
  /** The business-rule push (docs/servicenow-business-rule.js); polling only without it. */
  webhook?: WebhookAuthConfig;
  pollIntervalMs?: number;
  reconcileIntervalMs?: number;
  /** For the people cache and the webhook's timestamp check (default Date.now). */
  now?: () => number;
  /** Field sizes where the instance's dictionary differs from a base instance's (limits.ts). */
  fieldLimits?: Record<string, number>;
  /**
   * The user_name Ticketloop creates records as. Correlation keys are predictable, so with it set a
   * record created by anyone else is never adopted as Ticketloop's (unknown for an OAuth
   * client_credentials app unless configured: then any exact match counts).
   */
  account?: string;
}

const PERSON_TTL_MS = 60 * 60_000;

export class ServiceNowItsm implements ItsmPort {
  readonly system: string;
  readonly pollIntervalMs: number;
  readonly reconcileIntervalMs: number;
  /** Catalog requested items and their sysapproval_approver rows (access-requests.ts). */
  readonly accessRequests: ServiceNowAccessRequests;
  /** Knowledge search: the knowledge API, or the Table API on kb_knowledge without it (knowledge.ts). */
  readonly knowledge: ServiceNowKnowledge;
  /** Incidents as reported, and parent_incident links (incident-feed.ts). */
  readonly incidentFeed: ServiceNowIncidentFeed;
  private readonly client: ServiceNowClient;
  private readonly ctx: MapContext;
  private readonly now: () => number;
  private readonly rules: CloseOutRules;
  private readonly people = new Map<string, { at: number; person: Promise<Person | undefined> }>();
  private readonly limits: Readonly<Record<string, number>>;

  constructor(private readonly o: ServiceNowItsmOptions) {
    this.client = o.client;
    this.system = o.system ?? 'servicenow';
    this.ctx = { system: this.system, instanceUrl: o.instanceUrl ?? o.client.baseUrl, states: o.states };
    this.pollIntervalMs = o.pollIntervalMs ?? 30_000;
    this.reconcileIntervalMs = o.reconcileIntervalMs ?? 3_600_000;
    this.now = o.now ?? Date.now;
    this.rules = new CloseOutRules(o.client, o.closeOut, o.states);
    this.limits = { ...FIELD_LIMITS, ...o.fieldLimits };
    this.accessRequests = new ServiceNowAccessRequests({
      client: this.client,
      ctx: this.ctx,
      now: this.now,
      limits: this.limits,
    });
    this.incidentFeed = new ServiceNowIncidentFeed({ client: this.client, ctx: this.ctx, now: this.now });
    this.knowledge = new ServiceNowKnowledge({ client: this.client, instanceUrl: this.ctx.instanceUrl, now: this.now });
  }

  /**
   * One lookup, then one create. A create whose answer was lost is not retried here: the job
   * that called this runs again, and its lookup finds the ticket the lost create made.
   */
  async openTicket(i: OpenTicketInput): Promise<{ ticket: Ticket; created: boolean }> {
    const correlation = checkCorrelationId(i.correlation);
    const existing = await this.findByCorrelation(i.kind, correlation);
    if (existing) return { ticket: existing, created: false };
    const rec = await this.client.create(i.kind, boundFields(this.recordFor(i, correlation), this.limits), this.read());
    return { ticket: this.ticket(i.kind, rec), created: true };
  }

  async findByCorrelation(kind: string, correlation: string): Promise<Ticket | undefined> {
    const id = checkCorrelationId(correlation);
    const read = this.read();
    const page = await this.client.list(kind, {
      ...read,
      fields: read.fields && [...read.fields, 'sys_created_by'],
      query: q().eq('correlation_id', id).orderBy('sys_created_on').orderBy('sys_id'),
      pageSize: 20,
      noCount: true,
    });
    // `=` may be case-insensitive on the instance's database: keep exact matches only.
    const hit = page.records.find(
      (r) => str(r.correlation_id) === id && (!this.o.account || str(r.sys_created_by) === this.o.account),
    );
    return hit && this.ticket(kind, hit);
  }

  async getTicket(ref: Pick<TicketRef, 'kind' | 'id'>): Promise<Ticket | undefined> {
    const rec = await this.client.get(ref.kind, ref.id, this.read());
    return rec && this.ticket(ref.kind, rec);
  }

  async findByKey(kind: string, key: string): Promise<Ticket | undefined> {
    const number = key.trim().toUpperCase();
    // An empty query term would match every row (lessons.md): refuse it.
    if (!/^[A-Z0-9_-]{1,40}$/.test(number))
      throw new PermanentError(`ticket number ${JSON.stringify(key)} is not valid`);
    const page = await this.client.list(kind, {
      ...this.read(),
      query: q().eq('number', number),
      pageSize: 2,
      noCount: true,
    });
    const hit = page.records.find((r) => str(r.number).toUpperCase() === number);
    return hit && this.ticket(kind, hit);
  }

  async updateTicket(ref: TicketRef, fields: Record<string, string>): Promise<Ticket> {
    return this.patch(ref, fields);
  }

  /**
   * Rewrite who a ticket names (assigned to, and the caller in the table's own field), as openTicket
   * writes them: what a Defender manual assignment's edit needs. Setting the same people again is a no-op.
   */
  async setTicketPeople(
    ref: TicketRef,
    p: Pick<OpenTicketInput, 'assignee' | 'caller' | 'callerField'>,
  ): Promise<Ticket> {
    const record = this.recordFor({ kind: ref.kind, correlation: '', ...p }, '');
    delete record.correlation_id;
    return this.patch(ref, record);
  }

  async addWorkNote(ref: TicketRef, text: string): Promise<void> {
    await this.patch(ref, { work_notes: nonEmpty('work note', text) });
  }

  async addComment(ref: TicketRef, text: string): Promise<void> {
    await this.patch(ref, { comments: nonEmpty('comment', text) });
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
    const target = statesFor(ref.kind, this.o.states).write.reopen;
    const t = await this.patch(ref, { state: target, work_notes: nonEmpty('reopen note', note) });
    if (t.fields.state !== target)
      throw new PermanentError(`${ref.key}: reopen was not applied (state is ${t.fields.state}, expected ${target})`);
    return t;
  }

  /** The sys_user with this e-mail (and their manager's), cached for an hour; failures are not cached. */
  findPerson(email: string): Promise<Person | undefined> {
    const key = email.toLowerCase();
    const hit = this.people.get(key);
    if (hit && this.now() - hit.at < PERSON_TTL_MS) return hit.person;
    const person = (async () => {
      const page = await this.client.list('sys_user', {
        query: q().eq('email', email),
        fields: ['sys_id', 'email', 'manager'],
        pageSize: 2,
        noCount: true,
        excludeReferenceLink: true,
      });
      const rec = page.records.find((r) => str(r.email).toLowerCase() === key);
      if (!rec) return undefined;
      const managerId = str(rec.manager);
      const manager = managerId ? await this.client.get('sys_user', managerId, { fields: ['email'] }) : undefined;
      return {
        id: str(rec.sys_id),
        email: str(rec.email),
        managerEmail: manager ? str(manager.email) || undefined : undefined,
      };
    })();
    person.catch(() => this.people.delete(key));
    this.people.set(key, { at: this.now(), person });
    return person;
  }

  async pollChanges(
    kind: string,
    prefix: string,
    watermark: string | undefined,
    onChange: OnTicketChange,
  ): Promise<string> {
    const store = new MemoryWatermarkStore();
    if (watermark) await store.set(kind, watermark);
    const poller = new ServiceNowPoller({
      ...this.pollerOptions(kind, exactPrefix(prefix, onChange)),
      store,
      key: kind,
      filter: q().startsWith('correlation_id', prefix),
    });
    return JSON.stringify({ ts: (await poller.pollOnce()).watermark });
  }

  async reconcile(kind: string, prefix: string, known: KnownTicket[], onChange: OnTicketChange): Promise<void> {
    const ids = new Set(known.map((k) => k.id));
    // Known tickets are reported whatever they carry now; others only with the exact prefix.
    const report: OnTicketChange = (c) => (ids.has(c.ref.id) ? onChange(c) : exactPrefix(prefix, onChange)(c));
    const poller = new ServiceNowPoller({ ...this.pollerOptions(kind, report), store: new MemoryWatermarkStore() });
    await poller.reconcile(
      kind,
      known.map((k) => ({ sysId: k.id, modCount: k.version })),
      q().startsWith('correlation_id', prefix),
    );
  }

  async registerPush(http: App, kinds: () => ReadonlySet<string>, onChange: OnTicketChange): Promise<void> {
    if (!this.o.webhook) return;
    await registerServiceNowWebhook(http, {
      path: webhookPath(this.system),
      auth: this.o.webhook,
      system: this.system,
      instanceUrl: this.ctx.instanceUrl,
      tables: kinds,
      onChange,
      now: this.now,
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** Sign-in, each table, each close-out action's values: one result per thing checked. */
  checkSetup(): Promise<CheckResult[]> {
    return checkServiceNowSetup({
      client: this.client,
      system: this.system,
      instanceUrl: this.ctx.instanceUrl,
      auth: this.o.authLabel,
      tables: this.o.tables ?? ['incident'],
      closeOut: this.rules,
      states: this.o.states,
    });
  }

  /** From the account's roles (sys_user_has_role): no test record is written. */
  async writeAccess(kind: string): Promise<WriteAccess> {
    const target = `ServiceNow ${this.system}`;
    const grant = (user: string) =>
      `grant the role itil${kind === 'incident' ? ' (or sn_incident_write)' : ''} to ${user} in ServiceNow (User Administration → Users → ${user} → Roles)`;
    if (!this.o.authLabel)
      return { allowed: undefined, detail: 'the account is not known to the adapter', fix: grant('the account') };
    const a = await readRolesOrWhy(this.client, this.o.authLabel, { target, instanceUrl: this.ctx.instanceUrl });
    if (!a.roles) return { allowed: undefined, detail: a.why ?? 'roles unknown', fix: grant('the account') };
    const writes = writeRolesFor(kind);
    const held = a.roles.filter((r) => writes.includes(r));
    const has = a.roles.length ? `the roles ${a.roles.join(', ')}` : 'no roles';
    if (held.length)
      return { allowed: true, account: a.user, detail: `user '${a.user}' has ${has}: ${held[0]} may write ${kind}` };
    return {
      allowed: false,
      account: a.user,
      detail: `ServiceNow user '${a.user}' lacks write on ${kind}: it has ${has}`,
      fix: grant(a.user ?? 'the account'),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private read() {
    const fields = this.o.fields && [...new Set([...TICKET_FIELDS, ...this.o.fields])];
    return { fields, excludeReferenceLink: true, displayValue: false as const };
  }

  private ticket(table: string, rec: SnRecord): Ticket {
    return toTicket(this.ctx, table, rec);
  }

  private pollerOptions(kind: string, onChange: OnTicketChange) {
    return {
      client: this.client,
      table: kind,
      system: this.system,
      instanceUrl: this.ctx.instanceUrl,
      onChange,
      clock: { now: this.now },
    };
  }

  /** The neutral fields in ServiceNow's names; the caller in the table's own field (CALLER_FIELDS). */
  private recordFor(i: OpenTicketInput, correlation: string): Record<string, string> {
    const record: Record<string, string> = {};
    if (i.title !== undefined) record.short_description = i.title;
    if (i.description !== undefined) record.description = i.description;
    if (i.assignee) record.assigned_to = i.assignee;
    if (i.caller) {
      const field = i.callerField ?? CALLER_FIELDS[i.kind];
      if (!field)
        throw new PermanentError(
          `${i.kind}: no caller field is known for this table; name one in the mapping (callerField)`,
        );
      record[field] = i.caller;
    }
    Object.assign(record, i.fields);
    record.correlation_id = correlation;
    if (i.origin) record.correlation_display = i.origin;
    return record;
  }

  /** Every update (fields, work notes, comments, close-out, reopen) passes here, bounded. */
  private async patch(ref: TicketRef, fields: Record<string, string>): Promise<Ticket> {
    try {
      return this.ticket(
        ref.kind,
        await this.client.update(ref.kind, ref.id, boundFields(fields, this.limits), this.read()),
      );
    } catch (e) {
      if (e instanceof HttpError && e.status === 404)
        throw new PermanentError(`${ref.kind} ${ref.key || ref.id} no longer exists (or is hidden by ACL)`);
      throw e;
    }
  }

  private async closeOut(ref: TicketRef, action: CloseAction, c: CloseOutInput): Promise<Ticket> {
    const states = statesFor(ref.kind, this.o.states);
    const values: Record<string, string> = { ...this.rules.configured(ref.kind, action), ...(c.fields ?? {}) };
    if (c.code) values[states.codeField] = c.code;
    const problems = [...(await this.rules.problems(ref.kind, action, values))];
    if (!c.notes?.trim()) problems.push(`${ref.kind} ${action}: mandatory field '${NOTES_FIELD}' (notes) is empty`);
    if (problems.length) throw new PermanentError(problems.join('; '));
    const target = states.write[action];
    const t = await this.patch(ref, { ...values, [NOTES_FIELD]: c.notes, state: target });
    if (t.fields.state !== target) {
      throw new PermanentError(
        `${ref.key}: ${action} was not applied (state is ${t.fields.state}, expected ${target}); a business rule or data policy may require more fields`,
      );
    }
    return t;
  }
}

/** STARTSWITH is case-insensitive on most instances' databases: keep exact matches only. */
function exactPrefix(prefix: string, onChange: OnTicketChange): OnTicketChange {
  return async (c) => {
    if (c.deleted || c.ticket?.correlation.startsWith(prefix)) await onChange(c);
  };
}

function nonEmpty(what: string, text: string): string {
  if (typeof text !== 'string' || !text.trim()) throw new PermanentError(`refusing an empty ${what}`);
  return text;
}
