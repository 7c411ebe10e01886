import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { enqueueJobs } from './jobs.ts';

/** Periodic schedules: each fires on exactly one instance at a time, and never overlaps its last run. */

export interface ScheduleDef {
  name: string;
  intervalMs: number;
  kind: string;
  payload: unknown;
}

/** Register (or re-register with a new interval) a schedule; a new one is due at once. */
export async function upsertSchedule(
  db: Kysely<Database>,
  name: string,
  intervalMs: number,
  now: number,
): Promise<void> {
  await db
    .insertInto('schedules')
    .values({ name, interval_ms: intervalMs, next_run_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet({ interval_ms: intervalMs }))
    .execute();
}

/**
 * Enqueue the schedule's job if its slot is due. The conditional UPDATE on next_run_at is atomic,
 * so only one instance wins each slot; the "no unfinished run" check keeps a slow run from
 * overlapping the next one.
 */
export async function tickSchedule(db: Kysely<Database>, s: ScheduleDef, now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('schedules')
      .select(['next_run_at', 'last_job_key'])
      .where('name', '=', s.name)
      .executeTakeFirst();
    if (!row || Number(row.next_run_at) > now) return;
    if (row.last_job_key) {
      const last = await trx.selectFrom('jobs').select('state').where('key', '=', row.last_job_key).executeTakeFirst();
      if (last && (last.state === 'ready' || last.state === 'running')) return;
    }
    const key = `schedule:${s.name}:${now}`;
    const won = await trx
      .updateTable('schedules')
      .set({ next_run_at: now + s.intervalMs, last_job_key: key })
      .where('name', '=', s.name)
      .where('next_run_at', '<=', now)
      .returning('next_run_at')
      .executeTakeFirst();
    if (!won) return;
    await enqueueJobs(trx, [{ kind: s.kind, key, payload: s.payload, maxAttempts: 3 }], now);
  });
}
