/**
 * The errors that steer the engine's one retry policy (see retry.ts). Adapters and connectors
 * throw these; nothing else decides whether a failure is retried.
 */

/** Trying again later can help; `retryAfterMs` is honoured when the upstream said when. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

/** Retrying cannot help (bad request, record gone): the job is dead-lettered at once. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

/**
 * Statuses worth another try: no response (0), 408 Request Timeout, 409 Conflict, 423 Locked,
 * 429 Too Many Requests and every 5xx. Any other 4xx is the caller's mistake and never retried.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 409 || status === 423 || status === 429 || status >= 500;
}

/** An upstream answered with an error status (or not at all: status 0). */
export class HttpError extends Error {
  constructor(
    readonly upstream: string,
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly retryAfterMs?: number,
  ) {
    super(`${upstream} ${method} ${url} → ${status || 'no response'}${describeBody(body)}`);
    this.name = 'HttpError';
  }

  get retryable(): boolean {
    return isRetryableStatus(this.status);
  }
}

function describeBody(body: unknown): string {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : '';
  const err = (body as { error?: unknown }).error;
  if (err && typeof err === 'object') {
    const e = err as { message?: string; detail?: string; code?: string };
    return `: ${[e.code, e.message, e.detail].filter(Boolean).join(' — ')}`;
  }
  if (typeof err === 'string') return `: ${err} ${(body as { error_description?: string }).error_description ?? ''}`;
  return '';
}
