import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO, DEMO_TENANT } from '../../sandbox/azure/index.ts';
import { TEST_APP_ID, TEST_OID, signToken, startHarness, type Harness } from './helpers.ts';

/**
 * The sandbox's minimal RBAC (issue #11, item 5): everything is allowed until the control API denies a
 * principal; then ARM answers 403 AuthorizationFailed worded as ARM words it (service principal: its
 * object id twice; scope = the item, or a collection's parent — Azure/azure-sdk-for-net#1157,
 * microsoft/azure-tools-for-java#3643), inherited down root → groups → subscription → resource.
 */

const SUB = `/subscriptions/${DEMO.prodSubscription}`;
const LIST = `${SUB}/providers/Microsoft.Security/assessments?api-version=2025-05-04`;
const ONE = `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}`;

const denied = (action: string, scope: string) =>
  `The client '${TEST_OID}' with object id '${TEST_OID}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('default: everything is allowed', () =>
  withHarness(async (h) => {
    assert.equal((await h.call('GET', LIST)).status, 200);
    assert.deepEqual((await h.call('GET', '/_sandbox/azure/state', { token: null })).body.rbac, { deny: [] });
  }));

test('deny read on a subscription: lists and items below it answer 403 AuthorizationFailed', () =>
  withHarness(async (h) => {
    const rule = await h.admin('/rbac/deny', { principalId: TEST_OID, scope: SUB });
    assert.deepEqual(rule.actions, ['*/read']);

    const list = await h.call('GET', LIST);
    assert.equal(list.status, 403);
    assert.deepEqual(list.body, {
      error: { code: 'AuthorizationFailed', message: denied('Microsoft.Security/assessments/read', SUB) },
    });
    const one = await h.call('GET', `${ONE}?api-version=2025-05-04`);
    assert.equal(one.status, 403);
    assert.equal(one.body.error.message, denied('Microsoft.Security/assessments/read', ONE));
    const groups = await h.call('GET', `${SUB}/resourcegroups?api-version=2021-04-01`);
    assert.equal(groups.body.error.message, denied('Microsoft.Resources/subscriptions/resourcegroups/read', SUB));
    const sub = await h.call('GET', `${SUB}?api-version=2022-12-01`);
    assert.equal(sub.status, 403);

    // Writes are not reads: a governance assignment can still be put (the rule denies */read only).
    const put = await h.call('PUT', `${ONE}/governanceAssignments/rbac-key?api-version=2022-01-01-preview`, {
      json: { properties: { remediationDueDate: '2030-01-01T00:00:00Z' } },
    });
    assert.equal(put.status, 201);
    // The subscription drops out of the caller's subscription list instead of failing it.
    const subs = await h.call('GET', '/subscriptions?api-version=2022-12-01');
    assert.deepEqual(
      subs.body.value.map((s: any) => s.subscriptionId),
      [DEMO.devSubscription],
    );
    // Other subscriptions and other principals are unaffected.
    assert.equal(
      (
        await h.call(
          'GET',
          `/subscriptions/${DEMO.devSubscription}/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
        )
      ).status,
      200,
    );
    const other = await signToken({ claims: { oid: 'another-principal', appid: 'another-app' }, now: h.clock.now() });
    assert.equal((await h.call('GET', LIST, { token: other })).status, 200);

    // Clearing restores access.
    assert.deepEqual(await h.admin('/rbac/clear', { principalId: TEST_OID }), { removed: 1 });
    assert.equal((await h.call('GET', LIST)).status, 200);
  }));

test('a rule by app id, on a management group, with explicit actions: inherited by the subscriptions below', () =>
  withHarness(async (h) => {
    await h.admin('/rbac/deny', {
      principalId: TEST_APP_ID,
      scope: `/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}`,
      actions: ['Microsoft.Security/assessments/*'],
    });
    const list = await h.call('GET', LIST);
    assert.equal(list.status, 403);
    assert.equal(list.body.error.message, denied('Microsoft.Security/assessments/read', SUB));
    const put = await h.call('PUT', `${ONE}/governanceAssignments/k?api-version=2022-01-01-preview`, {
      json: { properties: { remediationDueDate: '2030-01-01T00:00:00Z' } },
    });
    assert.equal(put.status, 403);
    assert.match(put.body.error.message, /'Microsoft\.Security\/assessments\/governanceAssignments\/write'/);
    // Other actions stay allowed.
    assert.equal((await h.call('GET', `${SUB}/resourcegroups?api-version=2021-04-01`)).status, 200);
  }));

test('a rule on the tenant root group denies the group itself and hides it from the group list', () =>
  withHarness(async (h) => {
    const root = `/providers/Microsoft.Management/managementGroups/${DEMO_TENANT.tenantId}`;
    await h.admin('/rbac/deny', { principalId: TEST_OID, scope: root, actions: ['Microsoft.Management/*'] });
    const get = await h.call('GET', `${root}?api-version=2021-04-01`);
    assert.equal(get.status, 403);
    assert.equal(get.body.error.message, denied('Microsoft.Management/managementGroups/read', root));
    const list = await h.call('GET', '/providers/Microsoft.Management/managementGroups?api-version=2021-04-01');
    assert.deepEqual(list.body.value, [], 'the child group inherits the deny');
    // Rules survive a restart (they are sandbox state).
    await h.restart();
    assert.equal((await h.call('GET', `${root}?api-version=2021-04-01`)).status, 403);
  }));

test('the control API validates a rule', () =>
  withHarness(async (h) => {
    const r = await h.call('POST', '/_sandbox/azure/rbac/deny', {
      token: null,
      json: { principalId: TEST_OID, scope: 'subscriptions/x' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'InvalidInput');
  }));
