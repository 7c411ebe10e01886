import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { resolveSecret } from '../config/load.ts';
import type { ServiceNowConnectionHandle } from '../app/connections.ts';
import { registerServiceNowWebhook } from '../connectors/servicenow/webhook.ts';
import { ServiceNowPoller, type WatermarkStore } from '../connectors/servicenow/poller.ts';
import type { Engine, JobResult } from '../engine/engine.ts';
import type { JobSpec } from '../engine/jobs.ts';
import type { App } from '../http/server.ts';
import type { Database } from '../store/schema.ts';
import type { Ticket, TicketChange, TicketRef } from './port.ts';

/**
 * Ticket changes, pushed (business-rule webhook) and polled (the backstop), become one durable
 * `itsm.change` job each — the same change seen by both paths has the same idempotency key, so it
 * is handled once — and are routed to the owning flow by the ticket's correlation id.
 */

/** Every ticket Ticketloop opens carries `tl:<flow>:<item id>` — explicit, non-empty, routable. */
export const CORRELATION_PREFIX = 'tl:';

export function correlationIdFor(flow: string, id: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(flow) || !id) throw new Error(`bad correlation parts: ${flow} / ${id}`);
  return `${CORRELATION_PREFIX}${flow}:${id}`;
}

export function parseCorrelationId(value: string | undefined): { flow: string; id: string } | undefined {
  const m = /^tl:([a-z][a-z0-9-]*):(.+)$/.exec(value ?? '');
  return m ? { flow: m[1], id: m[2] } : undefined;
}

/** The event a flow receives when one of its tickets changed. */
export interface TicketChangedEvent {
  type: 'ticket_changed';
  ticket: Ticket;
  source: TicketChange['source'];
}

/** The event a flow receives when one of its tickets was hard-deleted (seen by the reconcile). */
export interface TicketDeletedEvent {
  type: 'ticket_deleted';
  ref: TicketRef;
  source: 'reconcile';
}

export class KvWatermarkStore implements WatermarkStore {
  constructor(private readonly db: Kysely<Database>) {}
  async get(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('kv').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }
  async set(key: string, value: string): Promise<void> {
    const now = Date.now();
    await this.db
      .insertInto('kv')
      .values({ key, value, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
      .execute();
  }
}

/** kv key under which a tracked ticket's correlation id and last seen version are kept. */
const knownKey = (instance: string, table: string, sysId: string) => `ticket:${instance}:${table}:${sysId}`;

export function changeJob(instance: string, c: TicketChange, correlationId?: string): JobSpec | undefined {
  if (c.deleted) {
    if (!parseCorrelationId(correlationId)) return undefined;
    return {
      kind: 'itsm.change',
      priority: 'urgent',
      key: `itsm-deleted:${instance}:${c.ref.table}:${c.ref.sysId}`,
      payload: { instance, ref: c.ref, correlationId, deleted: true, source: c.source },
    };
  }
  const t = c.ticket;
  if (!t || !parseCorrelationId(t.correlationId)) return undefined;
  const version = t.fields.sys_mod_count ?? t.updatedAt;
  return {
    kind: 'itsm.change',
    // A person just changed the ticket (often: closed it); do not queue that behind a backlog of new work.
    priority: 'urgent',
    key: `itsm-change:${instance}:${t.table}:${t.sysId}:${version}`,
    payload: { instance, ticket: t, source: c.source },
  };
}

type ChangePayload =
  | { instance: string; ticket: Ticket; source: TicketChange['source']; deleted?: undefined }
  | { instance: string; ref: TicketRef; correlationId?: string; source: TicketChange['source']; deleted: true };

export interface WatchDeps {
  engine: Engine;
  http: App;
  db: Kysely<Database>;
}

export class TicketWatch {
  private readonly tracked = new Map<string, { handle: ServiceNowConnectionHandle; tables: Set<string> }>();
  private readonly itemIds = new Map<string, (correlationItem: string) => string>();
  /** Last time each instance told us anything (push or poll) — a silent sync is visible. */
  readonly lastSeen = new Map<string, { at: number; source: string }>();

  constructor(private readonly deps: WatchDeps) {
    deps.engine.register('itsm.change', async (p: ChangePayload): Promise<JobResult> => {
      if (p.deleted) {
        const owner = parseCorrelationId(p.correlationId);
        await this.deps.db.deleteFrom('kv').where('key', '=', knownKey(p.instance, p.ref.table, p.ref.sysId)).execute();
        if (!owner) return {};
        const event: TicketDeletedEvent = { type: 'ticket_deleted', ref: p.ref, source: 'reconcile' };
        return { events: [{ flow: owner.flow, id: this.itemId(owner), event }] };
      }
      const owner = parseCorrelationId(p.ticket.correlationId);
      if (!owner) return {};
      await this.remember(p.instance, p.ticket);
      const event: TicketChangedEvent = { type: 'ticket_changed', ticket: p.ticket, source: p.source };
      return { events: [{ flow: owner.flow, id: this.itemId(owner), event }] };
    });
    deps.engine.register('itsm.reconcile', (p: { instance: string; table: string }) => this.reconcile(p.instance, p.table));
    // A fresh poller per run: the watermark lives in the database, and whatever the look-back
    // window re-reads maps to the same job keys, so it is enqueued once.
    deps.engine.register('itsm.poll', async (p: { instance: string; table: string }): Promise<JobResult> => {
      const handle = this.tracked.get(p.instance)?.handle;
      if (!handle) return {};
      const jobs: JobSpec[] = [];
      await new ServiceNowPoller({
        client: handle.client,
        table: p.table,
        store: new KvWatermarkStore(this.deps.db),
        key: `watermark:servicenow:${p.instance}/${p.table}`,
        filter: `correlation_idSTARTSWITH${CORRELATION_PREFIX}`,
        instanceUrl: handle.config.instanceUrl,
        onChange: async (c) => {
          const job = changeJob(p.instance, c);
          if (job) jobs.push(job);
        },
      }).pollOnce();
      await this.markSeen(p.instance, 'poll');
      return { jobs };
    });
  }

  /** Keep a tracked ticket's correlation id and version, so the reconcile can tell what vanished. */
  private async remember(instance: string, t: Ticket): Promise<void> {
    const key = knownKey(instance, t.table, t.sysId);
    const value = JSON.stringify({ correlationId: t.correlationId, modCount: t.fields.sys_mod_count });
    const now = Date.now();
    await this.deps.db
      .insertInto('kv')
      .values({ key, value, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
      .execute();
  }

  /**
   * The periodic full reconcile: every tracked ticket is compared with the instance, so a record
   * that was reopened behind the watermark, or hard-deleted (never seen by `sys_updated_on`
   * polling), still reaches its flow; tickets of ours that were never tracked are picked up too.
   */
  async reconcile(instance: string, table: string): Promise<JobResult> {
    const handle = this.tracked.get(instance)?.handle;
    if (!handle) return {};
    const prefix = `ticket:${instance}:${table}:`;
    const rows = await this.deps.db.selectFrom('kv').select(['key', 'value']).where('key', 'like', `${prefix}%`).execute();
    const known = new Map(rows.map((r) => [r.key.slice(prefix.length), JSON.parse(r.value) as { correlationId: string; modCount?: string }]));
    const jobs: JobSpec[] = [];
    await new ServiceNowPoller({
      client: handle.client,
      table,
      store: new KvWatermarkStore(this.deps.db),
      instanceUrl: handle.config.instanceUrl,
      onChange: async (c) => {
        const job = changeJob(instance, c, known.get(c.ref.sysId)?.correlationId);
        if (job) jobs.push(job);
      },
    }).reconcile(
      table,
      [...known].map(([sysId, k]) => ({ sysId, modCount: k.modCount })),
      `correlation_idSTARTSWITH${CORRELATION_PREFIX}`,
    );
    await this.markSeen(instance, 'reconcile');
    return { jobs };
  }

  private async markSeen(instance: string, source: string): Promise<void> {
    this.lastSeen.set(instance, { at: Date.now(), source });
  }

  /** What each instance's sync last saw, and whether it has gone quiet for too long. */
  status(now = Date.now()): { instance: string; lastSeenAt?: string; source?: string; stale: boolean }[] {
    return [...this.tracked.values()].map(({ handle }) => {
      const seen = this.lastSeen.get(handle.name);
      const staleAfter = 3 * handle.config.pollIntervalSeconds * 1000 + 60_000;
      return {
        instance: handle.name,
        lastSeenAt: seen ? new Date(seen.at).toISOString() : undefined,
        source: seen?.source,
        stale: !seen || now - seen.at > staleAfter,
      };
    });
  }

  private itemId(owner: { flow: string; id: string }): string {
    return this.itemIds.get(owner.flow)?.(owner.id) ?? owner.id;
  }

  /**
   * A flow whose correlation ids carry more than the item id (e.g. a ticket generation,
   * `tl:defender:<item>/2`) maps them back to the item the change belongs to.
   */
  mapItemIds(flow: string, toItem: (correlationItem: string) => string): void {
    this.itemIds.set(flow, toItem);
  }

  /** A flow that opens tickets in `table` on this instance asks to hear about their changes. */
  track(handle: ServiceNowConnectionHandle, table: string): void {
    const t = this.tracked.get(handle.name) ?? { handle, tables: new Set<string>() };
    t.tables.add(table);
    this.tracked.set(handle.name, t);
  }

  /** Durably accept one change (push path): returns once the job is stored. */
  async accept(instance: string, c: TicketChange): Promise<void> {
    await this.markSeen(instance, c.source);
    const job = changeJob(instance, c);
    if (job) await this.deps.engine.enqueue(job);
  }

  /** Register webhook routes and polling schedules for everything tracked. Call before listen. */
  async install(): Promise<void> {
    for (const { handle, tables } of this.tracked.values()) {
      const hook = handle.config.webhook;
      if (hook) {
        const auth =
          hook.type === 'hmac'
            ? { type: 'hmac' as const, secret: resolveSecret(hook.secret).reveal() }
            : hook.type === 'basic'
              ? { type: 'basic' as const, username: hook.username, password: resolveSecret(hook.password).reveal() }
              : { type: 'bearer' as const, token: resolveSecret(hook.token).reveal() };
        await registerServiceNowWebhook(this.deps.http as unknown as FastifyInstance, {
          path: webhookPath(handle.name),
          auth,
          instanceUrl: handle.config.instanceUrl,
          tables: [...tables],
          onChange: (c) => this.accept(handle.name, c),
        });
      }
      for (const table of tables) {
        const key = `${handle.name}/${table}`;
        await this.deps.engine.schedule(`itsm-poll:${key}`, handle.config.pollIntervalSeconds * 1000, 'itsm.poll', { instance: handle.name, table });
        await this.deps.engine.schedule(`itsm-reconcile:${key}`, handle.config.reconcileIntervalSeconds * 1000, 'itsm.reconcile', { instance: handle.name, table });
      }
    }
  }
}

/** Where an instance's business rule posts (see docs/servicenow-business-rule.js). */
export function webhookPath(instance: string): string {
  return `/webhooks/servicenow/${encodeURIComponent(instance)}`;
}

export type { TicketRef };
