import type { Clock } from '../../src/engine/clock.ts';
import type { Settings } from './settings.ts';

/** sys_id of the sandbox's one sys_rate_limit_rules row ("Table API, all users"). */
export const RATE_RULE_SYS_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const HOUR = 3_600_000;

export interface RateDecision {
  headers: Record<string, string>;
  exceeded: boolean;
  retryAfterSeconds: number;
  limit: number;
}

/**
 * Inbound REST rate limiting (fact sheet §1.9): one "all users" rule on the Table API, counted per
 * user in fixed hourly windows of the sandbox clock. Real instances commit counts every 30 s, so
 * they may overshoot a little; the sandbox is exact, which only makes a client's 429 path easier to hit.
 */
export class RateLimiter {
  private windowStart = 0;
  private counts = new Map<string, number>();

  constructor(
    private readonly settings: Settings,
    private readonly clock: Clock,
  ) {}

  /** Count one request for `user`; undefined when no rule is configured. */
  hit(user: string): RateDecision | undefined {
    const limit = this.settings.value.rateLimit.requestsPerHour;
    if (!limit || limit <= 0) return undefined;
    const now = this.clock.now();
    const start = Math.floor(now / HOUR) * HOUR;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.counts.clear();
    }
    const n = (this.counts.get(user) ?? 0) + 1;
    this.counts.set(user, n);
    const reset = start + HOUR;
    const retryAfterSeconds = Math.max(1, Math.ceil((reset - now) / 1000));
    return {
      headers: {
        'X-RateLimit-Limit': String(limit),
        'X-RateLimit-Reset': String(Math.floor(reset / 1000)),
        'X-RateLimit-Rule': RATE_RULE_SYS_ID,
      },
      exceeded: n > limit,
      retryAfterSeconds,
      limit,
    };
  }

  reset(): void {
    this.counts.clear();
  }
}

export const rateLimitBody = (limit: number) => ({
  error: { message: 'Rate limit exceeded', detail: `Rate limit of ${limit} requests per hour for Table API exceeded` },
  status: 'failure',
});
