import { DAY_MS } from './clock.ts';

/** The engine's defaults, in one place: the configuration schema and `new Engine()` both use them. */
export const ENGINE_DEFAULTS = {
  concurrency: 16,
  pollIntervalMs: 200,
  leaseMs: 30_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 15 * 60_000,
  /** Finished (done) jobs older than this are deleted by housekeeping. */
  retainDoneMs: 7 * DAY_MS,
} as const;
