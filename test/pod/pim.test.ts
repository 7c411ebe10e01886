import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { DEMO_USERS, RESOURCE_GROUPS } from '../../sandbox/microsoft/constants.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { send } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { BROKER_ROLES } from '../graph-groups/helpers.ts';
import { ALICE_OID, podIntegration, startPod, type PodHarness } from './harness.ts';

// Overlapping grants on providers that end an assignment by themselves (issue #13, gap 1): two
// requests share one PIM schedule (reference counting, assignment.ts); the schedule must last until
// the later one's end, not the first's. Read back through ARM (roleAssignmentScheduleInstances,
// pod-wire-format.md §2.2) and Graph (group/assignmentScheduleInstances, §3.3); the extension is an
// AdminUpdate / adminUpdate schedule request — which also shortens the schedule when the holder with
// the latest end is revoked early. Ticketloop's clock starts at the sandbox's and both move together.

const HOUR = 3_600_000;
const MIN = 60_000;
const ALEX = DEMO_USERS[1];
const BREAK_GLASS = RESOURCE_GROUPS.find((g) => g.displayName === 'Prod Break-glass')!;

let sandbox: Sandbox;
let agent: Agent;
let arm: PodHarness;
let graph: PodHarness;
let SUB: string;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-pim-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  SUB = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
  const connections = sandboxConnections(sandbox);
  arm = await startPod(
    'real',
    podIntegration({
      itsm: 'sandbox',
      systems: [{ name: 'azure-prod', provider: 'azure-pim', scopes: [SUB] }],
      permissions: [{ name: 'prod-reader', system: 'azure-prod', grants: 'Reader' }],
    }),
    { dataDir: join(dir, 'tl-arm'), connections, startAt: sandbox.clock.now() },
  );
  // PIM for Groups needs an app holding the group and PIM permissions (the demo app holds neither).
  const broker = await send(
    agent,
    'POST',
    `${sandbox.microsoft.baseUrl}/_sandbox/entra/apps`,
    { 'content-type': 'application/json' },
    JSON.stringify({ displayName: 'Broker', roles: BROKER_ROLES }),
  );
  assert.ok(broker.status < 300, JSON.stringify(broker.body));
  graph = await startPod(
    'real',
    podIntegration({
      itsm: 'sandbox',
      systems: [{ name: 'break-glass', provider: 'entra-pim-group', scopes: [] }],
      permissions: [{ name: 'break-glass', system: 'break-glass', grants: BREAK_GLASS.id }],
    }),
    {
      dataDir: join(dir, 'tl-graph'),
      connections: {
        ...connections,
        microsoft: { ...connections.microsoft, clientId: broker.body.clientId, clientSecret: broker.body.clientSecret },
      },
      startAt: sandbox.clock.now(),
    },
  );
});
after(async () => {
  await arm?.stop();
  await graph?.stop();
  await agent?.close();
  await sandbox?.close();
});

/** Moves Ticketloop's clock and the sandbox's together, and lets due jobs run. */
function advance(ms: number) {
  sandbox.clock.advance(ms);
  arm.clock.advance(ms);
  graph.clock.advance(ms);
  arm.app.engine.wake();
  graph.app.engine.wake();
}

async function token(scope: string): Promise<string> {
  const ms = sandboxConnections(sandbox).microsoft;
  const r = await send(
    agent,
    'POST',
    `${ms.authorityHost}/${ms.tenantId}/oauth2/v2.0/token`,
    { 'content-type': 'application/x-www-form-urlencoded' },
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: ms.clientId,
      client_secret: ms.clientSecret,
      scope,
    }).toString(),
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

/** The end of the principal's active PIM assignment as ARM lists it, or undefined when there is none. */
async function armEnd(principal: string): Promise<number | undefined> {
  const filter = encodeURIComponent(`principalId eq '${principal}'`);
  const r = await send(
    agent,
    'GET',
    `${sandbox.azure.baseUrl}${SUB}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version=2020-10-01&$filter=${filter}`,
    { authorization: `Bearer ${await token('https://management.azure.com/.default')}` },
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const [i] = r.body.value;
  return i ? Date.parse(i.properties.endDateTime) : undefined;
}

/** The end of the principal's active membership as PIM for Groups lists it (read with the broker's own token). */
async function graphEnd(principal: string): Promise<number | undefined> {
  const ms = graph.app.connections.microsoft();
  const filter = `groupId eq '${BREAK_GLASS.id}' and principalId eq '${principal}'`;
  const r = await ms.graph.get<{ value: { endDateTime: string | null }[] }>(
    `/identityGovernance/privilegedAccess/group/assignmentScheduleInstances?$filter=${encodeURIComponent(filter)}`,
  );
  const [i] = r.value;
  return i ? Date.parse(i.endDateTime!) : undefined;
}

const reaches = (h: PodHarness, id: string, status: string) =>
  until(async () => {
    const r = (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
    return r.status === status ? r : undefined;
  }, `request ${id} ${status}`);

async function granted(h: PodHarness, permission: string, principal: string, duration: string) {
  const system = permission === 'prod-reader' ? 'azure-prod' : 'break-glass';
  const r = await h.call('rita', 'POST', '/api/pod/requests', {
    system,
    permission,
    identity: { type: 'user', id: principal },
    duration,
    justification: 'INC0010007: database failover',
  });
  assert.equal(r.status, 201, r.text);
  const a = await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, { comment: 'ok' });
  assert.equal(a.status, 200, a.text);
  return reaches(h, r.body.id, 'granted');
}

const near = (a: number | undefined, b: number, what: string) =>
  assert.ok(
    a !== undefined && Math.abs(a - b) < 5_000,
    `${what}: ${a && new Date(a).toISOString()} vs ${new Date(b).toISOString()}`,
  );

for (const [name, h, permission, principal, endOf] of [
  ['azure-pim', () => arm, 'prod-reader', ALICE_OID, armEnd],
  ['entra-pim-group', () => graph, 'break-glass', ALEX.id, graphEnd],
] as const) {
  test(`${name}: two overlapping requests — access lasts to the second's end, then it is removed`, async () => {
    const first = await granted(h(), permission, principal, 'PT1H');
    const firstEnd = Date.parse(first.grant.expiresAt);
    near(await endOf(principal), firstEnd, 'the schedule ends with the first grant');

    advance(20 * MIN);
    const second = await granted(h(), permission, principal, 'PT2H');
    const secondEnd = Date.parse(second.grant.expiresAt);
    // The shared schedule is moved to the second grant's end, and the request shows the end read back.
    await until(async () => {
      const end = await endOf(principal);
      return end !== undefined && end > firstEnd + HOUR / 2;
    }, 'the schedule extended');
    near(await endOf(principal), secondEnd, 'the schedule ends with the second grant');
    const shown = await until(async () => {
      const r = (await h().call('admin', 'GET', `/api/pod/requests/${second.id}`)).body;
      return r.grant.providerEndsAt ? r : undefined;
    }, 'the provider end on the second request');
    near(Date.parse(shown.grant.providerEndsAt), secondEnd, 'providerEndsAt');

    // The first one expires: the identity keeps the access (the provider still lists it).
    advance(HOUR - 20 * MIN + MIN);
    const firstDone = await reaches(h(), first.id, 'expired');
    assert.match(firstDone.grant.providerState, /still held by 1 other request/);
    near(await endOf(principal), secondEnd, 'still assigned after the first expired');

    // The second one expires: gone from the provider.
    advance(secondEnd - firstEnd);
    const secondDone = await reaches(h(), second.id, 'expired');
    assert.match(secondDone.grant.providerState, /not assigned/);
    assert.equal(await endOf(principal), undefined);
  });

  test(`${name}: extending a request extends the provider schedule`, async () => {
    const r = await granted(h(), permission, principal, 'PT1H');
    near(await endOf(principal), Date.parse(r.grant.expiresAt), 'before');
    advance(10 * MIN);
    const x = await h().call('alice', 'POST', `/api/pod/requests/${r.id}/extend`, { duration: 'PT1H' });
    assert.equal(x.status, 200, x.text);
    const extendedTo = Date.parse(x.body.grant.expiresAt);
    await until(async () => {
      const end = await endOf(principal);
      return end !== undefined && Math.abs(end - extendedTo) < 5_000;
    }, 'the schedule moved to the extended end');
    advance(extendedTo - sandbox.clock.now() + MIN);
    await reaches(h(), r.id, 'expired');
    assert.equal(await endOf(principal), undefined);
  });

  test(`${name}: the holder with the latest end revoked early — the schedule is shortened to the other's end`, async () => {
    const longer = await granted(h(), permission, principal, 'PT2H');
    const longerEnd = Date.parse(longer.grant.expiresAt);
    advance(20 * MIN);
    const shorter = await granted(h(), permission, principal, 'PT1H');
    const shorterEnd = Date.parse(shorter.grant.expiresAt);
    near(await endOf(principal), longerEnd, 'the shared schedule ends with the longer grant');

    advance(10 * MIN);
    const revoked = await h().call('rita', 'POST', `/api/pod/requests/${longer.id}/revoke`, { comment: 'done early' });
    assert.equal(revoked.status, 200, revoked.text);
    const done = await reaches(h(), longer.id, 'revoked');
    assert.match(done.grant.providerState, /still held by 1 other request/);
    // The same AdminUpdate path moves the end back to the remaining holder's, read back from the provider.
    await until(async () => {
      const end = await endOf(principal);
      return end !== undefined && Math.abs(end - shorterEnd) < 5_000;
    }, 'the schedule shortened to the remaining grant’s end');
    const shown = await until(async () => {
      const r = (await h().call('admin', 'GET', `/api/pod/requests/${shorter.id}`)).body;
      return r.grant.providerEndsAt && Math.abs(Date.parse(r.grant.providerEndsAt) - shorterEnd) < 5_000
        ? r
        : undefined;
    }, 'the shortened end on the remaining request');
    assert.equal(shown.status, 'granted');

    advance(shorterEnd - sandbox.clock.now() + MIN);
    await reaches(h(), shorter.id, 'expired');
    assert.equal(await endOf(principal), undefined);
  });
}
