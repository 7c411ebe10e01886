import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { startHarness, type Harness } from './helpers.ts';

/**
 * Paths the sandbox does not serve answer ARM's `{"error":{"code","message"}}`, never Fastify's
 * `{"message":"Route … not found"}` (issue #11, item 4). Messages as ARM words them: InvalidResourceNamespace
 * (Azure/aci-connector-k8s#13), InvalidResourceType and NoRegisteredProviderFound (Azure/azure-cli#28496),
 * MissingApiVersionParameter.
 */

const SUB = `/subscriptions/${DEMO.prodSubscription}`;

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

function assertArmError(r: { status: number; body: any }, status: number, code: string, message: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.deepEqual(r.body, { error: { code, message } });
}

test('an unknown provider namespace: 400 InvalidResourceNamespace', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `${SUB}/providers/Microsoft.Nope/widgets?api-version=2021-04-01`);
    assertArmError(r, 400, 'InvalidResourceNamespace', "The resource namespace 'Microsoft.Nope' is invalid.");
  }));

test('an unknown resource type under a served provider: 400 InvalidResourceType', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `${SUB}/providers/Microsoft.Security/widgets?api-version=2021-06-01`);
    assertArmError(
      r,
      400,
      'InvalidResourceType',
      "The resource type 'widgets' could not be found in the namespace 'Microsoft.Security' for api version '2021-06-01'.",
    );
    const nested = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}/subAssessments?api-version=2021-06-01`,
    );
    assert.equal(nested.body.error.code, 'InvalidResourceType');
    assert.match(nested.body.error.message, /'assessments\/subAssessments'/);
    const resources = await h.call('GET', `${SUB}/widgets?api-version=2021-04-01`);
    assertArmError(
      resources,
      400,
      'InvalidResourceType',
      "The resource type 'widgets' could not be found in the namespace 'Microsoft.Resources' for api version '2021-04-01'.",
    );
  }));

test('a served type with an api-version it lacks: 400 NoRegisteredProviderFound', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `/providers/Microsoft.Management/managementGroups?api-version=2017-01-01`);
    assertArmError(
      r,
      400,
      'NoRegisteredProviderFound',
      "No registered resource provider found for location 'global' and API version '2017-01-01' for type 'managementGroups'. The supported api-versions are '2023-04-01, 2021-04-01, 2020-05-01, 2020-02-01'. The supported locations are 'global'.",
    );
  }));

test('no api-version, on a served path or an unknown one: 400 MissingApiVersionParameter', () =>
  withHarness(async (h) => {
    const message = 'The api-version query parameter (?api-version=) is required for all requests.';
    for (const path of [
      '/subscriptions',
      `${SUB}/resourcegroups`,
      `${SUB}/providers/Microsoft.Nope/widgets`,
      '/tenants',
    ])
      assertArmError(await h.call('GET', path), 400, 'MissingApiVersionParameter', message);
  }));

test('a resource of a real namespace the sandbox does not serve: 404 ResourceNotFound', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `${DEMO.vm}?api-version=2024-07-01`);
    assertArmError(
      r,
      404,
      'ResourceNotFound',
      "The Resource 'Microsoft.Compute/virtualMachines/vm-web-01' under resource group 'rg-web' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    );
  }));

test('anything else: 404 in the ARM envelope, whatever the method (Fastify not-found handler too)', () =>
  withHarness(async (h) => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/nothing/here?api-version=2021-04-01'],
      ['DELETE', '/metadata/endpoints?api-version=2022-09-01'],
      ['OPTIONS', `${SUB}?api-version=2022-12-01`],
    ]) {
      const r = await h.call(method, path);
      assert.equal(r.status, path === '/' ? 400 : 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(Object.keys(r.body.error), ['code', 'message'], `${method} ${path}`);
      assert.equal(r.body.message, undefined, 'not the Fastify body');
    }
    const r = await h.call('GET', '/nothing/here?api-version=2021-04-01');
    assertArmError(r, 404, 'NotFound', "The requested resource '/nothing/here' was not found.");
    // The control API's own unknown paths also answer the envelope (no token needed there).
    const admin = await h.call('GET', '/_sandbox/azure/nothing', { token: null });
    assert.equal(admin.status, 404);
    assert.equal(admin.body.error.code, 'NotFound');
  }));
