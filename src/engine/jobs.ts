import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../store/db.ts';
import type { Database, JobsTable } from '../store/schema.ts';

/** The job table's operations. The engine (engine.ts) drives them; the CLI and API read them. */

export interface JobSpec {
  kind: string;
  /** Idempotency key: a second enqueue with the same key is a no-op. */
  key: string;
  payload?: unknown;
  runAt?: number;
  maxAttempts?: number;
  /** 'urgent': claimed before older normal jobs — for work that finishes what a person is waiting on. */
  priority?: 'urgent' | 'normal';
}

export type JobRow = JobsTable;

export const DEFAULT_MAX_ATTEMPTS = 10;

/**
 * A UUIDv7 (RFC 9562): 48 bits of wall-clock milliseconds, then random bits. Time-ordered ids
 * append to the primary-key index instead of landing on random pages, which matters at
 * thousands of enqueues per second.
 */
export function uuidv7(ms = Date.now()): string {
  // randomUUID draws from a cached entropy pool; keep its random bits and variant, put the time first.
  const ts = ms.toString(16).padStart(12, '0');
  return `${ts.slice(0, 8)}-${ts.slice(8)}-7${randomUUID().slice(15)}`;
}

/** Insert jobs; existing keys are left alone. Returns how many were new. */
export async function enqueueJobs(db: Kysely<Database>, specs: JobSpec[], now: number): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < specs.length; i += 500) {
    const rows = specs.slice(i, i + 500).map((s) => ({
      id: uuidv7(),
      kind: s.kind,
      key: s.key,
      payload: JSON.stringify(s.payload ?? {}),
      state: 'ready' as const,
      run_at: s.runAt ?? now,
      attempts: 0,
      max_attempts: s.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
      priority: s.priority === 'urgent' ? 1 : 0,
    }));
    const r = await db
      .insertInto('jobs')
      .values(rows)
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    inserted += Number(r.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

/**
 * Claim up to `limit` due jobs for `owner` with a lease. One statement, so it is atomic on SQLite;
 * on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several processes claim side by side without ever
 * taking the same row.
 */
export async function claimJobs(
  db: Kysely<Database>,
  dialect: Dialect,
  owner: string,
  limit: number,
  now: number,
  leaseMs: number,
): Promise<JobRow[]> {
  const lock = dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``;
  const claim = async (urgentOnly: boolean, n: number) => {
    const urgent = urgentOnly ? sql`AND priority > 0` : sql``;
    // Without statistics SQLite would pick (state, run_at) and walk every due normal job.
    const index = urgentOnly && dialect === 'sqlite' ? sql`INDEXED BY jobs_claim_urgent` : sql``;
    const r = await sql<JobRow>`
      UPDATE jobs SET state = 'running', lease_owner = ${owner}, lease_until = ${now + leaseMs},
        attempts = attempts + 1, updated_at = ${now}
      WHERE id IN (
        SELECT id FROM jobs ${index} WHERE state = 'ready' ${urgent} AND run_at <= ${now}
        ORDER BY run_at LIMIT ${n} ${lock})
      RETURNING *`.execute(db);
    return r.rows;
  };
  // Urgent jobs first (a small partial index), then the oldest due jobs of any priority.
  const rows = await claim(true, limit);
  if (rows.length < limit) rows.push(...(await claim(false, limit - rows.length)));
  return rows.map((row) => ({ ...row, run_at: Number(row.run_at), attempts: Number(row.attempts) }));
}

/** Jobs whose worker died (lease ran out) go back to ready — or to dead once out of attempts. */
export async function reapExpiredLeases(db: Kysely<Database>, now: number): Promise<number> {
  const r = await db
    .updateTable('jobs')
    .set((eb) => ({
      state: eb
        .case()
        .when('attempts', '>=', eb.ref('max_attempts'))
        .then(sql<JobRow['state']>`'dead'`)
        .else(sql<JobRow['state']>`'ready'`)
        .end(),
      last_error: 'lease expired: the worker stopped before finishing (crash or kill)',
      lease_owner: null,
      lease_until: null,
      updated_at: now,
    }))
    .where('state', '=', 'running')
    .where('lease_until', '<', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Mark done — only if this worker still holds the lease (a reaped job is someone else's now). */
export async function completeJob(db: Kysely<Database>, job: JobRow, owner: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ state: 'done', finished_at: now, updated_at: now, lease_owner: null, lease_until: null, last_error: null })
    .where('id', '=', job.id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Mark many done in one statement (group commit); returns the ids this worker still held. */
export async function completeJobs(
  db: Kysely<Database>,
  ids: string[],
  owner: string,
  now: number,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .updateTable('jobs')
    .set({ state: 'done', finished_at: now, updated_at: now, lease_owner: null, lease_until: null, last_error: null })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** Delete done jobs finished before `before`, a bounded chunk at a time. Returns how many. */
export async function purgeDoneJobs(db: Kysely<Database>, before: number, chunk = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    // A job finishes after it was due, so run_at < before too: a range on the (state, run_at) index.
    const old = db
      .selectFrom('jobs')
      .select('id')
      .where('state', '=', 'done')
      .where('run_at', '<', before)
      .where('finished_at', '<', before)
      .limit(chunk);
    const r = await db.deleteFrom('jobs').where('id', 'in', old).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    total += n;
    if (n < chunk) return total;
  }
}

export async function failJob(
  db: Kysely<Database>,
  job: JobRow,
  owner: string,
  now: number,
  error: string,
  retryAt: number | null,
  /** A periodic run that gave up is simply over (the next slot runs anyway), not a dead letter. */
  giveUpAs: 'dead' | 'done' = 'dead',
): Promise<'retry' | 'dead' | 'lost'> {
  const dead = retryAt === null || job.attempts >= job.max_attempts;
  const r = await db
    .updateTable('jobs')
    .set({
      state: dead ? giveUpAs : 'ready',
      run_at: dead ? job.run_at : retryAt!,
      last_error: error.slice(0, 4000),
      lease_owner: null,
      lease_until: null,
      updated_at: now,
      finished_at: dead ? now : null,
    })
    .where('id', '=', job.id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return 'lost';
  return dead ? 'dead' : 'retry';
}

export async function extendLease(db: Kysely<Database>, job: JobRow, owner: string, until: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ lease_until: until })
    .where('id', '=', job.id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Put a dead job (or all dead jobs) back in the queue with a fresh set of attempts. */
export async function retryDeadJobs(db: Kysely<Database>, now: number, id?: string): Promise<number> {
  let q = db
    .updateTable('jobs')
    .set({ state: 'ready', attempts: 0, run_at: now, finished_at: null, updated_at: now })
    .where('state', '=', 'dead');
  if (id) q = q.where('id', '=', id);
  return Number((await q.executeTakeFirst()).numUpdatedRows);
}

export interface JobListQuery {
  state?: JobRow['state'];
  kind?: string;
  limit?: number;
  /** Rows after this id in (updated_at desc, id) order — opaque cursor for paging. */
  offset?: number;
}

export async function listJobs(db: Kysely<Database>, q: JobListQuery = {}): Promise<JobRow[]> {
  let query = db.selectFrom('jobs').selectAll();
  if (q.state) query = query.where('state', '=', q.state);
  if (q.kind) query = query.where('kind', '=', q.kind);
  return query
    .orderBy('updated_at', 'desc')
    .orderBy('id')
    .limit(Math.min(q.limit ?? 50, 1000))
    .offset(q.offset ?? 0)
    .execute();
}

export async function countJobsByState(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  const out: Record<string, number> = { ready: 0, running: 0, done: 0, dead: 0 };
  for (const r of rows) out[r.state] = Number(r.n);
  return out;
}
