import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fault injection for a sandbox service, changed at runtime through its admin endpoint
 * (`GET|PUT|PATCH|DELETE /_sandbox/faults`). Each service gives its own error body so the
 * injected failures look exactly like that upstream's (ServiceNow, Graph, ARM envelopes).
 */
export interface FaultSettings {
  /** Share of requests answered with `errorStatus` (0..1). */
  errorRate: number;
  errorStatus: number;
  /** Share of requests answered 429 with Retry-After (0..1). */
  rateLimitRate: number;
  /** The next N requests are answered 429. */
  burst429: number;
  retryAfterSeconds: number;
  /** Added latency per request. */
  latencyMs: number;
  /** Share of requests that never get an answer: the socket is dropped after `timeoutHangMs`. */
  timeoutRate: number;
  timeoutHangMs: number;
  /** Share of outbound webhooks/callouts the sandbox silently drops (0..1). */
  dropWebhookRate: number;
  /** Only requests whose path matches this regular expression are affected (default: all API paths). */
  pathPattern?: string;
}

export const noFaults = (): FaultSettings => ({
  errorRate: 0,
  errorStatus: 503,
  rateLimitRate: 0,
  burst429: 0,
  retryAfterSeconds: 1,
  latencyMs: 0,
  timeoutRate: 0,
  timeoutHangMs: 5_000,
  dropWebhookRate: 0,
});

export interface FaultBodies {
  /** `path`: for a service whose paths answer in different vendors' forms (the chat receiver). */
  error(status: number, path: string): unknown;
  tooManyRequests(retryAfterSeconds: number, path: string): unknown;
  /** Extra headers on a 429 (X-RateLimit-*, x-ms-ratelimit-*). */
  rateLimitHeaders?(retryAfterSeconds: number): Record<string, string>;
}

export class Faults {
  settings: FaultSettings = noFaults();
  injected = { errors: 0, rateLimited: 0, timeouts: 0, droppedWebhooks: 0 };

  update(patch: Partial<FaultSettings>): FaultSettings {
    this.settings = { ...this.settings, ...patch };
    return this.settings;
  }
  reset(): FaultSettings {
    this.settings = noFaults();
    return this.settings;
  }
  /** Ask before sending a webhook/callout: false means drop it (and count it). */
  deliverWebhook(): boolean {
    if (Math.random() < this.settings.dropWebhookRate) {
      this.injected.droppedWebhooks++;
      return false;
    }
    return true;
  }
}

const ADMIN_PREFIX = '/_sandbox';

/** By default faults hit every path but the admin ones (`/_sandbox/…`), the web UI and `/`. */
const defaultApplies = (path: string) => !path.startsWith(ADMIN_PREFIX) && !path.startsWith('/ui') && path !== '/';

export function registerFaults(
  app: FastifyInstance,
  faults: Faults,
  bodies: FaultBodies,
  o: { applies?: (path: string) => boolean } = {},
): void {
  const applies = o.applies ?? defaultApplies;
  app.get(`${ADMIN_PREFIX}/faults`, async () => ({ settings: faults.settings, injected: faults.injected }));
  app.put(`${ADMIN_PREFIX}/faults`, async (req) => ({
    settings: faults.update({ ...noFaults(), ...(req.body as object) }),
  }));
  app.patch(`${ADMIN_PREFIX}/faults`, async (req) => ({ settings: faults.update(req.body as Partial<FaultSettings>) }));
  app.delete(`${ADMIN_PREFIX}/faults`, async () => ({ settings: faults.reset() }));

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0];
    if (!applies(path)) return;
    const s = faults.settings;
    if (s.pathPattern && !new RegExp(s.pathPattern).test(path)) return;
    if (s.latencyMs > 0) await new Promise((r) => setTimeout(r, s.latencyMs));
    if (s.timeoutRate > 0 && Math.random() < s.timeoutRate) {
      faults.injected.timeouts++;
      reply.hijack();
      setTimeout(() => req.raw.socket.destroy(), s.timeoutHangMs);
      return reply;
    }
    if (s.burst429 > 0 || (s.rateLimitRate > 0 && Math.random() < s.rateLimitRate)) {
      if (s.burst429 > 0) s.burst429--;
      faults.injected.rateLimited++;
      return reply
        .code(429)
        .headers({
          'retry-after': String(s.retryAfterSeconds),
          ...(bodies.rateLimitHeaders?.(s.retryAfterSeconds) ?? {}),
        })
        .send(bodies.tooManyRequests(s.retryAfterSeconds, path));
    }
    if (s.errorRate > 0 && Math.random() < s.errorRate) {
      faults.injected.errors++;
      return reply.code(s.errorStatus).send(bodies.error(s.errorStatus, path));
    }
  });
}
