import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO } from '../../sandbox/azure/index.ts';
import { TEST_OID, startHarness, type Harness } from '../azure/helpers.ts';

/**
 * PIM for Azure resources in the ARM sandbox over raw HTTPS: `RoleAssignmentScheduleRequest.json` and
 * `RoleAssignmentScheduleInstance.json` 2020-10-01 (Azure/azure-rest-api-specs) and their examples; the
 * policy and timing errors of pod-wire-format.md §2.3 (terraform-provider-azurerm#22766 for ExpirationRule,
 * the 5-minute floor of ActiveDurationTooShort) and the expiry of §2.4.
 */

const SUB = `/subscriptions/${DEMO.prodSubscription}`;
const RG = `${SUB}/resourceGroups/rg-web`;
const AUTHZ = '/providers/Microsoft.Authorization';
const V = 'api-version=2020-10-01';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const P1 = '11111111-1111-4111-8111-111111111111';
const MIN = 60_000;

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
let n = 0;
const guid = () => `d0000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

function request(h: Harness, scope: string, props: Record<string, unknown>, name = guid()) {
  return h.call('PUT', `${scope}${AUTHZ}/roleAssignmentScheduleRequests/${name}?${V}`, {
    json: { properties: { roleDefinitionId: `${SUB}${AUTHZ}/roleDefinitions/${READER}`, principalId: P1, ...props } },
  });
}
const assign = (h: Harness, scope: string, duration = 'PT1H', extra: Record<string, unknown> = {}) =>
  request(h, scope, {
    requestType: 'AdminAssign',
    justification: 'INC0010001',
    ticketInfo: { ticketNumber: 'INC0010001', ticketSystem: 'ServiceNow' },
    scheduleInfo: { expiration: { type: 'AfterDuration', duration } },
    ...extra,
  });
const remove = (h: Harness, scope: string) => request(h, scope, { requestType: 'AdminRemove' });
const instances = async (h: Harness, scope: string, filter = `principalId eq '${P1}'`) =>
  (await h.call('GET', `${scope}${AUTHZ}/roleAssignmentScheduleInstances?${V}&$filter=${encodeURIComponent(filter)}`))
    .body.value as any[];
const assignments = async (h: Harness, scope: string) =>
  (
    await h.call(
      'GET',
      `${scope}${AUTHZ}/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent(`principalId eq '${P1}'`)}`,
    )
  ).body.value as any[];
const advance = (h: Harness, ms: number) => h.call('POST', '/_sandbox/clock', { token: null, json: { advanceMs: ms } });

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('AdminAssign: 201 Provisioned in the example shape; the active assignment is in roleAssignments and instances', () =>
  withHarness(async (h) => {
    const r = await assign(h, SUB);
    assert.equal(r.status, 201);
    const ex = fixture('PutRoleAssignmentScheduleRequest.json').responses['201'].body;
    assert.deepEqual(Object.keys(r.body), Object.keys(ex));
    assert.deepEqual(Object.keys(r.body.properties), Object.keys(ex.properties));
    assert.deepEqual(
      Object.keys(r.body.properties.expandedProperties.scope),
      Object.keys(ex.properties.expandedProperties.scope),
    );
    assert.equal(r.body.properties.status, 'Provisioned');
    assert.equal(r.body.properties.requestType, 'AdminAssign');
    assert.equal(r.body.properties.requestorId, TEST_OID);
    assert.equal(r.body.properties.expandedProperties.roleDefinition.displayName, 'Reader');
    assert.equal(r.body.properties.expandedProperties.scope.displayName, 'Contoso Production');
    assert.equal(r.body.type, 'Microsoft.Authorization/RoleAssignmentScheduleRequests');

    const [inst] = await instances(h, SUB);
    const exInst = fixture('GetRoleAssignmentScheduleInstancesByScope.json').responses['200'].body.value[0];
    assert.deepEqual(Object.keys(inst), Object.keys(exInst));
    assert.deepEqual(Object.keys(inst.properties), Object.keys(exInst.properties));
    assert.equal(inst.properties.memberType, 'Direct');
    assert.equal(Date.parse(inst.properties.endDateTime) - Date.parse(inst.properties.startDateTime), 60 * MIN);
    const [ra] = await assignments(h, SUB);
    assert.equal(ra.id, inst.properties.originRoleAssignmentId);
    // Below the scope, the instance is inherited.
    const [below] = await instances(h, RG, `assignedTo('${P1}')`);
    assert.equal(below.properties.memberType, 'Inherited');

    const got = await h.call('GET', `${SUB}${AUTHZ}/roleAssignmentScheduleRequests/${r.body.name}?${V}`);
    assert.deepEqual(got.body, r.body);
    const listed = await h.call('GET', `${SUB}${AUTHZ}/roleAssignmentScheduleRequests?${V}&$filter=asRequestor()`);
    assert.deepEqual(
      listed.body.value.map((x: any) => x.name),
      [r.body.name],
    );
    const dup = await assign(h, SUB);
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error.code, 'RoleAssignmentExists');
  }));

test('ExpirationRule: over the policy maximum (default 8 h; per role through the control API) or permanent', () =>
  withHarness(async (h) => {
    const over = await assign(h, SUB, 'PT9H');
    assert.equal(over.status, 400);
    assert.deepEqual(over.body.error, {
      code: 'RoleAssignmentRequestPolicyValidationFailed',
      message: 'The following policy rules failed: ["ExpirationRule"]',
      target: null,
      details: [],
      additionalInfo: [],
    });
    const permanent = await assign(h, SUB, 'PT1H', { scheduleInfo: { expiration: { type: 'NoExpiration' } } });
    assert.equal(permanent.body.error.code, 'RoleAssignmentRequestPolicyValidationFailed');
    assert.equal((await assign(h, SUB, 'PT8H')).status, 201);

    await h.admin('/authorization/settings', { pimMaxDurationByRole: { Contributor: 'PT1H' } });
    const contributor = { roleDefinitionId: `${SUB}${AUTHZ}/roleDefinitions/${CONTRIBUTOR}` };
    assert.equal(
      (await assign(h, RG, 'PT2H', contributor)).body.error.code,
      'RoleAssignmentRequestPolicyValidationFailed',
    );
    const end = new Date(h.clock.now() + 30 * MIN).toISOString();
    const ok = await assign(h, RG, 'PT1H', {
      ...contributor,
      scheduleInfo: { expiration: { type: 'AfterDateTime', endDateTime: end } },
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.properties.scheduleInfo.expiration.endDateTime, end);
  }));

test('AdminRemove: ActiveDurationTooShort within 5 minutes, Revoked after, RoleAssignmentDoesNotExist when absent', () =>
  withHarness(async (h) => {
    await assign(h, SUB);
    const early = await remove(h, SUB);
    assert.equal(early.status, 400);
    assert.equal(early.body.error.code, 'ActiveDurationTooShort');
    assert.equal(early.body.error.message, 'The Active duration is too short. Miniumum Required is 5 minutes.');
    await advance(h, 5 * MIN + 1000);
    const removed = await remove(h, SUB);
    assert.equal(removed.status, 201);
    assert.equal(removed.body.properties.status, 'Revoked');
    assert.deepEqual(await instances(h, SUB), []);
    assert.deepEqual(await assignments(h, SUB), []);
    const absent = await remove(h, SUB);
    assert.equal(absent.status, 400);
    assert.deepEqual(
      [absent.body.error.code, absent.body.error.message],
      ['RoleAssignmentDoesNotExist', 'The Role assignment does not exist.'],
    );
  }));

test('expiry: the assignment ends by itself at endDateTime on sandbox time, and stays ended across a restart', () =>
  withHarness(async (h) => {
    await assign(h, SUB, 'PT30M');
    assert.equal((await assignments(h, SUB)).length, 1);
    await h.restart();
    assert.equal((await instances(h, SUB)).length, 1, 'persisted');
    await advance(h, 29 * MIN);
    assert.equal((await instances(h, SUB)).length, 1);
    await advance(h, 2 * MIN);
    assert.deepEqual(await instances(h, SUB), []);
    assert.deepEqual(await assignments(h, SUB), []);
    await h.restart();
    assert.deepEqual(await assignments(h, SUB), []);
  }));

test('a future schedule is Granted, not yet active, and can be canceled; a provisioned one cannot', () =>
  withHarness(async (h) => {
    const start = new Date(h.clock.now() + 60 * MIN).toISOString();
    const future = await assign(h, SUB, 'PT1H', {
      scheduleInfo: { startDateTime: start, expiration: { type: 'AfterDuration', duration: 'PT1H' } },
    });
    assert.equal(future.body.properties.status, 'Granted');
    assert.deepEqual(await instances(h, SUB), []);
    const cancel = await h.call(
      'POST',
      `${SUB}${AUTHZ}/roleAssignmentScheduleRequests/${future.body.name}/cancel?${V}`,
    );
    assert.equal(cancel.status, 200);
    const got = await h.call('GET', `${SUB}${AUTHZ}/roleAssignmentScheduleRequests/${future.body.name}?${V}`);
    assert.equal(got.body.properties.status, 'Canceled');

    const now = await assign(h, RG);
    const refused = await h.call('POST', `${RG}${AUTHZ}/roleAssignmentScheduleRequests/${now.body.name}/cancel?${V}`);
    assert.equal(refused.status, 400);
    const missing = await h.call('GET', `${SUB}${AUTHZ}/roleAssignmentScheduleRequests/${guid()}?${V}`);
    assert.equal(missing.status, 404);
  }));

test('AdminUpdate: moves the end of the active assignment (start kept); ExpirationRule on the new schedule; none → RoleAssignmentDoesNotExist', () =>
  withHarness(async (h) => {
    const update = (end: number | undefined) =>
      request(h, SUB, {
        requestType: 'AdminUpdate',
        scheduleInfo: {
          startDateTime: new Date(h.clock.now()).toISOString(),
          expiration:
            end === undefined
              ? { type: 'NoExpiration' }
              : { type: 'AfterDateTime', endDateTime: new Date(end).toISOString() },
        },
      });
    const absent = await update(h.clock.now() + 60 * MIN);
    assert.equal(absent.status, 400);
    assert.equal(absent.body.error.code, 'RoleAssignmentDoesNotExist');

    await assign(h, SUB, 'PT1H');
    const [before] = await instances(h, SUB);
    await advance(h, 50 * MIN);
    const end = h.clock.now() + 2 * 60 * MIN;
    const r = await update(end);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.properties.requestType, 'AdminUpdate');
    assert.equal(r.body.properties.status, 'Provisioned');
    const [after] = await instances(h, SUB);
    assert.equal(after.properties.startDateTime, before.properties.startDateTime, 'the start is kept');
    assert.equal(Date.parse(after.properties.endDateTime), end);
    assert.equal(after.properties.roleAssignmentScheduleId, before.properties.roleAssignmentScheduleId);

    // Past the first end, still active until the new one; then PIM ends it.
    await advance(h, 30 * MIN);
    assert.equal((await instances(h, SUB)).length, 1);
    assert.equal(
      (await update(h.clock.now() + 9 * 60 * MIN)).body.error.code,
      'RoleAssignmentRequestPolicyValidationFailed',
    );
    assert.equal((await update(undefined)).body.error.code, 'RoleAssignmentRequestPolicyValidationFailed');
    await advance(h, 91 * MIN);
    assert.deepEqual(await instances(h, SUB), []);
  }));
