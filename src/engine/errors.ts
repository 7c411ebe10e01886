/**
 * Errors an effect handler throws to steer the engine.
 * Anything else thrown is treated as transient and retried with backoff.
 */
export class RetryableError extends Error {
  constructor(
    message: string,
    /** Honoured as the next attempt's delay when the upstream said when to come back (Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** Retrying cannot help (bad request, record gone): dead-letter at once with this message. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}
