import { resolve } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../../src/store/db.ts';

/**
 * The engine's jobs as the harness judges them after a run. Scheduled runs (`schedule:` keys) come
 * and go by themselves and are left out. A durable timer is a ready job due later: it is pending
 * work, not stuck. Stuck = running, or ready and overdue by more than `graceMs`.
 */
export interface JobCensus {
  done: number;
  dead: number;
  stuck: number;
  timers: number;
  byState: Record<string, number>;
  deadSamples: { kind: string; key: string; last_error: string | null }[];
}

export async function jobCensus(o: { databaseUrl?: string; dataDir: string }, graceMs = 60_000): Promise<JobCensus> {
  const store = await openStore({ databaseUrl: o.databaseUrl, dataDir: resolve(o.dataDir) });
  try {
    const now = Date.now();
    const rows = await store.db
      .selectFrom('jobs')
      .select(['state', sql<number>`count(*)`.as('n')])
      .where('key', 'not like', 'schedule:%')
      .groupBy('state')
      .execute();
    const byState = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
    const count = async (where: (q: any) => any) =>
      Number(
        (
          await where(
            store.db
              .selectFrom('jobs')
              .select(sql<number>`count(*)`.as('n'))
              .where('key', 'not like', 'schedule:%'),
          ).executeTakeFirst()
        )?.n ?? 0,
      );
    const stuck = await count((q) =>
      q.where((eb: any) =>
        eb.or([eb('state', '=', 'running'), eb.and([eb('state', '=', 'ready'), eb('run_at', '<=', now - graceMs)])]),
      ),
    );
    const timers = await count((q) => q.where('state', '=', 'ready').where('run_at', '>', now + graceMs));
    const deadSamples = await store.db
      .selectFrom('jobs')
      .select(['kind', 'key', 'last_error'])
      .where('state', '=', 'dead')
      .limit(5)
      .execute();
    return { done: byState.done ?? 0, dead: byState.dead ?? 0, stuck, timers, byState, deadSamples };
  } finally {
    await store.close();
  }
}

/** Ready or running work that is due now (the drain is not finished while this is above zero). */
export async function dueJobs(o: { databaseUrl?: string; dataDir: string }): Promise<number> {
  const store = await openStore({ databaseUrl: o.databaseUrl, dataDir: resolve(o.dataDir) });
  try {
    const r = await store.db
      .selectFrom('jobs')
      .select(sql<number>`count(*)`.as('n'))
      .where('key', 'not like', 'schedule:%')
      .where((eb) =>
        eb.or([
          eb('state', '=', 'running'),
          eb.and([eb('state', '=', 'ready'), eb('run_at', '<=', Date.now() + 60_000)]),
        ]),
      )
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  } finally {
    await store.close();
  }
}
