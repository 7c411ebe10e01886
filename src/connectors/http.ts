import { Agent, request, type Dispatcher } from 'undici';
import { HttpError } from '../engine/errors.ts';

/**
 * The one outbound HTTP client every connector uses: timeouts on every call, one record per call
 * (for the audit log and metrics), and failures as typed HttpErrors (status, Retry-After) that the
 * engine's retry policy (engine/retry.ts) turns into the next attempt. It retries nothing itself,
 * except once after a 401 with a fresh token, and token endpoints (`retries`) on transient failures.
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
  /**
   * Token and key endpoints only: retry a transient failure (429, 5xx, no response) this many times
   * after a short pause. Everything else goes up to the engine, which decides.
   */
  retries?: number;
  auth?: AuthProvider;
  recorder?: OutboundRecorder;
  userAgent?: string;
  connections?: number;
  /**
   * The URL itself is the credential (chat incoming webhooks: Slack's `/services/T…/B…/<secret>`, a
   * Teams workflow's `sig`): records and errors show only scheme, host and port.
   */
  secretUrl?: boolean;
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
  /** Keep the raw body in `bytes` (file streams: a report, an attachment) as well as its text. */
  binary?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
  /** The body as received, when the request asked for `binary`. */
  bytes?: Buffer;
}

const SECRET_QUERY =
  /^(code|token|access_token|refresh_token|client_secret|password|sig|signature|key|apikey|client_assertion)$/i;

/** The URL as recorded: secret-looking query values, user info — or, for a secret URL, all but its origin. */
export function redactUrl(url: string, o: { secretUrl?: boolean } = {}): string {
  try {
    const u = new URL(url);
    // A Slack incoming webhook is a secret path whoever calls it; its host says so even without the option.
    if (o.secretUrl || u.hostname === 'hooks.slack.com') return `${u.origin}/REDACTED`;
    for (const k of [...u.searchParams.keys()]) if (SECRET_QUERY.test(k)) u.searchParams.set(k, 'REDACTED');
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return o.secretUrl ? 'REDACTED' : url;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly o: Required<Pick<HttpClientOptions, 'timeoutMs' | 'retries'>> & HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.o = { timeoutMs: 30_000, retries: 0, ...options };
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
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse<T> | undefined;
      let networkError: Error | undefined;
      try {
        res = await this.once<T>(opts, url);
      } catch (e) {
        // An HttpError here comes from the auth provider's own token request: pass it up as is.
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
      const err = new HttpError(
        this.o.upstream,
        opts.method,
        this.redact(url),
        res?.status ?? 0,
        res?.body ?? networkError?.message,
        res?.headers ?? {},
        res ? parseRetryAfter(res.headers['retry-after']) : undefined,
      );
      if (!err.retryable || err.status === 409 || attempt >= this.o.retries) throw err;
      await sleep(Math.min(err.retryAfterMs ?? 200 * 2 ** attempt, 2_000));
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
      const bytes = opts.binary ? Buffer.from(await r.body.arrayBuffer()) : undefined;
      const text = bytes ? bytes.toString('utf8') : await r.body.text();
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
        url: this.redact(url),
        status: r.statusCode,
        durationMs: performance.now() - started,
        headers: r.headers,
      });
      return { status: r.statusCode, headers: r.headers, body: parsed as T, text, ...(bytes ? { bytes } : {}) };
    } catch (e) {
      this.o.recorder?.record({
        upstream: this.o.upstream,
        method: opts.method,
        url: this.redact(url),
        status: 0,
        durationMs: performance.now() - started,
        error: (e as Error).message,
      });
      throw e;
    }
  }

  private redact(url: string): string {
    return redactUrl(url, { secretUrl: this.o.secretUrl });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
