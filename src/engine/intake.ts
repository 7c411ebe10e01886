import type { Clock } from './clock.ts';
import { applyEvents, inTransaction, type AppliedEvent } from './apply.ts';
import type { Flow } from './flow.ts';
import type { Store } from '../store/db.ts';

/**
 * Group commit for events arriving over HTTP. Every event is stored (state + effect jobs + audit
 * row) before its request is answered, but events that arrive in the same event-loop turn share
 * one transaction: at thousands of requests per second the per-commit cost, not the decision, is
 * what limits throughput. The semantics are those of applying each event alone, in arrival order.
 */

interface Pending {
  id: string;
  event: unknown;
  resolve(r: AppliedEvent): void;
  reject(e: unknown): void;
}

const MAX_BATCH = 256;

export class GroupIntake {
  private queue: Pending[] = [];
  private scheduled = false;
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly flow: Flow<unknown, unknown>,
    private readonly clock: Clock,
    private readonly actor: string,
    /** Called after a commit that enqueued jobs (wake the engine). */
    private readonly onJobs: () => void,
  ) {}

  /** Resolves once the event is committed. */
  submit(id: string, event: unknown): Promise<AppliedEvent> {
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
          await this.commit(batch);
        } catch (e) {
          if (batch.length === 1) {
            batch[0].reject(e);
            continue;
          }
          // One bad event must not fail its neighbours: commit them one by one.
          for (const p of batch) await this.commit([p]).catch((err) => p.reject(err));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    const events = batch.map((p) => ({ flow: this.flow.name, id: p.id, event: p.event }));
    const r = await inTransaction(
      this.store.db,
      (trx) => applyEvents(trx, () => this.flow, events, this.clock.now(), this.actor, this.store.keys),
      10,
    );
    batch.forEach((p, i) => p.resolve(r.results[i]));
    if (r.jobs) this.onJobs();
  }
}
