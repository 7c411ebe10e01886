import type { Kysely } from 'kysely';
import type { Clock } from '../../engine/clock.ts';
import { ConcurrentUpdateError, effectJob, type Flow } from '../../engine/flow.ts';
import { enqueueJobs, type JobSpec } from '../../engine/jobs.ts';
import { appendAudit, type AuditEntry } from '../../store/audit.ts';
import type { Database } from '../../store/schema.ts';

/**
 * Group commit for inbound callouts. Every callout is stored (state + effect jobs + audit row)
 * before its 202, but callouts that arrive in the same event-loop turn share one transaction
 * and a handful of multi-row statements: at thousands of callouts per second the per-statement
 * and per-commit cost, not the decision, is what limits throughput. The semantics are those of
 * `engine.dispatch` applied to each callout in arrival order.
 */

interface Pending<E> {
  id: string;
  event: E;
  resolve(r: { created: boolean }): void;
  reject(e: unknown): void;
}

const MAX_BATCH = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class GroupIntake<S, E> {
  private queue: Pending<E>[] = [];
  private scheduled = false;
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly flow: Flow<S, E>,
    private readonly clock: Clock,
    private readonly actor: string,
    /** Called after a commit that enqueued jobs (wake the engine). */
    private readonly onJobs: () => void,
  ) {}

  /** Resolves once the event is committed; `created` says whether the item is new. */
  submit(id: string, event: E): Promise<{ created: boolean }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id, event, resolve, reject });
      // setImmediate runs after the current I/O phase: requests parsed in the same turn join one batch.
      if (!this.scheduled && !this.running) {
        this.scheduled = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const r = await this.commitWithRetry(batch);
          batch.forEach((p, i) => p.resolve({ created: r.created[i] }));
          if (r.jobs) this.onJobs();
        } catch (e) {
          if (batch.length === 1) {
            batch[0].reject(e);
            continue;
          }
          // One bad item must not fail its neighbours: retry them one by one.
          for (const p of batch) {
            try {
              const r = await this.commitWithRetry([p]);
              p.resolve({ created: r.created[0] });
              if (r.jobs) this.onJobs();
            } catch (err) {
              p.reject(err);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async commitWithRetry(batch: Pending<E>[]): Promise<{ created: boolean[]; jobs: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => this.apply(trx, batch));
      } catch (e) {
        if (!contention(e) || attempt >= 10) throw e;
        await sleep(Math.random() * 5 * attempt);
      }
    }
  }

  /** Load the batch's rows once, decide in order, write with multi-row statements. */
  private async apply(trx: Kysely<Database>, batch: Pending<E>[]): Promise<{ created: boolean[]; jobs: number }> {
    const now = this.clock.now();
    const ids = [...new Set(batch.map((p) => p.id))];
    const rows = await trx.selectFrom('flow_state').select(['id', 'state', 'version']).where('flow', '=', this.flow.name).where('id', 'in', ids).execute();
    const items = new Map<string, { state: S; version: number; existed: boolean; dirty: boolean }>();
    for (const r of rows) items.set(r.id, { state: JSON.parse(r.state) as S, version: Number(r.version), existed: true, dirty: false });

    const jobs: JobSpec[] = [];
    const audits: AuditEntry[] = [];
    const created = batch.map((p) => {
      const cur = items.get(p.id);
      const d = this.flow.decide(cur?.state, p.event, now);
      if (!d) return false;
      const effects = (d.effects ?? []).map((e) => effectJob(this.flow.name, p.id, e));
      jobs.push(...effects);
      audits.push({ kind: 'state', actor: this.actor, subject: `${this.flow.name}/${p.id}`, detail: { action: d.audit.action, ...d.audit.detail, effects: effects.map((j) => j.kind) } });
      items.set(p.id, { state: d.state, version: cur?.version ?? 0, existed: cur?.existed ?? false, dirty: true });
      return !cur;
    });

    const inserts = [...items].filter(([, v]) => v.dirty && !v.existed);
    if (inserts.length) {
      const r = await trx
        .insertInto('flow_state')
        .values(inserts.map(([id, v]) => ({ flow: this.flow.name, id, state: JSON.stringify(v.state), version: 1, created_at: now, updated_at: now })))
        .onConflict((oc) => oc.columns(['flow', 'id']).doNothing())
        .executeTakeFirst();
      // Someone else created one of these ids meanwhile: redo the batch against what is there now.
      if (Number(r.numInsertedOrUpdatedRows ?? 0) !== inserts.length) throw new ConcurrentUpdateError(this.flow.name, inserts[0][0]);
    }
    for (const [id, v] of items) {
      if (!v.dirty || !v.existed) continue;
      const r = await trx
        .updateTable('flow_state')
        .set({ state: JSON.stringify(v.state), version: v.version + 1, updated_at: now })
        .where('flow', '=', this.flow.name)
        .where('id', '=', id)
        .where('version', '=', v.version)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new ConcurrentUpdateError(this.flow.name, id);
    }
    const n = jobs.length ? await enqueueJobs(trx, jobs, now) : 0;
    await appendAudit(trx, audits, now);
    return { created, jobs: n };
  }
}

function contention(e: unknown): boolean {
  if (e instanceof ConcurrentUpdateError) return true;
  const code = (e as { code?: string })?.code ?? '';
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === '40001' || code === '40P01' || code === '23505';
}
