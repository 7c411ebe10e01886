import { Counter, Gauge, type Registry } from 'prom-client';
import type { RateLimitInfo } from './client.ts';

/**
 * Prometheus gauges for ServiceNow's rate-limit headers (X-RateLimit-Limit / -Remaining / -Reset)
 * and a counter of 429 answers, registered on the registry the app passes in (never the global one).
 * Pass the returned `onRateLimit` to `new ServiceNowClient({ onRateLimit })`.
 */
export interface ServiceNowMetrics {
  onRateLimit(info: RateLimitInfo, instance?: string): void;
}

export function registerServiceNowMetrics(
  registry: Registry,
  opts: { prefix?: string; instance?: string } = {},
): ServiceNowMetrics {
  const p = opts.prefix ?? 'ticketloop_servicenow_';
  const instance = opts.instance ?? 'default';
  const labelNames = ['instance'] as const;
  const limit = new Gauge({
    name: `${p}rate_limit_limit`,
    help: 'X-RateLimit-Limit of the last ServiceNow response (requests per hour)',
    labelNames,
    registers: [registry],
  });
  const remaining = new Gauge({
    name: `${p}rate_limit_remaining`,
    help: 'X-RateLimit-Remaining of the last ServiceNow response, when sent',
    labelNames,
    registers: [registry],
  });
  const reset = new Gauge({
    name: `${p}rate_limit_reset_seconds`,
    help: 'X-RateLimit-Reset (UNIX seconds) of the last ServiceNow response',
    labelNames,
    registers: [registry],
  });
  const limited = new Counter({
    name: `${p}rate_limited_total`,
    help: 'ServiceNow 429 Too Many Requests answers',
    labelNames,
    registers: [registry],
  });
  return {
    onRateLimit(info, name = instance) {
      const l = { instance: name };
      if (info.limit !== undefined) limit.set(l, info.limit);
      if (info.remaining !== undefined) remaining.set(l, info.remaining);
      if (info.reset !== undefined) reset.set(l, info.reset);
      if (info.status === 429) limited.inc(l);
    },
  };
}
