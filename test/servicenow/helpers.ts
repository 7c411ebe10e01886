import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ensureSandboxTls } from '../../sandbox/shared/tls.ts';
import { startServiceNowSandbox, type ServiceNowSandbox } from '../../sandbox/servicenow/index.ts';
import { ServiceNowClient, type ServiceNowClientOptions } from '../../src/itsm/servicenow/client.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';

/** A fresh sandbox in its own temp dir, an admin helper for /_sandbox endpoints, and a client factory. */
export interface Env {
  sn: ServiceNowSandbox;
  ca: string;
  dir: string;
  admin(method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<any>;
  client(opts?: Partial<ServiceNowClientOptions>): ServiceNowClient;
  close(): Promise<void>;
}

export async function startEnv(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-sn-'));
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const sn = await startServiceNowSandbox({ dataDir: join(dir, 'data'), tls });
  const agent = new Agent({ connect: { ca: tls.ca } });
  const clients: ServiceNowClient[] = [];
  return {
    sn,
    ca: tls.ca,
    dir,
    async admin(method, path, body) {
      const r = await request(`${sn.baseUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.body.text();
      if (r.statusCode >= 400) throw new Error(`${method} ${path} → ${r.statusCode} ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    client(opts = {}) {
      const c = new ServiceNowClient({
        baseUrl: sn.baseUrl,
        ca: tls.ca,
        auth: new BasicAuth(sn.credentials.itil.username, sn.credentials.itil.password),
        ...opts,
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.close().catch(() => undefined);
      await agent.close();
      await sn.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value (or fail after `ms`). */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  ms = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
