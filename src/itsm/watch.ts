import type { Kysely } from 'kysely';
import type { Clock } from '../engine/clock.ts';
import type { Engine, JobResult } from '../engine/engine.ts';
import type { JobSpec } from '../engine/jobs.ts';
import type { App } from '../http/server.ts';
import type { Database } from '../store/schema.ts';
import type { ItsmPort, Ticket, TicketChange, TicketRef } from './port.ts';

/**
 * Ticket changes, however the adapter learns of them (push, poll, full reconcile), become one
 * durable `itsm.change` job per ticket version — the same version seen by two paths has the same
 * idempotency key, so it is handled once — routed to the owning flow by Ticketloop's correlation
 * key. Watermarks and the tickets seen are kept in `itsm_watermark` and `itsm_ticket`.
 *
 * A correlation key is only a claim: anyone who can edit tickets can put one on any record, and the
 * reconcile reports every record carrying the prefix. So the flow decides whether a change is about
 * the ticket it recorded (flows compare the ref, see port.ts sameTicket); the watch only routes — a
 * ticket it already tracks by the key it first carried (an edited correlation_id neither steals
 * nor loses it), keys of flows that do not exist nowhere.
 */

/** Every ticket Ticketloop opens carries `tl:<flow>:<item id>` — explicit, non-empty, routable. */
export const CORRELATION_PREFIX = 'tl:';

export function correlationKey(flow: string, id: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(flow) || !id) throw new Error(`bad correlation parts: ${flow} / ${id}`);
  return `${CORRELATION_PREFIX}${flow}:${id}`;
}

export function parseCorrelationKey(value: string | undefined): { flow: string; id: string } | undefined {
  const m = /^tl:([a-z][a-z0-9-]*):(.+)$/.exec(value ?? '');
  return m ? { flow: m[1], id: m[2] } : undefined;
}

/** The event a flow receives when a ticket carrying its key changed: its own only if `ticket.ref` is the recorded one. */
export interface TicketChangedEvent {
  type: 'ticket_changed';
  ticket: Ticket;
  source: TicketChange['source'];
}

/**
 * The event a flow receives when a tracked ticket carrying its key was hard-deleted (seen by the
 * reconcile). Like a change, it is about the flow's own ticket only if the ref is the one recorded.
 */
export interface TicketDeletedEvent {
  type: 'ticket_deleted';
  ref: TicketRef;
  source: 'reconcile';
}

type ChangePayload =
  | { ticket: Ticket; source: TicketChange['source']; deleted?: undefined }
  | { ref: TicketRef; correlation?: string; source: TicketChange['source']; deleted: true };

type FeedPayload = { system: string; kind: string };

/** The job for one change; none for a ticket that is not Ticketloop's. */
export function changeJob(c: TicketChange, knownCorrelation?: string): JobSpec | undefined {
  const { system, kind, id } = c.ref;
  // A person just changed the ticket (often: closed it): urgent, so it does not queue behind new work.
  if (c.deleted) {
    if (!parseCorrelationKey(knownCorrelation)) return undefined;
    const payload: ChangePayload = { ref: c.ref, correlation: knownCorrelation, deleted: true, source: c.source };
    return { kind: 'itsm.change', priority: 'urgent', key: `itsm-deleted:${system}:${kind}:${id}`, payload };
  }
  const t = c.ticket;
  if (!t || !parseCorrelationKey(t.correlation)) return undefined;
  const payload: ChangePayload = { ticket: t, source: c.source };
  return { kind: 'itsm.change', priority: 'urgent', key: `itsm-change:${system}:${kind}:${id}:${t.version}`, payload };
}

export interface WatchDeps {
  engine: Engine;
  http: App;
  db: Kysely<Database>;
  clock: Clock;
  /** Every configured ITSM connection, by name. */
  connection(system: string): ItsmPort | undefined;
  connections(): ItsmPort[];
}

export class TicketWatch {
  /** Kinds watched per connection. */
  private readonly kinds = new Map<string, Set<string>>();
  private readonly itemIds = new Map<string, (correlationItem: string) => string>();
  private installed = false;
  /** Last time each connection told us anything (push, poll or reconcile): a silent sync is visible. */
  readonly lastSeen = new Map<string, { at: number; source: string }>();

  constructor(private readonly deps: WatchDeps) {
    deps.engine.register('itsm.change', (p: ChangePayload) => this.route(p));
    deps.engine.register('itsm.poll', (p: FeedPayload) => this.poll(p));
    deps.engine.register('itsm.reconcile', (p: FeedPayload) => this.reconcile(p));
  }

  /**
   * A flow that opens `kind` tickets on this connection asks to hear about their changes. Safe to
   * call after start (an integration created over the API): the schedules are added at once, and
   * the push endpoint accepts the new kind from then on.
   */
  async track(port: ItsmPort, kind: string): Promise<void> {
    const kinds = this.kinds.get(port.system) ?? new Set<string>();
    const added = !kinds.has(kind);
    kinds.add(kind);
    this.kinds.set(port.system, kinds);
    if (added && this.installed) await this.schedule(port, kind);
  }

  /**
   * A flow whose correlation keys carry more than the item id (e.g. a ticket generation,
   * `tl:defender:<item>/2`) maps them back to the item the change belongs to.
   */
  mapItemIds(flow: string, toItem: (correlationItem: string) => string): void {
    this.itemIds.set(flow, toItem);
  }

  /** Register every connection's push endpoint and the schedules of what is tracked. Call before listen. */
  async install(): Promise<void> {
    for (const port of this.deps.connections()) {
      const kinds = () => this.kinds.get(port.system) ?? new Set<string>();
      await port.registerPush?.(this.deps.http, kinds, (c) => this.accept(c));
    }
    for (const [system, kinds] of this.kinds) {
      const port = this.port(system);
      for (const kind of kinds) await this.schedule(port, kind);
    }
    this.installed = true;
  }

  /** The kinds watched on a connection. */
  kindsOf(system: string): string[] {
    return [...(this.kinds.get(system) ?? [])];
  }

  /** Durably accept one pushed change: returns once its job is stored. */
  async accept(c: TicketChange): Promise<void> {
    this.markSeen(c.ref.system, c.source);
    const job = changeJob(c);
    if (job) await this.deps.engine.enqueue(job);
  }

  /** What each connection's sync last saw, and whether it has gone quiet for too long. */
  status(): { instance: string; lastSeenAt?: string; source?: string; stale: boolean }[] {
    const now = this.deps.clock.now();
    return [...this.kinds.keys()].map((system) => {
      const seen = this.lastSeen.get(system);
      const staleAfter = 3 * this.port(system).pollIntervalMs + 60_000;
      return {
        instance: system,
        lastSeenAt: seen ? new Date(seen.at).toISOString() : undefined,
        source: seen?.source,
        stale: !seen || now - seen.at > staleAfter,
      };
    });
  }

  private async schedule(port: ItsmPort, kind: string): Promise<void> {
    const payload: FeedPayload = { system: port.system, kind };
    const name = `${port.system}/${kind}`;
    await this.deps.engine.schedule(`itsm-poll:${name}`, port.pollIntervalMs, 'itsm.poll', payload);
    await this.deps.engine.schedule(`itsm-reconcile:${name}`, port.reconcileIntervalMs, 'itsm.reconcile', payload);
  }

  private port(system: string): ItsmPort {
    const port = this.deps.connection(system);
    if (!port) throw new Error(`no ITSM connection named "${system}"`);
    return port;
  }

  private async route(p: ChangePayload): Promise<JobResult> {
    const db = this.deps.db;
    if (p.deleted) {
      const { system, kind, id } = p.ref;
      await db
        .deleteFrom('itsm_ticket')
        .where('system', '=', system)
        .where('kind', '=', kind)
        .where('id', '=', id)
        .execute();
      const owner = parseCorrelationKey(p.correlation);
      if (!owner || !this.deps.engine.hasFlow(owner.flow)) return {};
      const event: TicketDeletedEvent = { type: 'ticket_deleted', ref: p.ref, source: 'reconcile' };
      return { events: [{ flow: owner.flow, id: this.itemId(owner), event }] };
    }
    const { system, kind, id } = p.ticket.ref;
    const tracked = await db
      .selectFrom('itsm_ticket')
      .select('correlation')
      .where('system', '=', system)
      .where('kind', '=', kind)
      .where('id', '=', id)
      .executeTakeFirst();
    const correlation = parseCorrelationKey(tracked?.correlation) ? tracked!.correlation : p.ticket.correlation;
    const owner = parseCorrelationKey(correlation);
    // Any record can carry `tl:<anything>:…`: a key no registered flow owns is nobody's business.
    if (!owner || !this.deps.engine.hasFlow(owner.flow)) return {};
    await this.remember(p.ticket, correlation);
    const event: TicketChangedEvent = { type: 'ticket_changed', ticket: p.ticket, source: p.source };
    return { events: [{ flow: owner.flow, id: this.itemId(owner), event }] };
  }

  /**
   * Keep a tracked ticket's version, so the reconcile can tell what changed or vanished, and the
   * correlation it was first seen with, which routes it from then on.
   */
  private async remember(t: Ticket, correlation: string): Promise<void> {
    const { system, kind, id } = t.ref;
    const row = { system, kind, id, correlation, version: t.version, updated_at: this.deps.clock.now() };
    await this.deps.db
      .insertInto('itsm_ticket')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['system', 'kind', 'id']).doUpdateSet({ version: row.version, updated_at: row.updated_at }),
      )
      .execute();
  }

  /**
   * One catch-up pass from the stored watermark. A fresh read each run: whatever the adapter's
   * look-back re-reads maps to the same job keys, so it is enqueued once.
   */
  private async poll(p: FeedPayload): Promise<JobResult> {
    const port = this.deps.connection(p.system);
    if (!port) return {};
    const db = this.deps.db;
    const row = await db
      .selectFrom('itsm_watermark')
      .select('watermark')
      .where('system', '=', p.system)
      .where('kind', '=', p.kind)
      .executeTakeFirst();
    const jobs: JobSpec[] = [];
    const watermark = await port.pollChanges(p.kind, CORRELATION_PREFIX, row?.watermark, async (c) => {
      const job = changeJob(c);
      if (job) jobs.push(job);
    });
    const now = this.deps.clock.now();
    await db
      .insertInto('itsm_watermark')
      .values({ system: p.system, kind: p.kind, watermark, updated_at: now })
      .onConflict((oc) => oc.columns(['system', 'kind']).doUpdateSet({ watermark, updated_at: now }))
      .execute();
    this.markSeen(p.system, 'poll');
    return { jobs };
  }

  /**
   * The periodic full reconcile: every tracked ticket is compared with the system, so a record
   * reopened behind the watermark, or hard-deleted (which polling never sees), still reaches its
   * flow; tickets of ours that were never tracked are picked up too.
   */
  private async reconcile(p: FeedPayload): Promise<JobResult> {
    const port = this.deps.connection(p.system);
    if (!port) return {};
    const rows = await this.deps.db
      .selectFrom('itsm_ticket')
      .select(['id', 'correlation', 'version'])
      .where('system', '=', p.system)
      .where('kind', '=', p.kind)
      .execute();
    const correlationOf = new Map(rows.map((r) => [r.id, r.correlation]));
    const known = rows.map((r) => ({ id: r.id, version: r.version ?? undefined }));
    const jobs: JobSpec[] = [];
    await port.reconcile(p.kind, CORRELATION_PREFIX, known, async (c) => {
      const job = changeJob(c, correlationOf.get(c.ref.id));
      if (job) jobs.push(job);
    });
    this.markSeen(p.system, 'reconcile');
    return { jobs };
  }

  private markSeen(system: string, source: string): void {
    this.lastSeen.set(system, { at: this.deps.clock.now(), source });
  }

  private itemId(owner: { flow: string; id: string }): string {
    return this.itemIds.get(owner.flow)?.(owner.id) ?? owner.id;
  }
}
