import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startServiceNowSandbox, type ServiceNowSandbox } from '../../sandbox/servicenow/index.ts';
import { ensureSandboxTls, type SandboxTls } from '../../sandbox/shared/tls.ts';

let sharedTls: SandboxTls | undefined;
/** One CA per test process: key generation is the slow part of starting a sandbox. */
export function testTls(): SandboxTls {
  sharedTls ??= ensureSandboxTls(mkdtempSync(join(tmpdir(), 'sn-tls-')));
  return sharedTls;
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface Harness {
  sn: ServiceNowSandbox;
  dataDir: string;
  agent: Agent;
  basic(user: { username: string; password: string }): string;
  /** Call the instance; `auth` is a full Authorization header value (default: the itil user). */
  call(
    method: string,
    path: string,
    o?: { body?: unknown; auth?: string | null; headers?: Record<string, string> },
  ): Promise<Res>;
  admin(method: string, path: string, body?: unknown): Promise<Res>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(opts: { seedDemoData?: boolean; dataDir?: string } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sn-'));
  const tls = testTls();
  const agent = new Agent({ connect: { ca: tls.ca } });
  let sn = await startServiceNowSandbox({ dataDir, tls, seedDemoData: opts.seedDemoData });
  const basic = (u: { username: string; password: string }) =>
    'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64');
  const raw = async (
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<Res> => {
    const r = await request(h.sn.baseUrl + path, { method: method as 'GET', body, headers, dispatcher: agent });
    const text = await r.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, headers: r.headers, text, json };
  };
  const h: Harness = {
    sn,
    dataDir,
    agent,
    basic,
    call(method, path, o = {}) {
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      };
      const auth = o.auth === undefined ? basic(h.sn.credentials.itil) : o.auth;
      if (auth) headers.authorization = auth;
      Object.assign(headers, o.headers ?? {});
      for (const k of Object.keys(headers)) if (headers[k] === '') delete headers[k];
      return raw(
        method,
        path,
        o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
        headers,
      );
    },
    admin(method, path, body) {
      return raw(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        body === undefined ? {} : { 'content-type': 'application/json' },
      );
    },
    async restart() {
      await h.sn.close();
      sn = await startServiceNowSandbox({ dataDir, tls, seedDemoData: opts.seedDemoData });
      h.sn = sn;
    },
    async close() {
      await h.sn.close();
      await agent.close();
    },
  };
  return h;
}
