import { sql } from 'kysely';
import type { FlowEvent } from '../../engine/apply.ts';
import type { JobHandler } from '../../engine/engine.ts';
import { enqueueJobs, type JobSpec } from '../../engine/jobs.ts';
import { assessmentJudge, itemIdFor, type Entry, type MetadataCache } from './assessments.ts';
import { ticketloopReminds, timeframeDays, type DefenderIntegration } from './config.ts';
import type { Deps, MetadataInfo } from './effects.ts';
import { ACTIVE, FLOW, type DefenderEvent, type ItemInfo, type ItemState } from './flow.ts';
import { resolvePeople, type PersonProblem } from './people.ts';
import { coreDb, defenderDb, type DefenderAssessmentTable, type DefenderDb } from './tables.ts';

/**
 * The reconcile pass: stream assessment pages from ARM (one page in memory at a time), diff each
 * page against the stored rows in ONE query, and in one transaction per page write the changed
 * rows and feed the flow only the items whose members changed. Rows exist only for unhealthy
 * assessments being tracked, so "healthy and no row" — the common case — costs nothing; a pass
 * that finds nothing changed writes only `seen` stamps and makes no ServiceNow call at all.
 * Rows not seen by a complete pass belong to assessments that are gone: treated as healed.
 */

export interface ReconcileStats {
  integration: string;
  pass: number;
  pages: number;
  assessments: number;
  unhealthy: number;
  /** Unhealthy assessments newly attached to an item (ticket). */
  attached: number;
  /** Tracked assessments now healthy, filtered out, or gone. */
  healed: number;
  /** Held back by the daily cap. */
  capped: number;
  /** Items that got a `members` event (each may open or resolve a ticket). */
  itemEvents: number;
  ms: number;
  /** The pass did not run: people of the mapping the ITSM does not know. */
  blocked?: PersonProblem[];
}

type Row = Pick<DefenderAssessmentTable, 'id' | 'item' | 'governed_ticket' | 'resource_id' | 'name'>;

const chunks = <T>(xs: T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, k) => xs.slice(k * n, k * n + n));
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Start a pass: its stamp always grows, even on a clock that stands still (tests). */
async function startPass(db: DefenderDb, integration: string, now: number) {
  const row = await db
    .selectFrom('defender_pass')
    .selectAll()
    .where('integration', '=', integration)
    .executeTakeFirst();
  const pass = Math.max(now, Number(row?.pass ?? 0) + 1);
  await db
    .insertInto('defender_pass')
    .values({ integration, pass, cap_day: null, cap_opened: 0, last_stats: null, updated_at: now })
    .onConflict((oc) => oc.column('integration').doUpdateSet({ pass, updated_at: now }))
    .execute();
  return {
    pass,
    capDay: row?.cap_day ?? undefined,
    capOpened: Number(row?.cap_opened ?? 0),
    finished: finishedStats(row?.last_stats ?? null),
  };
}

/**
 * `last_stats` holds the last finished pass's figures and, while a pass runs, its figures so far
 * under `current` (rewritten after each page): what the console's progress display polls.
 */
export function finishedStats(lastStats: string | null): Record<string, unknown> | null {
  if (!lastStats) return null;
  const finished = JSON.parse(lastStats) as Record<string, unknown>;
  delete finished.current;
  return Object.keys(finished).length ? finished : null;
}

/** One pass at a time per integration in this process (the schedule keeps instances apart). */
const running = new WeakMap<object, Map<string, Promise<unknown>>>();

export async function reconcile(
  d: Deps & { meta: MetadataCache },
  i: DefenderIntegration,
  heartbeat: () => Promise<void> = async () => {},
): Promise<ReconcileStats> {
  const locks = running.get(d) ?? new Map<string, Promise<unknown>>();
  running.set(d, locks);
  const before = locks.get(i.name) ?? Promise.resolve();
  const mine = before.catch(() => {}).then(() => gatedPass(d, i, heartbeat));
  locks.set(i.name, mine);
  try {
    return await mine;
  } finally {
    if (locks.get(i.name) === mine) locks.delete(i.name);
  }
}

/**
 * A pass only while the mapping's people are known: with one unknown, nothing is read or written
 * (the assessments wait, none is lost) and the problem stays on the integration until a pass finds
 * them all again.
 */
async function gatedPass(
  d: Deps & { meta: MetadataCache },
  i: DefenderIntegration,
  heartbeat: () => Promise<void>,
): Promise<ReconcileStats> {
  const db = defenderDb(d.app.store.db);
  const now = d.app.clock.now();
  const { problems } = await resolvePeople(d.app.connections.itsm(i.itsm), i);
  const blocked = problems.length ? JSON.stringify(problems) : null;
  await db
    .insertInto('defender_pass')
    .values({ integration: i.name, pass: 0, cap_day: null, cap_opened: 0, last_stats: null, blocked, updated_at: now })
    .onConflict((oc) => oc.column('integration').doUpdateSet({ blocked }))
    .execute();
  if (!problems.length) return runPass(d, i, heartbeat);
  d.app.log.warn({ integration: i.name, problems }, 'defender: reconcile stopped, the mapping names unknown people');
  const zero = { pages: 0, assessments: 0, unhealthy: 0, attached: 0, healed: 0, capped: 0, itemEvents: 0, ms: 0 };
  return { integration: i.name, pass: 0, ...zero, blocked: problems };
}

async function runPass(
  d: Deps & { meta: MetadataCache },
  i: DefenderIntegration,
  heartbeat: () => Promise<void>,
): Promise<ReconcileStats> {
  const started = performance.now();
  const db = defenderDb(d.app.store.db);
  const now = d.app.clock.now();
  const arm = d.app.connections.microsoft().arm;
  const { pass, capDay, capOpened, finished } = await startPass(db, i.name, now);
  const startedAt = new Date(now).toISOString();
  const progress = () =>
    db
      .updateTable('defender_pass')
      .set({ last_stats: JSON.stringify({ ...finished, current: { ...stats, startedAt } }) })
      .where('integration', '=', i.name)
      .where('pass', '=', pass)
      .execute();
  let openedToday = capDay === day(now) ? capOpened : 0;
  const stats: ReconcileStats = {
    integration: i.name,
    pass,
    pages: 0,
    assessments: 0,
    unhealthy: 0,
    attached: 0,
    healed: 0,
    capped: 0,
    itemEvents: 0,
    ms: 0,
  };
  const judge = assessmentJudge(i);
  const policy = {
    closedWhileUnhealthy: i.closedWhileUnhealthy,
    remind: ticketloopReminds(i),
    daysBefore: i.notifications.daysBefore,
    weekly: i.notifications.weekly,
  };
  const itemInfo = (e: Entry): ItemInfo => ({
    integration: i.name,
    assessmentKey: e.name,
    ...(i.grouping === 'resource' ? { resourceId: e.resourceId } : {}),
    title: e.title,
    severity: e.severity,
    timeframeDays: timeframeDays(i, e.severity),
    grace: i.gracePeriod,
    owner: i.mapping.assignedTo,
    policy,
  });

  /** One transaction: rows written, flow fed, governance deletions queued. */
  async function commit(o: {
    upserts: (Entry & { item: string | null })[];
    seen: string[];
    healed: Row[];
    added: Map<string, Entry[]>;
    tag: string;
  }) {
    const removed = new Map<string, number>();
    for (const r of o.healed) if (r.item) removed.set(r.item, (removed.get(r.item) ?? 0) + 1);
    const items = new Set([...o.added.keys(), ...removed.keys()]);
    const ungovern = o.healed.filter((r) => r.governed_ticket).map((r) => [r.resource_id, r.name] as [string, string]);
    if (!o.upserts.length && !o.seen.length && !o.healed.length) return;
    await db.transaction().execute(async (trx) => {
      for (const part of chunks(o.upserts, 1000)) {
        await trx
          .insertInto('defender_assessment')
          .values(
            part.map((e) => ({
              integration: i.name,
              id: e.id,
              item: e.item,
              name: e.name,
              resource_id: e.resourceId,
              severity: e.severity,
              governed_ticket: null,
              seen: pass,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['integration', 'id']).doUpdateSet((eb) => ({
              // An item set meanwhile (a manual assignment made while this page was diffed) stays.
              item: sql<string | null>`coalesce(defender_assessment.item, excluded.item)`,
              seen: eb.ref('excluded.seen'),
              severity: eb.ref('excluded.severity'),
            })),
          )
          .execute();
      }
      for (const part of chunks(o.seen, 5000)) {
        await trx
          .updateTable('defender_assessment')
          .set({ seen: pass })
          .where('integration', '=', i.name)
          .where('id', 'in', part)
          .execute();
      }
      for (const part of chunks(
        o.healed.map((r) => r.id),
        5000,
      )) {
        await trx.deleteFrom('defender_assessment').where('integration', '=', i.name).where('id', 'in', part).execute();
      }
      const events: FlowEvent[] = [];
      for (const item of items) {
        const added = o.added.get(item) ?? [];
        const sample = added[0] ?? (await sampleEntry(trx, item));
        if (!sample) continue;
        // The count comes from the rows just written, so it is right however the events interleave.
        const count = await trx
          .selectFrom('defender_assessment')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('integration', '=', i.name)
          .where('item', '=', item)
          .executeTakeFirstOrThrow();
        const event: DefenderEvent = {
          type: 'members',
          added: added.length,
          removed: removed.get(item) ?? 0,
          members: Number(count.n),
          info: itemInfo(sample),
        };
        events.push({ flow: FLOW, id: item, event });
      }
      if (events.length) await d.app.engine.applyIn(coreDb(trx), events, `reconcile:${i.name}`);
      const jobs: JobSpec[] = chunks(ungovern, 500).map((pairs, k) => ({
        kind: 'defender.ungovern',
        key: `defender-ungovern:${i.name}:${pass}:${o.tag}:${k}`,
        payload: { integration: i.name, pairs },
      }));
      if (jobs.length) await enqueueJobs(coreDb(trx), jobs, now);
      await trx
        .updateTable('defender_pass')
        .set({ cap_day: day(now), cap_opened: openedToday })
        .where('integration', '=', i.name)
        .execute();
    });
    stats.healed += o.healed.length;
    stats.itemEvents += items.size;
    if (items.size || ungovern.length) d.app.engine.wake();
  }

  await d.meta.prime();
  for await (const page of arm.listAssessments(i.scope, { pageSize: i.pageSize })) {
    stats.pages++;
    stats.assessments += page.value.length;
    await heartbeat();
    const keys = new Set(page.value.map((a) => a.name.toLowerCase()));
    const meta = new Map<string, MetadataInfo | undefined>();
    for (const k of keys) meta.set(k, await d.meta.get(k));

    const entries = new Map<string, { e: Entry; unhealthy: boolean }>();
    for (const a of page.value) {
      const { entry, unhealthy } = judge(a, meta.get(a.name.toLowerCase()));
      if (unhealthy) stats.unhealthy++;
      entries.set(entry.id, { e: entry, unhealthy });
    }
    const rows = await db
      .selectFrom('defender_assessment')
      .select(['id', 'item', 'governed_ticket', 'resource_id', 'name'])
      .where('integration', '=', i.name)
      .where('id', 'in', [...entries.keys()])
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));

    const seen: string[] = [];
    const healed: Row[] = [];
    const candidates = new Map<string, Entry[]>();
    for (const [id, { e, unhealthy }] of entries) {
      const row = byId.get(id);
      if (!unhealthy) {
        if (row) healed.push(row);
      } else if (row?.item) {
        seen.push(id);
      } else {
        const item = itemIdFor(i, e.name, e.resourceId);
        const list = candidates.get(item) ?? [];
        list.push(e);
        candidates.set(item, list);
      }
    }
    // Attach new unhealthy members: free when their item has a live ticket, else one ticket against the cap.
    const upserts: (Entry & { item: string | null })[] = [];
    const added = new Map<string, Entry[]>();
    if (candidates.size) {
      const states = await db
        .selectFrom('flow_state')
        .select(['id', 'state'])
        .where('flow', '=', FLOW)
        .where('id', 'in', [...candidates.keys()])
        .execute();
      const status = new Map(states.map((r) => [r.id, (JSON.parse(r.state) as ItemState).status]));
      for (const [item, list] of candidates) {
        const st = status.get(item);
        const live = st !== undefined && ACTIVE.includes(st);
        if (live || i.dailyCap === 0 || openedToday < i.dailyCap) {
          if (!live) openedToday++;
          added.set(item, list);
          for (const e of list) upserts.push({ ...e, item });
          stats.attached += list.length;
        } else {
          for (const e of list) upserts.push({ ...e, item: null });
          stats.capped += list.length;
        }
      }
    }
    await commit({ upserts, seen, healed, added, tag: `p${stats.pages}` });
    await progress();
  }

  // The pass completed: whatever it did not see is gone from Defender (resource deleted, scope changed).
  for (let k = 0; ; k++) {
    const gone = await db
      .selectFrom('defender_assessment')
      .select(['id', 'item', 'governed_ticket', 'resource_id', 'name'])
      .where('integration', '=', i.name)
      .where('seen', '<', pass)
      .limit(5000)
      .execute();
    if (!gone.length) break;
    await commit({ upserts: [], seen: [], healed: gone, added: new Map(), tag: `gone${k}` });
    if (gone.length < 5000) break;
  }
  stats.ms = Math.round(performance.now() - started);
  const lastStats = JSON.stringify({ ...stats, at: new Date(now).toISOString() });
  await db
    .updateTable('defender_pass')
    .set({ last_stats: lastStats, updated_at: now })
    .where('integration', '=', i.name)
    .execute();
  return stats;
}

/** Item info for an item that only lost members (no new entry on this page to describe it). */
async function sampleEntry(db: DefenderDb, item: string): Promise<Entry | undefined> {
  const row = await db
    .selectFrom('flow_state')
    .select('state')
    .where('flow', '=', FLOW)
    .where('id', '=', item)
    .executeTakeFirst();
  if (!row) return undefined;
  const s = JSON.parse(row.state) as ItemState;
  return { id: '', name: s.assessmentKey, resourceId: s.resourceId ?? '', severity: s.severity, title: s.title };
}

export function reconcileHandler(d: Deps & { meta: MetadataCache }): JobHandler {
  return async (p: { integration: string }, ctx) => {
    const i = d.integrations.get(p.integration);
    if (!i || !i.enabled) return {};
    const stats = await reconcile(d, i, () => ctx.heartbeat());
    d.app.log.info(stats, 'defender reconcile pass');
    return {};
  };
}
