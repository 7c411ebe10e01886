import { Agent, request } from 'undici';
import type { DemoContext, DemoSandbox, FlowDemo } from '../../app/module.ts';
import { runServiceNowDemo, waitForStatus } from './demo-servicenow.ts';
import { podService } from './runtime.ts';

/**
 * `npm start`, permissions on demand: a requester asks for Reader on the sandbox's production
 * subscription for a user of the sandbox tenant, an approver approves, Ticketloop creates the role
 * assignment through ARM and reads it back; then sandbox time moves past the expiry and the
 * assignment is removed and read back as gone. Then the same from ServiceNow (demo-servicenow.ts):
 * a "Cloud access request" ordered there, taken in, approved, granted and expired, the RITM following.
 */

export const DEMO_POD = 'demo-pod';
const MEGAN = 'a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03'; // Megan Bowen in the sandbox tenant

export const podDemo: FlowDemo = {
  integrations: (s) => [podDemoIntegration(s)],
  run: (ctx) => runPodDemo(ctx),
};

export function podDemoIntegration(s: DemoSandbox): Record<string, unknown> {
  const sub = `/subscriptions/${s.azure.demo.prodSubscription}`;
  return {
    name: DEMO_POD,
    type: 'pod',
    itsm: 'sandbox',
    // Requests ordered on the sandbox instance's catalog item (its demo records) come in too.
    itsmFront: { catalogItem: 'Cloud access request', directoryIdAttribute: 'u_entra_object_id' },
    systems: [{ name: 'azure-prod', provider: 'azure-rbac', scopes: [sub] }],
    permissions: [
      { name: 'prod-reader', system: 'azure-prod', grants: 'Reader', description: 'Read everything in production' },
      { name: 'prod-vm-contributor', system: 'azure-prod', grants: 'Virtual Machine Contributor' },
    ],
    policies: [
      {
        name: 'production',
        permissions: ['*'],
        maxDuration: 'PT8H',
        defaultDuration: 'PT1H',
        approvers: { users: ['demo-approver'] },
      },
    ],
  };
}

async function runPodDemo(ctx: DemoContext): Promise<void> {
  const service = podService(ctx.app);
  if (!service) return;
  const { step, say } = ctx;
  const scope = `/subscriptions/${ctx.sandbox.azure.demo.prodSubscription}`;
  step(`Permissions on demand: demo-requester asks for Reader on ${scope} for Megan Bowen, for one hour`);
  const submitted = await service.submit(
    {
      system: 'azure-prod',
      permission: 'prod-reader',
      identity: { type: 'user', id: MEGAN },
      duration: 'PT1H',
      justification: 'INC0010001: read the web tier logs',
    },
    'user:demo-requester',
    { idempotencyKey: `demo-${Date.now()}` },
  );
  say(`request ${submitted.id}: ${submitted.status}  (${ctx.url}/api/pod/requests/${submitted.id})`);
  const load = () => service.load(submitted.id);

  step('demo-approver approves it; Ticketloop creates the role assignment in Azure and reads it back');
  await service.decide(submitted.id, 'user:demo-approver', 'approve', 'ok for the incident');
  const granted = await waitForStatus(load, ['granted', 'grant_failed']);
  if (granted.status !== 'granted') throw new Error(`the grant failed: ${granted.error}`);
  say(`granted until ${new Date(granted.grant!.expiresAt).toISOString()}; ARM says: ${granted.grant!.providerState}`);
  say(
    `visible through ARM: GET ${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '${MEGAN}'`,
  );

  step(
    'Sandbox time moves one hour ahead: the expiry timer fires, Ticketloop removes the assignment and reads it back',
  );
  await advanceSandboxClock(ctx, 3_600_000 + 1000);
  ctx.app.engine.wake();
  const ended = await waitForStatus(load, ['expired', 'revoke_failed']);
  say(`${ended.status}: ARM says ${ended.grant?.providerState}`);
  say(`note: ${ended.revokeCaveat}`);

  await runServiceNowDemo(ctx, DEMO_POD, (ms) => advanceSandboxClock(ctx, ms));
}

async function advanceSandboxClock(ctx: DemoContext, ms: number): Promise<void> {
  const agent = new Agent({ connect: { ca: ctx.sandbox.tls.ca } });
  try {
    const r = await request(`${ctx.sandbox.azure.baseUrl}/_sandbox/clock`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: ms }),
    });
    await r.body.text();
  } finally {
    await agent.close();
  }
}
