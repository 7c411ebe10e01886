import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { validateConfig } from '../../src/app/config.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { loadFlowState } from '../../src/engine/flow.ts';
import { FLOW, type ItemState } from '../../src/flows/defender/flow.ts';
import { defenderModule } from '../../src/flows/defender/module.ts';
import { reconcileNow } from '../../src/flows/defender/runtime.ts';

/**
 * The whole sandbox (ServiceNow, Entra, ARM) over HTTPS in a temp dir and a Ticketloop app with
 * only the Defender module, on a ManualClock; the test drives reconcile and the engine by hand.
 * Every outbound call is recorded, so a test can count ServiceNow writes.
 */

export interface DefenderEnv {
  dir: string;
  sandbox: Sandbox;
  app: Ticketloop;
  clock: ManualClock;
  calls: OutboundCall[];
  reconcile(name?: string): ReturnType<typeof reconcileNow>;
  /** Run due jobs until none is left. */
  drain(): Promise<void>;
  item(id: string): Promise<ItemState | undefined>;
  items(prefix: string): Promise<{ id: string; s: ItemState }[]>;
  /** Sandbox admin/API call (HTTPS with the sandbox CA). */
  http(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<any>;
  /** ServiceNow Table API as the human agent (david.miller), not Ticketloop's own account. */
  snAsAgent(method: string, path: string, body?: unknown): Promise<any>;
  snWrites(): OutboundCall[];
  /** Stop the app and start it again on the same database, sandbox and clock, with these integrations. */
  restart(integrations: Record<string, unknown>[]): Promise<void>;
  close(): Promise<void>;
}

/** The sandbox instance's business-rule webhook secret. */
export const WEBHOOK_SECRET = 'defender-webhook-secret';

export const base = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'defender',
  servicenow: 'sandbox',
  mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
  ...extra,
});

export async function startDefenderEnv(
  integrations: Record<string, unknown>[],
  o: { clock?: ManualClock; config?: Record<string, unknown> } = {},
): Promise<DefenderEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-defender-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const clock = o.clock ?? new ManualClock();
  const sn = sandbox.servicenow;
  const connections = sandboxConnections(sandbox);
  const calls: OutboundCall[] = [];
  const build = async (integrations: Record<string, unknown>[]) => {
    const config = validateConfig(
      {
        dataDir: join(dir, 'tl'),
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        engine: { pollIntervalMs: 20, backoffBaseMs: 50, backoffMaxMs: 2000 },
        servicenow: [
          {
            // The demo's connection as it is, close-out included (so its values are tested here).
            ...connections.servicenow,
            pollIntervalSeconds: 3600,
            webhook: { type: 'hmac', secret: WEBHOOK_SECRET },
          },
        ],
        microsoft: connections.microsoft,
        integrations,
        ...o.config,
      },
      'test',
    );
    const app = await buildTicketloop(config, {
      logger: createLogger('silent'),
      clock,
      itsm: ITSM_MODULES,
      flows: [defenderModule],
    });
    const record = app.outbound.record.bind(app.outbound);
    app.outbound.record = (c: OutboundCall) => {
      calls.push(c);
      record(c);
    };
    return app;
  };
  let app = await build(integrations);
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const http = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await request(url, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        accept: 'application/json',
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.body.text();
    if (r.statusCode >= 400) throw new Error(`${method} ${url} → ${r.statusCode} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const agentAuth = `Basic ${Buffer.from('david.miller:agent-password-1').toString('base64')}`;
  const env: DefenderEnv = {
    dir,
    sandbox,
    get app() {
      return app;
    },
    clock,
    calls,
    reconcile: (name = String((integrations[0] as { name: string }).name)) => reconcileNow(app, name),
    drain: () => app.engine.drain(),
    item: (id) => loadFlowState<ItemState>(app.store.db, FLOW, id),
    async items(prefix) {
      const rows = await app.store.db
        .selectFrom('flow_state')
        .select(['id', 'state'])
        .where('flow', '=', FLOW)
        .execute();
      return rows
        .filter((r) => r.id.startsWith(prefix))
        .map((r) => ({ id: r.id, s: JSON.parse(r.state) as ItemState }));
    },
    http,
    snAsAgent: (method, path, body) => http(method, `${sn.baseUrl}${path}`, body, { authorization: agentAuth }),
    snWrites: () =>
      calls.filter((c) => c.upstream === 'servicenow' && c.method !== 'GET' && !c.url.includes('oauth_token')),
    async restart(list) {
      await app.stop();
      app = await build(list);
    },
    async close() {
      await app.stop();
      await agent.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}
