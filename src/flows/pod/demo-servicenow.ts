import { Agent, request } from 'undici';
import type { DemoContext } from '../../app/module.ts';
import { waitUntil } from '../../app/demo-wait.ts';
import { AuthorizationClient, principalFilter, type RoleAssignment } from '../../connectors/microsoft/authorization.ts';
import type { RequestState } from './request.ts';
import { podService } from './runtime.ts';
import { listRequests } from './views.ts';

/**
 * `npm start`, permissions on demand from ServiceNow: Megan Bowen orders the sandbox instance's
 * "Cloud access request" catalog item (Service Catalog API `order_now`); Ticketloop's intake takes
 * the RITM in, demo-approver approves it here, Ticketloop creates the role assignment (shown as ARM
 * lists it) and the RITM follows; sandbox time moves past the end and the assignment is gone.
 */

const MEGAN = { id: 'a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03', mail: 'megan.bowen@ticketloopsandbox.onmicrosoft.com' };
const ITEM = 'Cloud access request';

/** The sandbox instance's REST API as its IT support account (Basic), answers parsed. */
function serviceNow(ctx: DemoContext) {
  const sn = ctx.sandbox.servicenow;
  const agent = new Agent({ connect: { ca: ctx.sandbox.tls.ca } });
  const auth = `Basic ${Buffer.from(`${sn.credentials.itil.username}:${sn.credentials.itil.password}`).toString('base64')}`;
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const r = await request(`${sn.baseUrl}${path}`, {
      method,
      dispatcher: agent,
      headers: { authorization: auth, accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`ServiceNow sandbox: ${method} ${path} answered ${r.statusCode}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
  const table = async (name: string, query: string, fields: string) =>
    (
      await call(
        'GET',
        `/api/now/table/${name}?${new URLSearchParams({ sysparm_query: query, sysparm_fields: fields })}`,
      )
    ).result as Record<string, string>[];
  return { call, table, close: () => agent.close() };
}

export async function runServiceNowDemo(
  ctx: DemoContext,
  integration: string,
  advanceSandboxClock: (ms: number) => Promise<void>,
): Promise<void> {
  const service = podService(ctx.app);
  if (!service) return;
  const { step, say } = ctx;
  const scope = `/subscriptions/${ctx.sandbox.azure.demo.prodSubscription}`;
  const sn = serviceNow(ctx);
  const arm = new AuthorizationClient(ctx.app.connections.microsoft().arm);
  const assignmentsOfMegan = async () => {
    const found: RoleAssignment[] = [];
    for await (const page of arm.listRoleAssignments(scope, principalFilter(MEGAN.id))) found.push(...page.value);
    return found;
  };
  try {
    step(`In ServiceNow, Megan Bowen orders "${ITEM}": Virtual Machine Contributor on ${scope}, for two hours`);
    // The catalog item, its variables and the tenant's people come with the sandbox's demo records.
    await sn.call('POST', '/_sandbox/servicenow/seed', { set: 'demo' });
    const [item] = await sn.table('sc_cat_item', `name=${ITEM}`, 'sys_id');
    const [megan] = await sn.table('sys_user', `email=${MEGAN.mail}`, 'sys_id');
    const order = await sn.call('POST', `/api/sn_sc/servicecatalog/items/${item.sys_id}/order_now`, {
      sysparm_quantity: 1,
      sysparm_requested_for: megan.sys_id,
      variables: {
        system: 'azure-prod',
        permission: 'prod-vm-contributor',
        duration: 'PT2H',
        justification: 'CHG0030001: resize the web tier VMs',
      },
    });
    const [ritm] = await sn.table('sc_req_item', `request=${order.result.sys_id}`, 'sys_id,number');
    say(`${order.result.number} / ${ritm.number}, ordered with POST /api/sn_sc/servicecatalog/items/{item}/order_now`);
    const ritmNow = async () =>
      (await sn.table('sc_req_item', `sys_id=${ritm.sys_id}`, 'stage,state,approval,active'))[0];

    step('Ticketloop picks it up: its intake reads new requests of the catalog item and submits them');
    await ctx.app.engine.enqueue({
      kind: 'pod.itsm-intake',
      key: `demo-intake:${ritm.sys_id}`,
      payload: { integration },
      priority: 'urgent',
    });
    const taken = await waitUntil(`${ritm.number} taken in`, async () => {
      const { items } = await listRequests(ctx.app.store.db, ctx.app.store.dialect, { limit: 50, offset: 0 });
      return items.find((r) => r.state.ticket?.key === ritm.number);
    });
    const id = taken.id;
    say(`request ${id}: ${taken.state.status}, asked by ${taken.state.requester}  (${ctx.url}/pod/requests/${id})`);
    const waiting = await waitUntil('the RITM waiting for approval', async () => {
      const r = await ritmNow();
      return r.approval === 'requested' ? r : undefined;
    });
    say(`ServiceNow shows ${ritm.number}: stage ${waiting.stage}, approval ${waiting.approval}`);

    step('demo-approver approves it in Ticketloop; Ticketloop creates the role assignment and reads it back');
    await service.decide(id, 'user:demo-approver', 'approve', 'ok for the change');
    const load = () => service.load(id);
    const granted = await waitForStatus(load, ['granted', 'grant_failed']);
    if (granted.status !== 'granted') throw new Error(`the grant failed: ${granted.error}`);
    say(`granted until ${new Date(granted.grant!.expiresAt).toISOString()}; ARM says: ${granted.grant!.providerState}`);
    say(`GET ${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '${MEGAN.id}':`);
    for (const a of await assignmentsOfMegan())
      say(
        `  ${a.name}  role ${a.properties.roleDefinitionId.split('/').pop()} (${granted.permission.displayName})  ${a.properties.principalType} ${a.properties.principalId}`,
      );
    const delivered = await waitUntil('the RITM in delivery', async () => {
      const r = await ritmNow();
      return r.stage === 'delivery' ? r : undefined;
    });
    say(`ServiceNow shows ${ritm.number}: stage ${delivered.stage}, approval ${delivered.approval}`);

    step('Sandbox time moves two hours ahead: the grant expires, the assignment is removed and the RITM closed');
    await advanceSandboxClock(2 * 3_600_000 + 1000);
    ctx.app.engine.wake();
    const ended = await waitForStatus(load, ['expired', 'revoke_failed']);
    say(`${ended.status}: ARM says ${ended.grant?.providerState}`);
    const left = await assignmentsOfMegan();
    say(`ARM lists ${left.length} role assignment(s) of Megan Bowen on ${scope}`);
    const closed = await waitUntil('the RITM closed', async () => {
      const r = await ritmNow();
      return r.active === 'false' ? r : undefined;
    });
    say(`ServiceNow shows ${ritm.number}: state ${closed.state} (closed complete), stage ${closed.stage}`);
  } finally {
    await sn.close();
  }
}

export function waitForStatus(load: () => Promise<RequestState | undefined>, status: string[]): Promise<RequestState> {
  return waitUntil(`the request reaching ${status.join('/')}`, async () => {
    const s = await load();
    return s && status.includes(s.status) ? s : undefined;
  });
}
