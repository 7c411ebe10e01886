import { Agent, request } from 'undici';

/**
 * A small HTTP client for the harness: one connection pool trusting the sandbox CA, a bounded
 * timeout on every call, and answers as {status, headers, body} — never throws on an HTTP status.
 */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

export class Http {
  readonly agent: Agent;
  constructor(ca?: string, connections = 64) {
    this.agent = new Agent({ connect: ca ? { ca } : undefined, connections, keepAliveTimeout: 10_000 });
  }

  async call(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    o: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json', ...(o.headers ?? {}) };
    let body: string | Buffer | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const r = await request(url, {
      method,
      headers,
      body,
      dispatcher: this.agent,
      headersTimeout: o.timeoutMs ?? 30_000,
      bodyTimeout: o.timeoutMs ?? 30_000,
      signal: AbortSignal.timeout((o.timeoutMs ?? 30_000) + 1_000),
    });
    const text = await r.body.text();
    return {
      status: r.statusCode,
      headers: r.headers,
      text,
      json: <T>() => JSON.parse(text) as T,
    };
  }

  /** Like call, but a non-2xx answer throws (admin calls that must work). */
  async ok<T = any>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const r = await this.call(method, url, { body, headers });
    if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${r.text.slice(0, 300)}`);
    return r.text ? r.json<T>() : (undefined as T);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value or the time is up (then undefined). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    await sleep(everyMs);
  }
  return undefined;
}
