import { systemClock, type Clock } from '../../engine/clock.ts';
import type { TicketChange } from '../port.ts';
import { TICKET_FIELDS, toRef, toTicket, type MapContext } from './map.ts';
import { str, type ServiceNowClient, type SnRecord } from './client.ts';
import { checkValue, formatSnDate, parseSnDate, q, QueryError, type Query } from './query.ts';

/**
 * Polling backstop for the webhook: records changed since a watermark on `sys_updated_on`, read
 * with keyset paging (`sys_updated_on`, then `sys_id`) so concurrent updates cannot shift a page,
 * starting a look-back window before the watermark (late commits, clock skew), deduplicated by
 * `sys_id` + `sys_mod_count`. All dates are UTC `YYYY-MM-DD HH:MM:SS`, formatted here.
 * `reconcile()` compares tracked tickets with the instance to catch what polling cannot see:
 * hard deletes (reported `deleted: true`) and anything the watermark skipped.
 */

export interface WatermarkStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export class MemoryWatermarkStore implements WatermarkStore {
  readonly values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

export interface PollerOptions {
  client: ServiceNowClient;
  table: string;
  store: WatermarkStore;
  onChange(c: TicketChange): Promise<void>;
  /** Extra filter ANDed into every poll (e.g. `correlation_idSTARTSWITHtl:`). */
  filter?: Query | string;
  /** Fields to read besides the ones a Ticket needs. */
  fields?: string[];
  pageSize?: number;
  /** Default 60 s. */
  lookBackMs?: number;
  clock?: Clock;
  /** Watermark key (default `servicenow:<table>`). */
  key?: string;
  /** With no stored watermark: start this long before now (default: the look-back window). */
  initialLookBackMs?: number;
  system?: string;
  instanceUrl?: string;
}

export interface PollResult {
  seen: number;
  changes: number;
  watermark: string;
}

export interface KnownTicket {
  sysId: string;
  /** The sys_mod_count last seen; unchanged records are not reported again. */
  modCount?: string;
}

interface Mark {
  ts: string;
}

export class ServiceNowPoller {
  private readonly clock: Clock;
  private readonly lookBackMs: number;
  private readonly key: string;
  private readonly ctx: MapContext;
  private readonly fields: string[];
  private readonly filter: string;
  /** sys_id → [sys_mod_count, sys_updated_on ms] for records inside the look-back window. */
  private readonly seen = new Map<string, [string, number]>();

  constructor(private readonly o: PollerOptions) {
    this.clock = o.clock ?? systemClock;
    this.lookBackMs = o.lookBackMs ?? 60_000;
    this.key = o.key ?? `servicenow:${o.table}`;
    this.ctx = { system: o.system ?? 'servicenow', instanceUrl: o.instanceUrl ?? o.client.baseUrl };
    this.fields = [...new Set([...TICKET_FIELDS, ...(o.fields ?? [])])];
    this.filter = typeof o.filter === 'string' ? o.filter : (o.filter?.build() ?? '');
    if (/\^(OR|NQ)|ORDERBY/.test(this.filter))
      throw new QueryError('poller filter must be plain AND terms (no ^OR, ^NQ or ORDERBY)');
  }

  /** One catch-up pass: reads everything changed since the watermark minus the look-back. */
  async pollOnce(): Promise<PollResult> {
    const stored = await this.o.store.get(this.key);
    const markMs = stored ? parseSnDate((JSON.parse(stored) as Mark).ts) : undefined;
    const startMs =
      markMs !== undefined
        ? markMs - this.lookBackMs
        : this.clock.now() - (this.o.initialLookBackMs ?? this.lookBackMs);
    const pageSize = this.o.pageSize ?? 1000;
    let maxTs = markMs ?? startMs;
    let seen = 0;
    let changes = 0;
    let cursor: { ts: string; id: string } | undefined;
    for (;;) {
      const query = this.pageQuery(formatSnDate(startMs), cursor);
      const page = await this.o.client.list(this.o.table, {
        query,
        pageSize,
        fields: this.fields,
        excludeReferenceLink: true,
        noCount: true,
      });
      for (const r of page.records) {
        seen++;
        const ts = parseSnDate(str(r.sys_updated_on)) ?? 0;
        if (ts > maxTs) maxTs = ts;
        if (this.isNew(r, ts)) {
          await this.o.onChange({
            ticket: toTicket(this.ctx, this.o.table, r),
            ref: toRef(this.ctx, this.o.table, r),
            source: 'poll',
          });
          changes++;
        }
      }
      const last = page.records[page.records.length - 1];
      if (page.records.length < pageSize || !last) break;
      cursor = { ts: str(last.sys_updated_on), id: str(last.sys_id) };
    }
    // The watermark never moves past "now" (a record stamped in the future would skip others).
    const watermark = formatSnDate(Math.min(maxTs, this.clock.now()));
    await this.o.store.set(this.key, JSON.stringify({ ts: watermark } satisfies Mark));
    this.prune(parseSnDate(watermark)! - this.lookBackMs);
    return { seen, changes, watermark };
  }

  /**
   * Compare tracked tickets with the instance: every known ticket whose record changed (or all,
   * without modCount) is reported with source 'reconcile'; a ticket the instance no longer
   * returns is reported `deleted: true` (hard delete — or an ACL that now hides it).
   * With `query`, matching records that are not tracked are reported too (e.g. a ticket created
   * by a request whose response was lost).
   */
  async reconcile(
    table: string,
    known: AsyncIterable<string | KnownTicket> | Iterable<string | KnownTicket>,
    query?: Query | string,
  ): Promise<{ checked: number; changed: number; deleted: number; untracked: number }> {
    const stats = { checked: 0, changed: 0, deleted: 0, untracked: 0 };
    const tracked = new Set<string>();
    let batch: KnownTicket[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const byId = new Map(batch.map((k) => [k.sysId, k]));
      const found = new Set<string>();
      const page = q().in('sys_id', byId.keys());
      for await (const r of this.o.client.listAll(table, {
        query: page,
        fields: this.fields,
        excludeReferenceLink: true,
        pageSize: batch.length,
        noCount: true,
      })) {
        const id = str(r.sys_id);
        found.add(id);
        const k = byId.get(id);
        if (k?.modCount !== undefined && k.modCount === str(r.sys_mod_count)) continue;
        stats.changed++;
        await this.o.onChange({
          ticket: toTicket(this.ctx, table, r),
          ref: toRef(this.ctx, table, r),
          source: 'reconcile',
        });
      }
      for (const k of batch) {
        if (found.has(k.sysId)) continue;
        stats.deleted++;
        await this.o.onChange({ ref: toRef(this.ctx, table, { sys_id: k.sysId }), source: 'reconcile', deleted: true });
      }
      batch = [];
    };
    for await (const item of known as AsyncIterable<string | KnownTicket>) {
      const k = typeof item === 'string' ? { sysId: item } : item;
      checkValue('sys_id', k.sysId, ',');
      tracked.add(k.sysId);
      stats.checked++;
      batch.push(k);
      if (batch.length >= 100) await flush();
    }
    await flush();
    if (query) {
      for await (const r of this.o.client.listAll(table, {
        query,
        fields: this.fields,
        excludeReferenceLink: true,
        noCount: true,
      })) {
        if (tracked.has(str(r.sys_id))) continue;
        stats.untracked++;
        await this.o.onChange({
          ticket: toTicket(this.ctx, table, r),
          ref: toRef(this.ctx, table, r),
          source: 'reconcile',
        });
      }
    }
    return stats;
  }

  /** `filter ^ sys_updated_on>=start` for the first page; keyset after (ts, sys_id) for the next. */
  private pageQuery(start: string, cursor?: { ts: string; id: string }): string {
    const f = this.filter ? `${this.filter}^` : '';
    const order = 'ORDERBYsys_updated_on^ORDERBYsys_id';
    if (!cursor) return `${f}${q().gte('sys_updated_on', start).build()}^${order}`;
    const after = q().gt('sys_updated_on', cursor.ts).build();
    const tie = q().eq('sys_updated_on', cursor.ts).gt('sys_id', cursor.id).build();
    return `${f}${after}^NQ${f}${tie}^${order}`;
  }

  private isNew(r: SnRecord, ts: number): boolean {
    const id = str(r.sys_id);
    const mod = str(r.sys_mod_count);
    const prev = this.seen.get(id);
    this.seen.set(id, [mod, ts]);
    return !prev || prev[0] !== mod;
  }

  private prune(beforeMs: number): void {
    for (const [id, [, ts]] of this.seen) if (ts < beforeMs) this.seen.delete(id);
  }
}
