import { Agent, request } from 'undici';
import type { DemoContext, DemoSandbox, FlowDemo } from '../../app/module.ts';
import { loadFlowState } from '../../engine/flow.ts';
import { governanceKey } from './effects.ts';
import { FLOW, type ItemState } from './flow.ts';
import { defenderRuntime } from './runtime.ts';
import { itemIdFor } from './assessments.ts';
import { reconcile } from './reconcile.ts';

/**
 * `npm start`, Defender part: an integration on the sandbox's production subscription (one ticket
 * per unhealthy resource), its tickets and governance assignments, then one resource fixed in the
 * sandbox and its ticket resolved by the next reconcile pass.
 */

export const DEMO_INTEGRATION = 'demo-defender';

export const defenderDemo: FlowDemo = {
  integrations: (s) => [demoIntegration(s)],
  run: (ctx) => runDefenderDemo(ctx),
};

export function demoIntegration(s: DemoSandbox): Record<string, unknown> {
  return {
    name: DEMO_INTEGRATION,
    type: 'defender',
    itsm: 'sandbox',
    scope: `/subscriptions/${s.azure.demo.prodSubscription}`,
    ticketType: 'incident',
    grouping: 'resource',
    mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
    dailyCap: 25,
    closedWhileUnhealthy: 'reopen',
    // The demo drives its passes itself; the schedule is the hourly backstop.
    reconcileIntervalSeconds: 3600,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T | undefined>, ms = 30_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > end) return v;
    await sleep(200);
  }
}

async function runDefenderDemo(ctx: DemoContext): Promise<void> {
  const d = defenderRuntime(ctx.app);
  const i = d.integrations.get(DEMO_INTEGRATION);
  if (!i) return;
  const out = ctx.say;
  const DEMO = ctx.sandbox.azure.demo;
  const db = ctx.app.store.db;
  ctx.step(
    `Defender for Cloud: integration "${i.name}" reconciles ${i.scope} (one ticket per unhealthy resource, owner ${i.mapping.assignedTo}).`,
  );
  const first = await reconcile(d, i);
  const items = await db
    .selectFrom('flow_state')
    .select('id')
    .where('flow', '=', FLOW)
    .where('id', 'like', `${i.name}:%`)
    .execute();
  // (The schedule's first pass at start may already have done the work; this pass then finds nothing new.)
  out(
    `pass: ${first.assessments} assessments in ${first.pages} page(s), ${first.unhealthy} unhealthy → ${items.length} ticket item(s)`,
  );
  const opened = await until(async () => {
    const states = await Promise.all(items.map((r) => loadFlowState<ItemState>(db, FLOW, r.id)));
    return states.every((s) => s?.ticket) ? states : undefined;
  });
  ctx.step('Tickets opened in ServiceNow, governance assignments written back to Defender:');
  for (const s of opened ?? [])
    if (s?.ticket) out(`${s.ticket.key}  [${s.severity}] ${s.title}\n        ${s.resourceId}`);

  const target = itemIdFor(i, DEMO.systemUpdates, DEMO.vm);
  const vmItem = await loadFlowState<ItemState>(db, FLOW, target);
  const arm = ctx.app.connections.microsoft().arm;
  const gov = await until(() =>
    arm.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, governanceKey(i.name, DEMO.vm, DEMO.systemUpdates)),
  );
  if (gov)
    out(
      `governance assignment on vm-web-01: owner ${gov.properties.owner}, due ${gov.properties.remediationDueDate.slice(0, 10)}, ticket #${gov.properties.additionalData?.ticketNumber} (${gov.properties.additionalData?.ticketStatus})\n        open it: ${gov.properties.additionalData?.ticketLink ?? ''}`,
    );

  ctx.step(`Fixing vm-web-01 in the sandbox: "System updates" flips to Healthy…`);
  const agent = new Agent({ connect: { ca: ctx.sandbox.tls.ca } });
  try {
    const r = await request(`${ctx.sandbox.azure.baseUrl}/_sandbox/azure/assessments/flip`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId: DEMO.vm, assessmentName: DEMO.systemUpdates, status: 'Healthy' }),
    });
    await r.body.text();
  } finally {
    await agent.close();
  }
  const second = await reconcile(d, i);
  out(`pass 2: ${second.healed} assessment(s) healthy again → governance assignment deleted, ticket resolved`);
  const resolved = await until(async () => {
    const s = await loadFlowState<ItemState>(db, FLOW, target);
    return s?.status === 'resolved' ? s : undefined;
  });
  ctx.step(
    resolved
      ? `${resolved.ticket?.key} resolved with a note ("healthy on every resource"); the other ${Math.max(0, (opened?.length ?? 1) - 1)} ticket(s) stay open. (${vmItem?.ticket?.link ?? ''})`
      : 'The ticket was not resolved in time — see /api/jobs for what is pending.',
  );
  ctx.step(
    `Query API (signed in, e.g. as demo-auditor): ${ctx.url}/api/defender/assignments  ·  CSV: ${ctx.url}/api/defender/assignments.csv`,
  );
}
