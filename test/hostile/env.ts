/**
 * The hostile-input environment: the sandbox in this process (so tokens can be forged with its real
 * signing key), Ticketloop as a real child process on its own SQLite file, and a view of every bit
 * of state a hostile request must not change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { loadDemos, sandboxConfig } from '../../src/cli/demo.ts';
import { Http } from '../../bench/harness/http.ts';
import { freePort, TicketloopProcess } from '../../bench/harness/ticketloop-proc.ts';
import { runCli } from '../helpers/cli.ts';

export const WEBHOOK_SECRET = 'hostile-suite-webhook-secret';
export const LOGIC_APP_SECRET = 'hostile-suite-logic-app-secret';

export interface Endpoint {
  method: string;
  /** Path with parameters filled with plausible values. */
  path: string;
  /** The OpenAPI path with its `{param}` placeholders. */
  template: string;
  /** From /openapi.json, or a known route outside the schema. */
  source: 'openapi' | 'known';
  /** The route reads a request body (OpenAPI requestBody, or a known inbound route). */
  takesBody: boolean;
  /** Query parameters from OpenAPI; `typed` = an enum or a number (garbage must be refused), else free text. */
  query: { name: string; typed: boolean }[];
}

export interface HostileEnv {
  sandbox: Sandbox;
  tl: TicketloopProcess;
  http: Http;
  config: Record<string, any>;
  endpoints: Endpoint[];
  /** An admin API token's header, for `/api/` routes (so hostile input gets past the door). */
  apiAuth: Record<string, string>;
  snapshot(): Promise<Record<string, number>>;
  /** Wait until background work (start-up scans, their tickets) has settled: two equal snapshots, no due jobs. */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SAMPLE_PARAM: Record<string, string> = { id: '00000000-0000-4000-8000-000000000000' };

/** Every inbound route: the OpenAPI document plus the routes kept out of it (webhooks, callouts). */
async function discover(http: Http, url: string, config: Record<string, any>): Promise<Endpoint[]> {
  type Schema = { type?: string | string[]; enum?: unknown[]; anyOf?: Schema[] };
  type Op = { requestBody?: unknown; parameters?: { in: string; name: string; schema?: Schema }[] };
  const typed = (sc: Schema | undefined): boolean =>
    !!sc &&
    (!!sc.enum || (sc.anyOf ?? []).some(typed) || [sc.type].flat().some((t) => t === 'integer' || t === 'number'));
  const doc = (await http.ok('GET', `${url}/openapi.json`)) as { paths: Record<string, Record<string, Op>> };
  const out: Endpoint[] = [];
  for (const [p, ops] of Object.entries(doc.paths ?? {})) {
    const path = p.replace(/\{(\w+)\}/g, (_m, name: string) => SAMPLE_PARAM[name] ?? 'x');
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const query = (op.parameters ?? [])
        .filter((q) => q.in === 'query')
        .map((q) => ({ name: q.name, typed: typed(q.schema) }));
      out.push({
        method: method.toUpperCase(),
        path,
        template: p,
        source: 'openapi',
        takesBody: op.requestBody !== undefined,
        query,
      });
    }
  }
  const known = [
    ...(config.itsm ?? []).map((s: { name: string }) => ({
      method: 'POST',
      path: `/webhooks/servicenow/${encodeURIComponent(s.name)}`,
    })),
    { method: 'POST', path: '/callouts/entitlement' },
    { method: 'POST', path: '/callouts/entitlement/logic-app' },
  ];
  for (const k of known) {
    if (out.some((e) => e.method === k.method && e.path === k.path)) continue;
    // Present only if the route exists: an empty POST must not be a 404 `no route`.
    const r = await http.call('POST', `${url}${k.path}`, {
      raw: '{}',
      headers: { 'content-type': 'application/json' },
    });
    if (!(r.status === 404 && r.text.includes('no route')))
      out.push({ ...k, template: k.path, source: 'known', takesBody: true, query: [] });
  }
  return out;
}

export async function startHostileEnv(): Promise<HostileEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-hostile-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const config = structuredClone(
    sandboxConfig({ dataDir: join(dir, 'tl'), log: { level: 'warn' } }, sandbox, await loadDemos()),
  ) as Record<string, any>;
  for (const i of config.integrations ?? []) {
    if (i.type === 'entitlement') i.inbound = { ...(i.inbound ?? {}), logicAppHmacSecret: LOGIC_APP_SECRET };
  }
  const tl = new TicketloopProcess({
    base: config,
    dir: join(dir, 'tl'),
    port: await freePort(),
    webhookSecret: WEBHOOK_SECRET,
    logLevel: 'error',
  });
  await tl.start();
  const created = await runCli(['tokens', 'create', 'hostile-suite', '--role', 'admin', '--config', tl.configFile]);
  const apiToken = /^tlsvc_\S+$/m.exec(created.out)?.[0];
  if (!apiToken) throw new Error(`tokens create failed: ${created.err}`);
  const http = new Http(sandbox.tls.ca, 16);
  const endpoints = await discover(http, tl.url, config);
  const dbFile = join(dir, 'tl', 'data', 'ticketloop.db');
  const itil = sandbox.servicenow.credentials.admin;
  const snAuth = `Basic ${Buffer.from(`${itil.username}:${itil.password}`).toString('base64')}`;

  const dueJobs = () => {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    const n = Number(
      (
        db
          .prepare("select count(*) as n from jobs where state in ('ready','running') and run_at <= ?")
          .get(Date.now()) as { n: number }
      ).n,
    );
    db.close();
    return n;
  };
  const env: HostileEnv = {
    sandbox,
    tl,
    http,
    config,
    endpoints,
    apiAuth: { authorization: `Bearer ${apiToken}` },
    async settle(timeoutMs = 45_000) {
      // Stable for longer than one ticket-poll interval, so changes the poller has yet to see are counted.
      const quietMs =
        Math.max(...(config.itsm ?? []).map((x: { pollIntervalSeconds?: number }) => x.pollIntervalSeconds ?? 30), 1) *
          1000 +
        2000;
      const until = Date.now() + timeoutMs;
      let last = JSON.stringify(await env.snapshot());
      let since = Date.now();
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        const now = JSON.stringify(await env.snapshot());
        if (now !== last || dueJobs() > 0) {
          last = now;
          since = Date.now();
        } else if (Date.now() - since >= quietMs) return;
      }
      throw new Error(`state did not settle in ${timeoutMs} ms: ${last}`);
    },
    async snapshot() {
      const db = new Database(dbFile, { readonly: true, fileMustExist: true });
      const one = (q: string) => Number((db.prepare(q).get() as { n: number }).n);
      const s: Record<string, number> = {
        flow_state: one('select count(*) as n from flow_state'),
        // Scheduled runs (polling, reconcile) come and go on their own; everything else must not move.
        jobs: one(
          "select count(*) as n from jobs where key not like 'schedule:%' and kind not in ('itsm.poll', 'itsm.reconcile')",
        ),
        secrets: one('select count(*) as n from secrets'),
        users: one('select count(*) as n from identity_user'),
        tokens: one('select count(*) as n from identity_token'),
      };
      db.close();
      for (const table of ['incident', 'sc_req_item', 'sc_task']) {
        const r = await http.call(
          'GET',
          `${sandbox.servicenow.baseUrl}/api/now/table/${table}?sysparm_limit=1&sysparm_fields=sys_id`,
          { headers: { authorization: snAuth } },
        );
        s[`servicenow.${table}`] = Number(r.headers['x-total-count'] ?? -1);
      }
      const resumes = (await http.ok('GET', `${sandbox.microsoft.baseUrl}/_sandbox/graph/resumes`)) as {
        accepted: number;
        rejected: number;
      };
      s['graph.resumes'] = resumes.accepted + resumes.rejected;
      return s;
    },
    async close() {
      await tl.stop();
      await http.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await env.settle();
  return env;
}

/** The answer a hostile request must get: a 4xx with the error envelope. */
export function envelopeProblem(status: number, text: string): string | undefined {
  if (status < 400 || status > 499) return `status ${status}`;
  try {
    const b = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; requestId?: unknown } };
    if (
      typeof b.error?.code !== 'string' ||
      typeof b.error.message !== 'string' ||
      typeof b.error.requestId !== 'string'
    )
      return `no error envelope: ${text.slice(0, 200)}`;
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`;
  }
  return undefined;
}
