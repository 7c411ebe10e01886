import { Agent, request, type Dispatcher } from 'undici';
import { RetryableError, PermanentError } from '../engine/errors.ts';

/**
 * The one outbound HTTP client every connector uses: timeouts on every call, retries with
 * exponential backoff + jitter that honour Retry-After, and one record per attempt (for the audit
 * log and metrics). Connectors stay thin wire clients on top of it.
 */

export interface OutboundCall {
  upstream: string;
  method: string;
  /** URL with secret-looking query values redacted. */
  url: string;
  status: number; // 0 = no response (network error / timeout)
  durationMs: number;
  error?: string;
  headers?: Record<string, string | string[] | undefined>;
}

export interface OutboundRecorder {
  record(call: OutboundCall): void;
}

export interface AuthProvider {
  /** Headers to add to each request (Authorization, x-sn-apikey, ...). */
  headers(): Promise<Record<string, string>>;
  /** Called on a 401 so a cached token is dropped; the call is then tried once more. */
  invalidate?(): void;
}

export interface HttpClientOptions {
  upstream: string;
  baseUrl: string;
  /** Extra CA certificate(s) to trust (the sandbox's own CA). */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** Attempts after the first one, for retryable failures. */
  maxRetries?: number;
  baseDelayMs?: number;
  /** A Retry-After longer than this is not slept on here: the error goes up so the engine reschedules. */
  maxInlineWaitMs?: number;
  auth?: AuthProvider;
  recorder?: OutboundRecorder;
  userAgent?: string;
  connections?: number;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  /** Skip the auth provider (token endpoints). */
  noAuth?: boolean;
  /**
   * Retry a non-idempotent method on ambiguous failures (5xx, network). Off by default: a POST
   * whose response was lost may have been applied, so callers look up by correlation id instead.
   */
  retryUnsafe?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

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
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
  /** Map to the engine's retry vocabulary so a job reschedules instead of spinning. */
  toJobError(): Error {
    return this.retryable ? new RetryableError(this.message, this.retryAfterMs) : new PermanentError(this.message);
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

const SECRET_QUERY = /^(code|token|access_token|refresh_token|client_secret|password|sig|signature|key|apikey|client_assertion)$/i;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()]) if (SECRET_QUERY.test(k)) u.searchParams.set(k, 'REDACTED');
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // "equal jitter": never zero, never above the cap
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly o: Required<Pick<HttpClientOptions, 'timeoutMs' | 'maxRetries' | 'baseDelayMs' | 'maxInlineWaitMs'>> &
    HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.o = { timeoutMs: 30_000, maxRetries: 4, baseDelayMs: 200, maxInlineWaitMs: 10_000, ...options };
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.dispatcher = new Agent({
      connect: options.ca ? { ca: options.ca } : undefined,
      connections: options.connections ?? 64,
      headersTimeout: this.o.timeoutMs,
      bodyTimeout: this.o.timeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  url(path: string, query?: RequestOptions['query']): string {
    const full = /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
    if (!query) return full;
    const u = new URL(full);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  async request<T = unknown>(opts: RequestOptions): Promise<HttpResponse<T>> {
    const url = this.url(opts.path, opts.query);
    const safe = opts.method === 'GET' || opts.method === 'HEAD' || opts.method === 'PUT' || opts.method === 'DELETE';
    let reauthed = false;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse<T> | undefined;
      let networkError: Error | undefined;
      try {
        res = await this.once<T>(opts, url);
      } catch (e) {
        // An HttpError here comes from the auth provider's own token request (already retried
        // there): pass it up as is instead of retrying it as a network failure.
        if (e instanceof HttpError) throw e;
        networkError = e as Error;
      }
      if (res && res.status < 400) return res;
      if (res?.status === 401 && this.o.auth?.invalidate && !opts.noAuth && !reauthed) {
        reauthed = true;
        this.o.auth.invalidate();
        attempt--;
        continue;
      }
      const status = res?.status ?? 0;
      const retryAfterMs = res ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const err = new HttpError(
        this.o.upstream,
        opts.method,
        redactUrl(url),
        status,
        res?.body ?? networkError?.message,
        res?.headers ?? {},
        retryAfterMs,
      );
      const retryable = status === 429 || ((status === 0 || status >= 500) && (safe || opts.retryUnsafe));
      if (!retryable || attempt > this.o.maxRetries) throw err;
      const wait = retryAfterMs ?? backoffDelay(attempt, this.o.baseDelayMs, 5_000);
      if (wait > this.o.maxInlineWaitMs) throw err; // let the job engine reschedule rather than block a worker
      await sleep(wait);
    }
  }

  private async once<T>(opts: RequestOptions, url: string): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.o.userAgent ?? 'Ticketloop/0.1',
      ...(opts.noAuth || !this.o.auth ? {} : await this.o.auth.headers()),
      ...opts.headers,
    };
    let body: string | undefined;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(opts.json);
    }
    const started = performance.now();
    try {
      const r = await request(url, {
        method: opts.method,
        headers,
        body,
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const text = await r.body.text();
      const ct = String(r.headers['content-type'] ?? '');
      let parsed: unknown = text;
      if (text && ct.includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      this.o.recorder?.record({
        upstream: this.o.upstream,
        method: opts.method,
        url: redactUrl(url),
        status: r.statusCode,
        durationMs: performance.now() - started,
        headers: r.headers,
      });
      return { status: r.statusCode, headers: r.headers, body: parsed as T, text };
    } catch (e) {
      this.o.recorder?.record({
        upstream: this.o.upstream,
        method: opts.method,
        url: redactUrl(url),
        status: 0,
        durationMs: performance.now() - started,
        error: (e as Error).message,
      });
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
