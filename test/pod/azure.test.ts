import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { send } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { ALICE_OID, podIntegration, startPod, type PodHarness } from './harness.ts';

// The whole lifecycle with the shipped Azure RBAC provider against the ARM sandbox (issue #13
// "Tests: full lifecycle per provider"): the role assignment is visible through ARM while granted
// (pod-wire-format.md §1.1 list with `principalId eq`), and gone after expiry; access granted
// outside Ticketloop before the request stays (§1.3: 409 RoleAssignmentExists is someone else's).

let sandbox: Sandbox;
let agent: Agent;
let h: PodHarness;
let SUB: string;
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const OTHER = '77777777-7777-4777-8777-777777777777';

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-azure-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  SUB = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
  const integration = podIntegration({
    itsm: 'sandbox',
    systems: [{ name: 'azure-prod', provider: 'azure-rbac', scopes: [SUB] }],
  });
  h = await startPod('real', integration, { dataDir: join(dir, 'tl'), connections: sandboxConnections(sandbox) });
});
after(async () => {
  await h?.stop();
  await agent?.close();
  await sandbox?.close();
});

/** Role assignments ARM lists for a principal at the subscription. */
async function armAssignments(principal: string): Promise<{ properties: { roleDefinitionId: string } }[]> {
  const token = await fetchArmToken();
  const r = await send(
    agent,
    'GET',
    `${sandbox.azure.baseUrl}${SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent(`principalId eq '${principal}'`)}`,
    { authorization: `Bearer ${token}` },
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.value;
}

async function fetchArmToken(): Promise<string> {
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
      scope: 'https://management.azure.com/.default',
    }).toString(),
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

const reaches = (id: string, status: string) =>
  until(async () => {
    const r = (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
    return r.status === status ? r : undefined;
  }, `request ${id} ${status}`);

test('azure-rbac: request → approve → role assignment in ARM → expiry → gone from ARM', async () => {
  const r = await h.call('rita', 'POST', '/api/pod/requests', {
    system: 'azure-prod',
    permission: 'prod-reader',
    identity: { type: 'user', id: ALICE_OID },
    duration: 'PT2H',
    justification: 'INC0010002: read the web logs',
  });
  assert.equal(r.status, 201, r.text);
  await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, { comment: 'go' });
  const granted = await reaches(r.body.id, 'granted');
  assert.equal(granted.permissionId, READER, 'the role name was resolved through ARM');
  const listed = await armAssignments(ALICE_OID);
  assert.equal(listed.length, 1);
  assert.ok(listed[0].properties.roleDefinitionId.endsWith(READER));

  h.clock.advance(2 * 3_600_000 + 1);
  h.app.engine.wake();
  const expired = await reaches(r.body.id, 'expired');
  assert.match(expired.grant.providerState, /not assigned/);
  assert.deepEqual(await armAssignments(ALICE_OID), []);
});

test('azure-rbac: access assigned before the request is left in place after the grant ends', async () => {
  const seeded = await send(
    agent,
    'POST',
    `${sandbox.azure.baseUrl}/_sandbox/azure/roleAssignments`,
    { 'content-type': 'application/json' },
    JSON.stringify({ scope: SUB, principalId: OTHER, principalType: 'User', roleDefinitionId: READER }),
  );
  assert.ok(seeded.status < 300, JSON.stringify(seeded.body));
  const r = await h.call('rita', 'POST', '/api/pod/requests', {
    system: 'azure-prod',
    permission: 'prod-reader',
    identity: { type: 'user', id: OTHER },
    justification: 'on call',
  });
  await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  const granted = await reaches(r.body.id, 'granted');
  assert.equal(granted.grant.preexisting, true);
  await h.call('rita', 'POST', `/api/pod/requests/${r.body.id}/revoke`, {});
  await reaches(r.body.id, 'revoked');
  assert.equal((await armAssignments(OTHER)).length, 1, 'the pre-existing assignment is still there');
});
