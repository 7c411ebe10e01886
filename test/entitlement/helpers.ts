import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { send } from '../helpers/http.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import type { FlowModule } from '../../src/app/module.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { validateConfig } from '../../src/app/config.ts';
import type { Clock } from '../../src/engine/clock.ts';
import { loadFlowState } from '../../src/engine/flow.ts';
import { entitlementModule } from '../../src/flows/entitlement/module.ts';
import type { EntitlementState } from '../../src/flows/entitlement/flow.ts';
import { CALLOUT_PATH } from '../../src/flows/entitlement/routes.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.ts';
import { until } from '../helpers/wait.ts';

export { until };

/**
 * The whole loop for tests: the real sandbox (HTTPS) and a real Ticketloop (HTTP) with the
 * entitlement module, wired like the demo, in temp dirs.
 */

export const HMAC_SECRET = 'test-logic-app-secret';
export const WEBHOOK_SECRET = 'test-webhook-secret';
export const EM = '/v1.0/identityGovernance/entitlementManagement';

export interface LoopOptions {
  integration?: Record<string, unknown>;
  /** More integrations (other flows'), pointed at the sandbox. */
  integrations?: (sandbox: Sandbox) => Record<string, unknown>[];
  clock?: Clock;
  dialect?: 'sqlite' | 'postgres';
  /** Push closes via the business-rule webhook (default true); false = polling only. */
  webhook?: boolean;
  pollIntervalSeconds?: number;
  /** Don't run the engine (tests drive effects by hand). */
  engine?: boolean;
  /** `identity` configuration from the running sandbox (e.g. sign-in with its Entra ID). */
  identity?: (sandbox: Sandbox) => Record<string, unknown>;
  /** More flow modules beside entitlement (the console tests add Defender for Cloud). */
  flows?: FlowModule[];
  /** Start from a configuration file (written from the same settings), as setup over the API needs. */
  configFile?: boolean;
}

export interface Loop {
  sandbox: Sandbox;
  app: Ticketloop;
  url: string;
  tdb: TestDatabase;
  http(
    method: string,
    url: string,
    o?: { json?: unknown; headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; body: any }>;
  ms(method: string, path: string, json?: unknown): Promise<{ status: number; body: any }>;
  sn(method: string, path: string, json?: unknown): Promise<{ status: number; body: any }>;
  /** Catalog + extension (→ our callout URL) + package + policy with the extension on `stages`. */
  setup(stages: string[], o?: { timeout?: string; approval?: boolean }): Promise<Setup>;
  state(id: string): Promise<EntitlementState | undefined>;
  audit(id: string): Promise<{ action: string; [k: string]: unknown }[]>;
  tickets(correlationId: string, table?: string): Promise<any[]>;
  close(): Promise<void>;
}

export interface Setup {
  catalogId: string;
  packageId: string;
  policyId: string;
  /** Submit an add (or remove) request; returns the request. */
  request(targetId: string, requestType?: string): Promise<any>;
  getRequest(id: string): Promise<any>;
  /** The callout the sandbox sent for a request at a stage (waits for it). */
  callout(requestId: string, stage: string): Promise<any>;
}

export async function startLoop(o: LoopOptions = {}): Promise<Loop> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-ent-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const tdb = await createTestDatabase(o.dialect ?? 'sqlite');
  const sn = sandbox.servicenow;
  const msb = sandbox.microsoft;
  const connections = sandboxConnections(sandbox);
  const raw = {
    dataDir: tdb.dataDir,
    server: { host: '127.0.0.1', port: 0 },
    database: tdb.url ? { url: tdb.url } : {},
    engine: { pollIntervalMs: 20, backoffBaseMs: 50, backoffMaxMs: 2000 },
    servicenow: [
      {
        ...connections.servicenow,
        pollIntervalSeconds: o.pollIntervalSeconds ?? 1,
        webhook: { type: 'hmac', secret: WEBHOOK_SECRET },
      },
    ],
    microsoft: connections.microsoft,
    ...(o.identity ? { identity: o.identity(sandbox) } : {}),
    integrations: [
      {
        name: 'ent',
        type: 'entitlement',
        servicenow: 'sandbox',
        inbound: { logicAppHmacSecret: HMAC_SECRET },
        ...o.integration,
      },
      ...(o.integrations?.(sandbox) ?? []),
    ],
  };
  const config = validateConfig(raw, 'test');
  const configFile = o.configFile ? join(dir, 'ticketloop.yaml') : undefined;
  if (configFile) writeFileSync(configFile, stringify(raw));
  const app = await buildTicketloop(config, {
    configFile,
    logger: createLogger('silent'),
    itsm: ITSM_MODULES,
    flows: [entitlementModule, ...(o.flows ?? [])],
    clock: o.clock,
    engine: o.engine,
  });
  const url = await app.start();
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });

  const http: Loop['http'] = async (method, u, h = {}) => {
    const headers: Record<string, string> = { ...h.headers };
    let body = h.body;
    if (h.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(h.json);
    }
    const r = await send(agent, method, u, headers, body);
    return { status: r.status, body: r.body };
  };
  const graphToken = async () =>
    (
      await http('POST', `${msb.baseUrl}/_sandbox/entra/token`, {
        json: {
          clientId: msb.apps.ticketloop.clientId,
          audience: 'https://graph.microsoft.com',
          roles: ['EntitlementManagement.ReadWrite.All'],
        },
      })
    ).body.access_token as string;
  const basic = `Basic ${Buffer.from(`${sn.credentials.itil.username}:${sn.credentials.itil.password}`).toString('base64')}`;

  const loop: Loop = {
    sandbox,
    app,
    url,
    tdb,
    http,
    async ms(method, path, json) {
      return http(method, msb.baseUrl + (path.startsWith('/v1.0') || path.startsWith('/_') ? path : EM + path), {
        json,
        headers: { authorization: `Bearer ${await graphToken()}` },
      });
    },
    sn(method, path, json) {
      return http(method, sn.baseUrl + path, { json, headers: { authorization: basic, accept: 'application/json' } });
    },
    async setup(stages, s = {}) {
      const cat = await loop.ms('POST', '/catalogs', {
        displayName: `Catalog ${Math.random().toString(36).slice(2, 7)}`,
        description: 'ticketed',
      });
      const ext = await loop.ms('POST', `/catalogs/${cat.body.id}/customWorkflowExtensions`, {
        '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
        displayName: 'Ticketloop',
        endpointConfiguration: {
          '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
          subscriptionId: 's',
          resourceGroupName: 'rg',
          logicAppWorkflowName: 'la',
          url: url + CALLOUT_PATH,
        },
        authenticationConfiguration: {
          '@odata.type': '#microsoft.graph.azureAdTokenAuthentication',
          resourceId: msb.apps.ticketloop.clientId,
        },
        callbackConfiguration: {
          '@odata.type': '#microsoft.graph.customExtensionCallbackConfiguration',
          timeoutDuration: s.timeout ?? 'P14D',
        },
      });
      if (ext.status !== 201) throw new Error(`extension: ${JSON.stringify(ext.body)}`);
      const pkg = await loop.ms('POST', '/accessPackages', {
        displayName: 'Finance app',
        description: 'SAP finance',
        catalog: { id: cat.body.id },
      });
      const pol = await loop.ms('POST', '/assignmentPolicies', {
        displayName: 'Ticketed',
        accessPackage: { id: pkg.body.id },
        allowedTargetScope: 'allMemberUsers',
        requestApprovalSettings: { isApprovalRequiredForAdd: Boolean(s.approval), stages: [] },
        customExtensionStageSettings: stages.map((stage) => ({ stage, customExtension: { id: ext.body.id } })),
      });
      if (pol.status !== 201) throw new Error(`policy: ${JSON.stringify(pol.body)}`);
      return {
        catalogId: cat.body.id,
        packageId: pkg.body.id,
        policyId: pol.body.id,
        async request(targetId, requestType = 'adminAdd') {
          const r = await loop.ms('POST', '/assignmentRequests', {
            requestType,
            assignment: { targetId, assignmentPolicyId: pol.body.id, accessPackageId: pkg.body.id },
          });
          if (r.status !== 201) throw new Error(`request: ${JSON.stringify(r.body)}`);
          return r.body;
        },
        async getRequest(id) {
          return (await loop.ms('GET', `/assignmentRequests/${id}`)).body;
        },
        callout(requestId, stage) {
          return until(async () => {
            const r = await http('GET', `${msb.baseUrl}/_sandbox/graph/callouts?requestId=${requestId}`);
            return r.body.value.find((c: any) => c.stage === stage && c.outcome !== 'failed');
          }, `callout ${stage} for ${requestId}`);
        },
      };
    },
    state: (id) => loadFlowState<EntitlementState>(app.store.db, 'entitlement', id),
    async audit(id) {
      const rows = await app.store.db
        .selectFrom('audit_log')
        .select(['detail'])
        .where('subject', '=', `entitlement/${id}`)
        .orderBy('seq')
        .execute();
      return rows.map((r) => JSON.parse(r.detail));
    },
    async tickets(correlationId, table = 'sc_req_item') {
      const r = await loop.sn(
        'GET',
        `/api/now/table/${table}?sysparm_query=correlation_id=${encodeURIComponent(correlationId)}`,
      );
      return r.body.result;
    },
    async close() {
      await app.stop();
      await sandbox.close();
      await agent.close();
      await tdb.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (o.webhook !== false) {
    const table = String(o.integration?.table ?? 'sc_req_item');
    await http('PUT', `${sn.baseUrl}/_sandbox/servicenow/webhooks`, {
      json: [
        {
          table,
          url: `${url}/webhooks/servicenow/sandbox`,
          events: ['insert', 'update'],
          auth: { type: 'hmac', secret: WEBHOOK_SECRET },
        },
      ],
    });
  }
  return loop;
}
