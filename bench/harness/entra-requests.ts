/**
 * Real access-package requests in the Microsoft sandbox, each waiting for a callback, and the
 * callouts Entra would send for them. The sandbox is told to drop its own deliveries
 * (`dropWebhookRate: 1`), so the harness plays Entra's delivery itself — with the sandbox's own
 * payloads and tokens — and can retry exactly like Entra does while Ticketloop is down. Resumes
 * then go to requests that really wait, so the sandbox accepts each at most once.
 */
import { EM_APP_ID, EM_READWRITE, TICKETLOOP_APP } from '../../sandbox/microsoft/constants.ts';
import type { SandboxProcess } from './sandbox-proc.ts';

const EM = '/v1.0/identityGovernance/entitlementManagement';

export interface Callout {
  requestId: string;
  stageInstanceId: string;
  payload: Record<string, unknown>;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Create `count` requests waiting at assignmentRequestCreated; returns their callouts. */
export async function createWaitingRequests(
  sb: SandboxProcess,
  count: number,
  calloutUrl: string,
  log: (s: string) => void,
): Promise<Callout[]> {
  const { access_token: graph } = await sb.ms<{ access_token: string }>('POST', '/_sandbox/entra/token', {
    clientId: TICKETLOOP_APP.clientId,
    audience: 'https://graph.microsoft.com',
    roles: [EM_READWRITE],
  });
  const g = async <T = any>(method: 'POST' | 'GET', path: string, body?: unknown): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const r = await sb.http.call(method, `${sb.microsoft.baseUrl}${EM}${path}`, {
        body,
        headers: { authorization: `Bearer ${graph}` },
        timeoutMs: 60_000,
      });
      if (r.status < 300) return r.json<T>();
      if (attempt > 5 || (r.status < 500 && r.status !== 429))
        throw new Error(`${method} ${path} → ${r.status} ${r.text.slice(0, 300)}`);
    }
  };
  await sb.ms('PATCH', '/_sandbox/faults', { dropWebhookRate: 1 });
  const catalog = await g('POST', '/catalogs', { displayName: 'Chaos catalog' });
  const ext = await g('POST', `/catalogs/${catalog.id}/customWorkflowExtensions`, {
    '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
    displayName: 'Ticketloop',
    endpointConfiguration: { '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration', url: calloutUrl },
    authenticationConfiguration: {
      '@odata.type': '#microsoft.graph.azureAdTokenAuthentication',
      resourceId: TICKETLOOP_APP.clientId,
    },
    callbackConfiguration: { timeoutDuration: 'P14D' },
  });
  const pkg = await g('POST', '/accessPackages', { displayName: 'Chaos package', catalog: { id: catalog.id } });
  const policy = await g('POST', '/assignmentPolicies', {
    displayName: 'Chaos policy',
    accessPackage: { id: pkg.id },
    customExtensionStageSettings: [{ stage: 'assignmentRequestCreated', customExtension: { id: ext.id } }],
  });
  const users = (await sb.ms<{ value: { id: string }[] }>('POST', '/_sandbox/entra/users', { count })).value;
  log(`creating ${count.toLocaleString()} access-package requests in the Microsoft sandbox…`);
  const t0 = Date.now();
  let done = 0;
  await pool(users, 16, async (u) => {
    await g('POST', '/assignmentRequests', {
      requestType: 'adminAdd',
      assignment: { targetId: u.id, accessPackageId: pkg.id, assignmentPolicyId: policy.id },
    });
    if (++done % 2000 === 0) log(`  ${done.toLocaleString()} requests`);
  });
  // Each request reaches WaitingForCallback and "sends" (drops) its callout right after creation.
  for (let i = 0; i < 600; i++) {
    const all = (
      await sb.ms<{
        value: { requestId: string | null; customExtensionStageInstanceId: string; payload: Record<string, unknown> }[];
      }>('GET', '/_sandbox/graph/callouts')
    ).value;
    const mine = all.filter(
      (c) => c.requestId && c.payload.AccessPackage && (c.payload.AccessPackage as { Id?: string }).Id === pkg.id,
    );
    if (mine.length >= count) {
      log(`  ${count.toLocaleString()} requests waiting in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return mine.map((c) => ({
        requestId: c.requestId!,
        stageInstanceId: c.customExtensionStageInstanceId,
        payload: c.payload,
      }));
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the sandbox did not produce every callout in 300 s');
}

/** The bearer Entra puts on a callout (EM first-party app, aud = the extension's resourceId, v1). */
export async function calloutToken(sb: SandboxProcess): Promise<string> {
  const r = await sb.ms<{ access_token: string }>('POST', '/_sandbox/entra/token', {
    clientId: EM_APP_ID,
    audience: TICKETLOOP_APP.clientId,
    version: 1,
  });
  return r.access_token;
}
