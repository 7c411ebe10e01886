import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Kysely } from 'kysely';
import type { EngineMetrics } from '../engine/engine.ts';
import { countJobsByState } from '../engine/jobs.ts';
import type { OutboundCall } from '../connectors/http.ts';
import type { Database } from '../store/schema.ts';

/** Prometheus metrics for one Ticketloop process (its own registry, so tests can build many). */
export class Metrics implements EngineMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly jobDuration: Histogram<'kind' | 'outcome'>;
  private readonly jobRun: Histogram<'kind'>;
  private readonly claim: Histogram;
  private readonly outbound: Counter<'upstream' | 'status'>;
  private readonly outboundDuration: Histogram<'upstream'>;
  private db: Kysely<Database> | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ticketloop_' });
    const registers = [this.registry];
    const db = () => this.db;
    new Gauge({
      name: 'ticketloop_jobs',
      help: 'Jobs by state',
      labelNames: ['state'],
      registers,
      async collect() {
        const store = db();
        if (!store) return;
        try {
          const counts = await countJobsByState(store);
          for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
        } catch {
          // database unreachable: leave the last values; /readyz reports the outage
        }
      },
    });
    this.jobDuration = new Histogram({
      name: 'ticketloop_job_latency_seconds',
      help: 'From when a job was due to when it finished, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.jobRun = new Histogram({
      name: 'ticketloop_job_run_seconds',
      help: 'Time a job handler ran',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.claim = new Histogram({
      name: 'ticketloop_job_claim_seconds',
      help: 'Time to claim a batch of jobs',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'ticketloop_http_request_duration_seconds',
      help: 'Inbound HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.outbound = new Counter({
      name: 'ticketloop_outbound_requests_total',
      help: 'Outbound calls by upstream and status (0 = no response)',
      labelNames: ['upstream', 'status'],
      registers,
    });
    this.outboundDuration = new Histogram({
      name: 'ticketloop_outbound_request_duration_seconds',
      help: 'Outbound call latency by upstream',
      labelNames: ['upstream'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  attach(db: Kysely<Database>): void {
    this.db = db;
  }

  jobFinished(kind: string, outcome: 'done' | 'retry' | 'dead' | 'lost', latencyMs: number, runMs: number): void {
    this.jobDuration.observe({ kind, outcome }, latencyMs / 1000);
    this.jobRun.observe({ kind }, runMs / 1000);
  }

  claimLatency(ms: number): void {
    this.claim.observe(ms / 1000);
  }

  outboundCall(c: OutboundCall): void {
    this.outbound.inc({ upstream: c.upstream, status: String(c.status) });
    this.outboundDuration.observe({ upstream: c.upstream }, c.durationMs / 1000);
  }
}
