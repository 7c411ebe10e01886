import type { OffsetClock } from '../shared/clock.ts';

/**
 * The service-communications API's limits (concepts/throttling.md): 240 requests per 60 s and 800
 * per hour, per app per tenant. Sliding windows on sandbox time, so a test can move past them.
 */
export const HEALTH_LIMITS = [
  { windowMs: 60_000, max: 240 },
  { windowMs: 3_600_000, max: 800 },
] as const;

export class HealthThrottle {
  private readonly calls = new Map<string, number[]>();

  constructor(private readonly clock: OffsetClock) {}

  /** Count one request for `key`; undefined when allowed, else the seconds to wait (Retry-After). */
  take(key: string): number | undefined {
    const now = this.clock.now();
    const longest = HEALTH_LIMITS[HEALTH_LIMITS.length - 1].windowMs;
    const times = (this.calls.get(key) ?? []).filter((t) => t > now - longest);
    this.calls.set(key, times);
    let waitMs = 0;
    for (const { windowMs, max } of HEALTH_LIMITS) {
      const inWindow = times.filter((t) => t > now - windowMs);
      // Allowed again once the oldest call of a full window leaves it.
      if (inWindow.length >= max) waitMs = Math.max(waitMs, inWindow[inWindow.length - max] + windowMs - now);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    times.push(now);
    return undefined;
  }
}
