import { sql } from 'kysely';
import { z } from 'zod';
import type { Ticketloop } from '../app/build.ts';
import type { FlowModule } from '../app/module.ts';
import { jsonText } from '../store/json.ts';
import { HttpProblem } from './server.ts';

/**
 * What the console's overview shows, in ONE call: ITSM sync status, job counts, the last day's
 * failures, and per flow and integration the items by status, the last event and hourly series.
 * A fixed number of queries whatever the data (each a GROUP BY), so a refresh never costs N+1.
 * Also: which flows are configured (the console shows their pages) and "test connection".
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RECENT_FAILURES = 10;

const checkResult = z.object({
  target: z.string(),
  check: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  fix: z.string().optional(),
});

// No "generated at" field: an unchanged state must be an unchanged body, so a poll costs a 304.
const overview = z.object({
  sync: z.array(
    z.object({
      instance: z.string(),
      lastSeenAt: z.string().optional(),
      source: z.string().optional(),
      stale: z.boolean(),
    }),
  ),
  jobs: z.array(z.object({ kind: z.string(), state: z.enum(['ready', 'running', 'done', 'dead']), count: z.number() })),
  failures: z.object({
    last24h: z.number(),
    recent: z.array(
      z.object({ id: z.string(), kind: z.string(), key: z.string(), lastError: z.string().nullable(), at: z.string() }),
    ),
  }),
  flows: z.array(
    z.object({
      flow: z.string(),
      integration: z.string(),
      lastEventAt: z.string().nullable(),
      byStatus: z.record(z.string(), z.number()),
      /** Items created per hour, oldest first, the last 24 h. */
      itemsPerHour: z.array(z.number()),
    }),
  ),
  /** Tickets Ticketloop follows, by the hour of their last change, oldest first (the last 24 h). */
  ticketsPerHour: z.array(z.number()),
});

export type OverviewBody = z.infer<typeof overview>;

const hourBuckets = (rows: { hour: number | string | null; n: number | string }[], now: number): number[] => {
  const series = Array.from({ length: 24 }, () => 0);
  const first = Math.floor(now / HOUR) - 23;
  for (const r of rows) {
    const slot = Number(r.hour) - first;
    if (slot >= 0 && slot < 24) series[slot] += Number(r.n);
  }
  return series;
};

export async function loadOverview(t: Ticketloop): Promise<OverviewBody> {
  const db = t.store.db;
  const now = t.clock.now();
  const since = now - DAY;
  const integration = jsonText(t.store.dialect, 'state', 'integration');
  const status = jsonText(t.store.dialect, 'state', 'status');
  // A literal: SQLite would divide by a bound number as a float, and the hours would not group.
  const hourOf = (column: string) => sql<number>`(${sql.ref(column)} / ${sql.lit(HOUR)})`;
  const [jobs, deadCount, recent, byStatus, perHour, tickets] = await Promise.all([
    db
      .selectFrom('jobs')
      .select(['kind', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['kind', 'state'])
      .execute(),
    db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', 'dead')
      .where('updated_at', '>=', since)
      .executeTakeFirst(),
    db
      .selectFrom('jobs')
      .select(['id', 'kind', 'key', 'last_error', 'updated_at'])
      .where('state', '=', 'dead')
      .orderBy('updated_at', 'desc')
      .limit(RECENT_FAILURES)
      .execute(),
    db
      .selectFrom('flow_state')
      .select([
        'flow',
        integration.as('integration'),
        status.as('status'),
        (eb) => eb.fn.countAll<number>().as('n'),
        (eb) => eb.fn.max('updated_at').as('last'),
      ])
      .groupBy(['flow', integration, status])
      .execute(),
    db
      .selectFrom('flow_state')
      .select([
        'flow',
        integration.as('integration'),
        hourOf('created_at').as('hour'),
        (eb) => eb.fn.countAll<number>().as('n'),
      ])
      .where('created_at', '>=', since)
      .groupBy(['flow', integration, hourOf('created_at')])
      .execute(),
    db
      .selectFrom('itsm_ticket')
      .select([hourOf('updated_at').as('hour'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('updated_at', '>=', since)
      .groupBy(hourOf('updated_at'))
      .execute(),
  ]);

  const flows = new Map<string, OverviewBody['flows'][number] & { last: number }>();
  const entry = (flow: string, integ: string | null) => {
    const id = `${flow}\u0000${integ ?? ''}`;
    let e = flows.get(id);
    if (!e) {
      e = { flow, integration: integ ?? '', lastEventAt: null, byStatus: {}, itemsPerHour: [], last: 0 };
      flows.set(id, e);
    }
    return e;
  };
  // Configured integrations show even before their first item.
  for (const i of t.config.integrations) if (i.enabled) entry(i.type, i.name);
  for (const r of byStatus) {
    const e = entry(r.flow, r.integration);
    e.byStatus[r.status ?? 'unknown'] = Number(r.n);
    e.last = Math.max(e.last, Number(r.last ?? 0));
  }
  for (const e of flows.values()) {
    e.itemsPerHour = hourBuckets(
      perHour.filter((r) => r.flow === e.flow && (r.integration ?? '') === e.integration),
      now,
    );
    e.lastEventAt = e.last ? new Date(e.last).toISOString() : null;
  }
  return {
    sync: t.watch.status(),
    jobs: jobs.map((j) => ({ kind: j.kind, state: j.state, count: Number(j.n) })),
    failures: {
      last24h: Number(deadCount?.n ?? 0),
      recent: recent.map((j) => ({
        id: j.id,
        kind: j.kind,
        key: j.key,
        lastError: j.last_error,
        at: new Date(Number(j.updated_at)).toISOString(),
      })),
    },
    flows: [...flows.values()].map(({ last: _last, ...e }) => e),
    ticketsPerHour: hourBuckets(tickets, now),
  };
}

export function registerOverviewRoutes(t: Ticketloop, modules: FlowModule[]): void {
  t.http.get(
    '/api/overview',
    {
      config: { role: 'read' },
      schema: {
        tags: ['overview'],
        summary: 'Every loop at a glance in one call: sync, jobs, failures in the last 24 h, items by status',
        response: { 200: overview },
      },
    },
    async () => loadOverview(t),
  );
  t.http.get(
    '/api/flows',
    {
      config: { role: 'authenticated' },
      schema: {
        tags: ['overview'],
        summary: 'The flows this instance runs and their integrations (the console shows their pages)',
        response: {
          200: z.object({
            flows: z.array(
              z.object({
                name: z.string(),
                integrations: z.array(z.object({ name: z.string(), enabled: z.boolean() })),
              }),
            ),
            itsm: z.array(z.object({ name: z.string(), type: z.string() })),
          }),
        },
      },
    },
    async () => ({
      flows: modules.map((m) => ({
        name: m.name,
        integrations: t.config.integrations
          .filter((i) => i.type === m.name)
          .map((i) => ({ name: i.name, enabled: i.enabled })),
      })),
      itsm: t.config.itsm.map((c) => ({ name: c.name, type: c.type })),
    }),
  );
  t.http.post(
    '/api/checks',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['overview'],
        summary: 'Test every connection now (the doctor checks; no body); the result shows on /readyz too',
        response: { 200: z.object({ results: z.array(checkResult) }) },
      },
    },
    async (req) => {
      // Checks reach out (Graph, ServiceNow): a request that sent something did not mean this one.
      if (req.body !== undefined) throw new HttpProblem(400, 'invalid_request', 'POST /api/checks takes no body');
      return { results: await t.checkConnections() };
    },
  );
}
