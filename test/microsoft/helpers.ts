import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { send } from '../helpers/http.ts';
import { ensureSandboxTls, type SandboxTls } from '../../sandbox/shared/tls.ts';
import { startMicrosoftSandbox, type MicrosoftSandbox } from '../../sandbox/microsoft/index.ts';

/** A fresh sandbox in its own temp dir, plus a small HTTPS client that trusts its CA. */
export interface Harness {
  dir: string;
  tls: SandboxTls;
  sb: MicrosoftSandbox;
  agent: Agent;
  call(
    method: string,
    path: string,
    o?: { json?: unknown; form?: Record<string, string>; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  token(clientId?: string, secret?: string, scope?: string): Promise<string>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-ms-'));
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const agent = new Agent({ connect: { ca: tls.ca } });
  const h: Harness = {
    dir,
    tls,
    agent,
    sb: await startMicrosoftSandbox({ dataDir: dir, tls }),
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      let body: string | undefined;
      if (o.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(o.form).toString();
      } else if (o.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(o.json);
      }
      return send(h.agent, method, /^https:/.test(path) ? path : h.sb.baseUrl + path, headers, body);
    },
    async token(
      clientId = h.sb.apps.ticketloop.clientId,
      secret = h.sb.apps.ticketloop.clientSecret,
      scope = 'https://graph.microsoft.com/.default',
    ) {
      const r = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
        form: { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope },
      });
      if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.access_token;
    },
    async restart() {
      const port = Number(new URL(h.sb.baseUrl).port);
      // A pooled keep-alive socket to the old server would fail the first request after the restart.
      await h.agent.close();
      await h.sb.close();
      h.agent = new Agent({ connect: { ca: tls.ca } });
      h.sb = await startMicrosoftSandbox({ dataDir: dir, tls, port });
    },
    async close() {
      await h.sb.close();
      await h.agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export function decodeJwt(token: string): { header: any; payload: any } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

/** A Graph token for a newly registered app holding exactly these application permissions. */
export async function tokenWithRoles(h: Harness, roles: string[]): Promise<string> {
  const app = await h.call('POST', '/_sandbox/entra/apps', {
    json: { roles, displayName: `Test app ${roles.join(' ')}` },
  });
  if (app.status !== 201) throw new Error(`register app: ${app.status} ${JSON.stringify(app.body)}`);
  return h.token(app.body.clientId, app.body.clientSecret);
}

/** Graph calls with one bearer token: `g('GET', '/v1.0/…')`, the query already encoded by the caller. */
export function graphCaller(h: Harness, token: string) {
  return (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) =>
    h.call(method, path, { json, headers: { authorization: `Bearer ${token}`, ...headers } });
}
