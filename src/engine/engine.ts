import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Store } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { appendAudit } from '../store/audit.ts';
import { systemClock, type Clock } from './clock.ts';
import { ENGINE_DEFAULTS } from './defaults.ts';
import { PermanentError } from './errors.ts';
import { nextAttemptAt } from './retry.ts';
import { tickSchedule, upsertSchedule, type ScheduleDef } from './schedules.ts';
import { applyEvents, inTransaction, type AppliedEvent, type FlowEvent } from './apply.ts';
import type { Flow } from './flow.ts';
import {
  claimJobs,
  completeJob,
  completeJobs,
  enqueueJobs,
  extendLease,
  failJob,
  purgeDoneJobs,
  reapExpiredLeases,
  type JobRow,
  type JobSpec,
} from './jobs.ts';

/**
 * The durable engine: claims due jobs with a lease, runs their handlers, retries failures with
 * exponential backoff + jitter (or the upstream's Retry-After), dead-letters after max attempts,
 * re-queues jobs whose worker died, and fires periodic schedules on exactly one instance.
 */

export interface JobContext {
  job: JobRow;
  clock: Clock;
  db: Kysely<Database>;
  log: Logger | undefined;
  /** Extend the lease of a long-running job. */
  heartbeat(): Promise<void>;
}

export interface JobResult {
  /** Events to apply to flows in the same transaction that marks the job done. */
  events?: FlowEvent[];
  /** Follow-up jobs, enqueued in that same transaction. */
  jobs?: JobSpec[];
}

export type JobHandler = (payload: any, ctx: JobContext) => Promise<JobResult | void>;

export interface EngineMetrics {
  jobFinished(kind: string, outcome: 'done' | 'retry' | 'dead' | 'lost', latencyMs: number, runMs: number): void;
  claimLatency(ms: number): void;
}

export interface EngineOptions {
  store: Store;
  clock?: Clock;
  workerId?: string;
  concurrency?: number;
  pollIntervalMs?: number;
  leaseMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Finished (done) jobs older than this are deleted by housekeeping. */
  retainDoneMs?: number;
  log?: Logger;
  metrics?: EngineMetrics;
}

export class Engine {
  readonly workerId: string;
  readonly clock: Clock;
  private readonly store: Store;
  private readonly o: Required<
    Pick<
      EngineOptions,
      'concurrency' | 'pollIntervalMs' | 'leaseMs' | 'backoffBaseMs' | 'backoffMaxMs' | 'retainDoneMs'
    >
  >;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly flows = new Map<string, Flow<any, any>>();
  private readonly schedules = new Map<string, ScheduleDef>();
  private running = false;
  private loop: Promise<void> | undefined;
  private inFlight = new Set<Promise<void>>();
  private wakeUp: (() => void) | undefined;
  /** A wake that arrived while the loop was not idle (mid-claim): the next idle returns at once. */
  private wakePending = false;
  private lastReap = 0;
  private lastPurge = 0;
  /** Finished jobs (with what their handlers returned) waiting for the next group commit. */
  private pendingDone: PendingFinish[] = [];
  private flushingDone = false;
  private lastScheduleTick = 0;
  private readonly log: Logger | undefined;
  private readonly metrics: EngineMetrics | undefined;

  constructor(o: EngineOptions) {
    this.store = o.store;
    this.clock = o.clock ?? systemClock;
    this.workerId = o.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    this.o = { ...ENGINE_DEFAULTS, ...defined };
    this.log = o.log;
    this.metrics = o.metrics;
  }

  get db(): Kysely<Database> {
    return this.store.db;
  }

  register(kind: string, handler: JobHandler): this {
    this.handlers.set(kind, handler);
    return this;
  }

  /** A flow and its effect handlers (`effects[kind]` handles jobs `<flow>.<kind>`). */
  registerFlow(flow: Flow<any, any>, effects: Record<string, JobHandler> = {}): this {
    this.flows.set(flow.name, flow);
    for (const [kind, h] of Object.entries(effects)) this.register(`${flow.name}.${kind}`, h);
    return this;
  }

  /** Run `kind` every `intervalMs` on exactly one instance at a time. */
  async schedule(name: string, intervalMs: number, kind: string, payload: unknown = {}): Promise<void> {
    this.schedules.set(name, { name, intervalMs, kind, payload });
    await upsertSchedule(this.db, name, intervalMs, this.clock.now());
    this.lastScheduleTick = 0;
  }

  async enqueue(specs: JobSpec | JobSpec[], db: Kysely<Database> = this.db): Promise<number> {
    const n = await enqueueJobs(db, Array.isArray(specs) ? specs : [specs], this.clock.now());
    if (n > 0 && db === this.db) this.wake();
    return n;
  }

  /** Apply an event to a flow in its own transaction; redone on a concurrent update. */
  async dispatch<S>(flowName: string, id: string, event: unknown, actor = 'ticketloop'): Promise<AppliedEvent<S>> {
    this.flow(flowName);
    const r = await inTransaction(this.db, (trx) => this.applyIn(trx, [{ flow: flowName, id, event }], actor));
    if (r.jobs > 0) this.wake();
    return r.results[0] as AppliedEvent<S>;
  }

  /** Apply events inside the caller's transaction (pull-style passes that write their own rows too). */
  applyIn(trx: Kysely<Database>, events: FlowEvent[], actor: string) {
    return applyEvents(trx, (name) => this.flow(name), events, this.clock.now(), actor, this.store.keys);
  }

  /** Whether a flow of this name is registered (events for others would dead-letter). */
  hasFlow(name: string): boolean {
    return this.flows.has(name);
  }

  private flow(name: string): Flow<unknown, unknown> {
    const flow = this.flows.get(name);
    if (!flow) throw new PermanentError(`unknown flow ${name}`);
    return flow;
  }

  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stop claiming; wait for in-flight jobs to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  /** For tests and one-shot commands: run until nothing is due now. */
  async drain(maxRounds = 10_000): Promise<void> {
    for (let i = 0; i < maxRounds; i++) {
      await this.housekeeping(true);
      const jobs = await this.claim(this.o.concurrency);
      if (jobs.length === 0 && this.inFlight.size === 0) return;
      await Promise.all(jobs.map((j) => this.execute(j)));
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.housekeeping(false);
        // Whatever woke us is looked at by this claim; a wake during it makes the next idle skip.
        this.wakePending = false;
        const free = this.o.concurrency - this.inFlight.size;
        const jobs = free > 0 ? await this.claim(free) : [];
        for (const job of jobs) {
          const p = this.execute(job).finally(() => {
            this.inFlight.delete(p);
            this.wake();
          });
          this.inFlight.add(p);
        }
        if (jobs.length === 0 || this.inFlight.size >= this.o.concurrency) {
          await this.idle();
          // Woken by a finishing job while others run: let the rest of its group finish first,
          // so one claim fills many free slots instead of one claim per slot.
          if (this.inFlight.size > 0) await new Promise((r) => setImmediate(r));
        }
      } catch (e) {
        // Database gone or similar: back off and try again; nothing accepted is lost.
        this.log?.warn({ err: (e as Error).message }, 'engine loop error; retrying');
        await this.idle(Math.min(5_000, this.o.pollIntervalMs * 5));
      }
    }
  }

  private idle(ms = this.o.pollIntervalMs): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async claim(limit: number): Promise<JobRow[]> {
    const t0 = performance.now();
    const jobs = await claimJobs(this.db, this.store.dialect, this.workerId, limit, this.clock.now(), this.o.leaseMs);
    if (jobs.length) this.metrics?.claimLatency(performance.now() - t0);
    return jobs;
  }

  private async housekeeping(force: boolean): Promise<void> {
    const now = this.clock.now();
    if (force || now - this.lastReap >= Math.min(this.o.leaseMs / 2, 5_000)) {
      this.lastReap = now;
      const n = await reapExpiredLeases(this.db, now);
      if (n) this.log?.warn({ jobs: n }, 're-queued jobs whose worker stopped');
    }
    if (now - this.lastPurge >= 60_000) {
      this.lastPurge = now;
      await purgeDoneJobs(this.db, now - this.o.retainDoneMs);
    }
    if (this.schedules.size && (force || now - this.lastScheduleTick >= 1_000)) {
      this.lastScheduleTick = now;
      for (const s of this.schedules.values()) await tickSchedule(this.db, s, now);
    }
  }

  private async execute(job: JobRow): Promise<void> {
    const started = performance.now();
    const handler = this.handlers.get(job.kind);
    const ctx: JobContext = {
      job,
      clock: this.clock,
      db: this.db,
      log: this.log,
      heartbeat: async () => {
        await extendLease(this.db, job, this.workerId, this.clock.now() + this.o.leaseMs);
      },
    };
    let outcome: 'done' | 'retry' | 'dead' | 'lost';
    try {
      if (!handler) throw new PermanentError(`no handler registered for job kind ${job.kind}`);
      const result = (await handler(JSON.parse(job.payload), ctx)) ?? {};
      outcome = await this.finish(job, result);
    } catch (e) {
      outcome = await this.fail(job, e);
    }
    const now = this.clock.now();
    this.metrics?.jobFinished(job.kind, outcome, Math.max(0, now - job.run_at), performance.now() - started);
  }

  /**
   * Group commit: jobs that finish while a flush is under way are marked done — with the events
   * and jobs their handlers returned — together in the next transaction: one commit for many jobs
   * instead of one each, with no added wait when the engine is quiet. If the group's transaction
   * fails (a concurrent update, a bad event), each job is finished on its own instead.
   */
  private finish(job: JobRow, result: JobResult): Promise<'done' | 'lost'> {
    return new Promise((resolve, reject) => {
      this.pendingDone.push({ job, result, resolve, reject });
      if (!this.flushingDone) void this.flushDone();
    });
  }

  private async flushDone(): Promise<void> {
    this.flushingDone = true;
    try {
      while (this.pendingDone.length) {
        const batch = this.pendingDone.splice(0, 200);
        let done: Set<string>;
        try {
          done = await this.db.transaction().execute((trx) => this.finishIn(trx, batch));
        } catch {
          await Promise.all(batch.map((b) => this.finishAlone(b.job, b.result).then(b.resolve, b.reject)));
          continue;
        }
        for (const b of batch) b.resolve(done.has(b.job.id) ? 'done' : 'lost');
        if (batch.some((b) => done.has(b.job.id) && hasOutput(b.result))) this.wake();
      }
    } finally {
      this.flushingDone = false;
    }
  }

  /** Mark the jobs done (only those whose lease is still ours) and apply what their handlers returned. */
  private async finishIn(trx: Kysely<Database>, batch: { job: JobRow; result: JobResult }[]): Promise<Set<string>> {
    const now = this.clock.now();
    const done = await completeJobs(
      trx,
      batch.filter((b) => !hasOutput(b.result)).map((b) => b.job.id),
      this.workerId,
      now,
    );
    for (const { job, result } of batch.filter((b) => hasOutput(b.result))) {
      if (!(await completeJob(trx, job, this.workerId, now))) continue;
      if (result.events?.length) await this.applyIn(trx, result.events, `job:${job.kind}`);
      if (result.jobs?.length) await enqueueJobs(trx, result.jobs, now);
      done.add(job.id);
    }
    return done;
  }

  /** One job in its own transaction; redone on contention. */
  private async finishAlone(job: JobRow, result: JobResult): Promise<'done' | 'lost'> {
    const done = await inTransaction(this.db, (trx) => this.finishIn(trx, [{ job, result }]));
    if (done.size && hasOutput(result)) this.wake();
    return done.size ? 'done' : 'lost';
  }

  private async fail(job: JobRow, e: unknown): Promise<'retry' | 'dead' | 'lost'> {
    const now = this.clock.now();
    const err = e as Error;
    const message = `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`;
    const retryAt = nextAttemptAt(e, job.attempts, now, this.o);
    try {
      const outcome = await failJob(
        this.db,
        job,
        this.workerId,
        now,
        message,
        retryAt,
        job.key.startsWith('schedule:') ? 'done' : 'dead',
      );
      if (outcome === 'dead' && !job.key.startsWith('schedule:')) {
        this.log?.error({ job: job.id, kind: job.kind, err: message }, 'job dead-lettered');
        await this.db.transaction().execute((trx) =>
          appendAudit(
            trx,
            [
              {
                kind: 'job',
                actor: this.workerId,
                subject: `job/${job.id}`,
                detail: {
                  action: 'dead-lettered',
                  kind: job.kind,
                  key: job.key,
                  attempts: job.attempts,
                  error: message,
                },
              },
            ],
            now,
            this.store.keys,
          ),
        );
      } else if (outcome === 'retry') {
        this.log?.debug({ job: job.id, kind: job.kind, err: message, retryAt }, 'job failed; will retry');
      }
      return outcome;
    } catch (dbErr) {
      // Could not even record the failure (database down): the lease runs out and the job re-runs.
      this.log?.warn({ job: job.id, err: (dbErr as Error).message }, 'could not record job failure');
      return 'lost';
    }
  }
}

const hasOutput = (r: JobResult) => !!(r.events?.length || r.jobs?.length);

interface PendingFinish {
  job: JobRow;
  result: JobResult;
  resolve(outcome: 'done' | 'lost'): void;
  reject(e: unknown): void;
}
