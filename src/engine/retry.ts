import { HttpError, PermanentError, RetryableError } from './errors.ts';

/**
 * The one retry policy: what a failed job's error means for its next attempt. Typed errors decide
 * (an HttpError by its status, a PermanentError never, a RetryableError after its Retry-After);
 * anything else — a dropped database connection, a bug — is retried with backoff until the
 * job's attempts run out, then dead-lettered where an operator sees it.
 */

export interface RetryPolicy {
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Exponential backoff with "equal jitter": never zero, never above the cap. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** When to run again (epoch ms), or null: give up now. */
export function nextAttemptAt(error: unknown, attempt: number, now: number, policy: RetryPolicy): number | null {
  if (error instanceof PermanentError) return null;
  if (error instanceof HttpError && !error.retryable) return null;
  const retryAfterMs = error instanceof HttpError || error instanceof RetryableError ? error.retryAfterMs : undefined;
  if (retryAfterMs !== undefined) return now + retryAfterMs;
  return now + backoffDelay(attempt, policy.backoffBaseMs, policy.backoffMaxMs);
}
