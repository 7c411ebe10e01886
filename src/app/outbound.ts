import type { Logger } from 'pino';
import type { OutboundCall, OutboundRecorder } from '../connectors/http.ts';
import { appendAudit } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { Clock } from '../engine/clock.ts';
import type { Metrics } from './metrics.ts';

/**
 * Records every outbound call — method, URL (secrets redacted), status, duration; never bodies or
 * headers — in metrics at once and in the audit log in small batches, so a busy reconcile does
 * not pay one transaction per call. A crash can lose at most the last unflushed batch.
 */
export class OutboundAudit implements OutboundRecorder {
  private buffer: OutboundCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly actor: string,
    private readonly metrics?: Metrics,
    private readonly log?: Logger,
    private readonly flushMs = 250,
  ) {}

  record(call: OutboundCall): void {
    this.metrics?.outboundCall(call);
    this.buffer.push({ ...call, headers: undefined });
    if (this.buffer.length >= 200) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.store.db
        .transaction()
        .execute((trx) =>
          appendAudit(
            trx,
            batch.map((c) => ({
              kind: 'outbound' as const,
              actor: this.actor,
              subject: c.upstream,
              detail: {
                method: c.method,
                url: c.url,
                status: c.status,
                durationMs: Math.round(c.durationMs),
                ...(c.error ? { error: c.error } : {}),
              },
            })),
            this.clock.now(),
            this.store.keys,
          ),
        )
        .catch((e) =>
          this.log?.warn({ err: (e as Error).message, calls: batch.length }, 'could not write outbound audit rows'),
        ),
    );
    return this.flushing;
  }
}
