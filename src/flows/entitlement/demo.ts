import { Agent, request } from 'undici';
import type { DemoContext, DemoSandbox, FlowDemo } from '../../app/module.ts';
import { loadFlowState } from '../../engine/flow.ts';
import type { EntitlementIntegration } from './config.ts';
import type { EntitlementState } from './flow.ts';
import { EntitlementGraph } from './graph-em.ts';
import { audiencesOf, CALLOUT_PATH } from './routes.ts';

/**
 * `npm start`: the ticketed-provisioning loop against the sandbox, step by step — an access
 * package whose approved (and removed) stage calls Ticketloop, a request a person approves, the
 * ServiceNow ticket it opens, the request delivered once the ticket is closed, and the email Entra sends
 * the requester.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sandbox demo's Logic App forwarder secret (not a real secret: the sandbox only). */
export const DEMO_LOGIC_APP_SECRET = 'tl-demo-logic-app-secret';

export const entitlementDemo: FlowDemo = {
  integrations: (_sandbox: DemoSandbox) => [
    {
      name: 'entitlement-demo',
      type: 'entitlement',
      itsm: 'sandbox',
      accessPackages: ['*'],
      stages: ['assignmentRequestApproved', 'assignmentRequestRemoved'],
      table: 'sc_req_item',
      onTimeout: 'annotate',
      resumeSource: 'Ticketloop (ServiceNow sandbox)',
      inbound: { logicAppHmacSecret: DEMO_LOGIC_APP_SECRET },
    },
  ],
  run: runEntitlementDemo,
};

async function runEntitlementDemo(ctx: DemoContext): Promise<void> {
  const { app, sandbox, step, say: out } = ctx;
  const integ = app.integrations<EntitlementIntegration>('entitlement').find((i) => i.itsm === 'sandbox');
  if (!integ) return;
  const sn = sandbox.servicenow;
  const ms = sandbox.microsoft;
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const call = async (method: string, url: string, json?: unknown, headers: Record<string, string> = {}) => {
    const r = await request(url, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        accept: 'application/json',
        ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: json !== undefined ? JSON.stringify(json) : undefined,
    });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`${method} ${url} → ${r.statusCode} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };
  const graph = new EntitlementGraph(app.connections.microsoft().graph);

  try {
    step('Creating a catalog, a custom extension that calls Ticketloop, and a ticketed access package (Graph)');
    const cat =
      (await graph.listCatalogs("displayName eq 'Ticketloop demo'"))[0] ??
      (await graph.createCatalog({
        displayName: 'Ticketloop demo',
        description: 'Access packages provisioned through ServiceNow tickets',
      }));
    const target = `${ctx.url}${CALLOUT_PATH}`;
    const exts = await graph.listCustomWorkflowExtensions(cat.id);
    const ext =
      exts.find((e) => e.endpointConfiguration?.url === target) ??
      (await graph.createCustomWorkflowExtension(cat.id, {
        displayName: `Ticketloop ${target}`,
        target: { url: target },
        resourceId: audiencesOf(integ, app)[0],
        timeout: 'P14D',
      }));
    out(
      `custom extension "${ext.displayName}" → ${target} (bearer for resourceId ${audiencesOf(integ, app)[0]}; Entra sent a connection test)`,
    );
    const pkg =
      (await graph.listAccessPackages("displayName eq 'Finance app (ticketed)'"))[0] ??
      (await graph.createAccessPackage({
        displayName: 'Finance app (ticketed)',
        description: 'SAP finance access, provisioned by the IT service desk',
        catalog: { id: cat.id },
      }));
    const policy = await graph.createAssignmentPolicy({
      displayName: `Ticketed via ServiceNow (${new Date().toISOString()})`,
      accessPackage: { id: pkg.id },
      allowedTargetScope: 'allMemberUsers',
      requestApprovalSettings: { isApprovalRequiredForAdd: true, isApprovalRequiredForUpdate: false, stages: [] },
      customExtensionStageSettings: ['assignmentRequestApproved', 'assignmentRequestRemoved'].map((stage) => ({
        stage,
        customExtension: { id: ext.id },
      })),
    });
    out(
      `access package "${pkg.displayName}" with policy "${policy.displayName}": extension on the approved and removed stages`,
    );

    step('A user requests the access package, and the approver approves it');
    const {
      value: [user],
    } = await call('POST', `${ms.baseUrl}/_sandbox/entra/users`, {
      users: [{ displayName: `Pat Demo ${new Date().toISOString().slice(11, 19)}` }],
    });
    const req = await graph.createAssignmentRequest({
      requestType: 'userAdd',
      assignment: { targetId: user.id, assignmentPolicyId: policy.id, accessPackageId: pkg.id },
      justification: 'Month-end close',
    });
    out(`request ${req.id} for ${user.displayName}: ${req.state}`);
    for (let i = 0; i < 50; i++) {
      const r = await graph.getAssignmentRequest(req.id);
      if (r.state === 'pendingApproval') break;
      await sleep(100);
    }
    await call('POST', `${ms.baseUrl}/_sandbox/graph/assignmentRequests/${req.id}/approve`, {});
    out('approved → Entra calls the custom extension (Ticketloop) and waits for the callback');

    step('Ticketloop opens a ServiceNow ticket for the approved request');
    let item: EntitlementState | undefined;
    let instanceId = '';
    for (let i = 0; i < 300 && !item?.ticket; i++) {
      await sleep(100);
      const r = await graph.getAssignmentRequest(req.id);
      instanceId = r.customExtensionCalloutInstances?.[0]?.id ?? '';
      item = instanceId ? await loadFlowState<EntitlementState>(app.store.db, 'entitlement', instanceId) : undefined;
    }
    if (!item?.ticket) throw new Error('no ticket was opened within 30 s (see `ticketloop audit` and the jobs API)');
    const page = `${sn.baseUrl}/ui/${item.ticket.kind}/${item.ticket.id}`;
    out(`ticket ${item.ticket.key}   ${page}`);
    out(`(correlation id tl:entitlement:${instanceId})`);

    if (ctx.auto) {
      step(`--auto: the IT agent (${sn.credentials.itil.username}) closes ${item.ticket.key} through the Table API`);
      const basic = Buffer.from(`${sn.credentials.itil.username}:${sn.credentials.itil.password}`).toString('base64');
      await call(
        'PATCH',
        `${sn.baseUrl}/api/now/table/${item.ticket.kind}/${item.ticket.id}`,
        { state: '3', close_notes: 'Access granted in SAP (demo --auto)' },
        { authorization: `Basic ${basic}` },
      );
    } else {
      step(`Open ${page} , then close the ticket ("Close Complete", with close notes) — waiting…`);
    }

    let done: Record<string, any> | undefined;
    for (;;) {
      const r = await graph.getAssignmentRequest(req.id);
      if (r.completedDateTime) {
        done = r;
        break;
      }
      await sleep(ctx.auto ? 100 : 1000);
    }
    step('Ticketloop resumed the request in Entra (GET the request from Graph)');
    out(`request ${done.id}: state ${done.state}, status ${done.status}`);
    const inst = done.customExtensionCalloutInstances?.[0];
    if (inst) out(`callout instance ${inst.id}: ${inst.status} — "${inst.detail ?? ''}"`);
    // Entra emails the requester; the sandbox records the email instead of sending it.
    const told = await call('GET', `${ms.baseUrl}/_sandbox/graph/notifications?requestId=${done.id}`);
    for (const n of told?.value ?? [])
      out(`email to ${n.recipient.displayName} <${n.recipient.mail}>: "${n.subject}" (${n.template})`);
  } finally {
    await agent.close();
  }
}
