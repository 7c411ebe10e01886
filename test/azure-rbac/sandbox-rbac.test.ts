import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO } from '../../sandbox/azure/index.ts';
import { TEST_OID, startHarness, type Harness } from '../azure/helpers.ts';

/**
 * The ARM sandbox's role definitions and role assignments over raw HTTPS, against
 * `authorization-RoleAssignmentsCalls.json` 2022-04-01 (Azure/azure-rest-api-specs) and its examples,
 * the conflict codes of pod-wire-format.md §1.3–1.4 (AzDocs troubleshooting.md; azure-cli#31995 for the
 * existing-id sentence) and the built-in roles of MicrosoftDocs built-in-roles/*.md.
 */

const SUB = `/subscriptions/${DEMO.prodSubscription}`;
const RG = `${SUB}/resourceGroups/rg-web`;
const RG_DATA = `${SUB}/resourceGroups/rg-data`;
const AUTHZ = '/providers/Microsoft.Authorization';
const V = 'api-version=2022-04-01';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const P1 = '11111111-1111-4111-8111-111111111111';
const P2 = '22222222-2222-4222-8222-222222222222';
const N1 = 'a0000000-0000-4000-8000-000000000001';
const N2 = 'a0000000-0000-4000-8000-000000000002';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const body = (principalId: string, role: string, principalType = 'User') => ({
  properties: { roleDefinitionId: `${SUB}${AUTHZ}/roleDefinitions/${role}`, principalId, principalType },
});
const put = (h: Harness, scope: string, name: string, json: unknown) =>
  h.call('PUT', `${scope}${AUTHZ}/roleAssignments/${name}?${V}`, { json });

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('role definitions: built-ins with their real GUIDs, roleName filter, get by GUID and by id, 404', () =>
  withHarness(async (h) => {
    const list = await h.call(
      'GET',
      `${SUB}${AUTHZ}/roleDefinitions?${V}&$filter=${encodeURIComponent("roleName eq 'Reader'")}`,
    );
    assert.equal(list.status, 200);
    assert.equal(list.body.value.length, 1);
    const reader = list.body.value[0];
    const ex = fixture('GetRoleDefinitionByName.json').responses['200'].body;
    assert.deepEqual(Object.keys(reader), Object.keys(ex), 'properties, id, type, name as the example');
    assert.deepEqual(Object.keys(reader.properties).slice(0, 5), Object.keys(ex.properties));
    assert.equal(reader.id, `${SUB}${AUTHZ}/roleDefinitions/${READER}`);
    assert.equal(reader.properties.type, 'BuiltInRole');

    const all = await h.call('GET', `${SUB}${AUTHZ}/roleDefinitions?${V}`);
    const names = Object.fromEntries(all.body.value.map((r: any) => [r.properties.roleName, r.name]));
    assert.equal(names.Owner, '8e3af657-a8ff-443c-a75c-2fe8c4bcb635');
    assert.equal(names.Contributor, CONTRIBUTOR);
    assert.equal(names['User Access Administrator'], '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9');
    assert.equal(names['Virtual Machine Contributor'], '9980e02c-c2be-4d73-94e8-173b1dc7cf3c');
    assert.equal(names['Storage Blob Data Reader'], '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1');

    const one = await h.call('GET', `${RG}${AUTHZ}/roleDefinitions/${CONTRIBUTOR}?${V}`);
    assert.equal(one.body.properties.roleName, 'Contributor');
    const byId = await h.call('GET', `${AUTHZ}/roleDefinitions/${READER}?${V}`);
    assert.equal(byId.body.id, `${AUTHZ}/roleDefinitions/${READER}`);
    const missing = await h.call('GET', `${SUB}${AUTHZ}/roleDefinitions/00000000-0000-4000-8000-000000000000?${V}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'RoleDefinitionDoesNotExist');
    assert.equal(
      (await h.call('GET', `${SUB}${AUTHZ}/roleDefinitions?api-version=2015-07-01`)).body.error.code,
      'NoRegisteredProviderFound',
    );
  }));

test('PUT 201 then 200 for the same triple, 409 RoleAssignmentExists under another name, 400 UpdateNotPermitted', () =>
  withHarness(async (h) => {
    const created = await put(h, SUB, N1, body(P1, READER));
    assert.equal(created.status, 201);
    const ex = fixture('RoleAssignments_CreateForSubscription.json').responses['201'].body;
    assert.deepEqual(Object.keys(created.body), Object.keys(ex));
    assert.deepEqual(Object.keys(created.body.properties).slice(0, 4), Object.keys(ex.properties));
    // The example answers the tenant form of roleDefinitionId for a subscription-scoped request.
    assert.equal(created.body.properties.roleDefinitionId, `${AUTHZ}/roleDefinitions/${READER}`);
    assert.equal(created.body.properties.scope, SUB);
    assert.equal(created.body.id, `${SUB}${AUTHZ}/roleAssignments/${N1}`);
    assert.equal(created.body.properties.createdBy, TEST_OID);

    const again = await put(h, SUB, N1, body(P1, READER));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, created.body);

    const dup = await put(h, SUB, N2, body(P1, READER));
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.body.error, {
      code: 'RoleAssignmentExists',
      message: `The role assignment already exists. The ID of the existing role assignment is ${N1.replace(/-/g, '')}.`,
      target: null,
      details: [],
      additionalInfo: [],
    });

    const changed = await put(h, SUB, N1, body(P1, CONTRIBUTOR));
    assert.equal(changed.status, 400);
    assert.equal(changed.body.error.code, 'RoleAssignmentUpdateNotPermitted');
    // Names are unique in the tenant: the same name at another scope is an update too.
    assert.equal((await put(h, RG, N1, body(P1, READER))).body.error.code, 'RoleAssignmentUpdateNotPermitted');
  }));

test('GET, DELETE 200 with the body, then 204; GET of a deleted assignment is 404 RoleAssignmentNotFound', () =>
  withHarness(async (h) => {
    await put(h, RG, N1, body(P2, CONTRIBUTOR, 'ServicePrincipal'));
    const path = `${RG}${AUTHZ}/roleAssignments/${N1}?${V}`;
    const got = await h.call('GET', path);
    assert.equal(got.status, 200);
    assert.equal(got.body.properties.principalType, 'ServicePrincipal');
    const del = await h.call('DELETE', path);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, got.body);
    assert.equal((await h.call('DELETE', path)).status, 204);
    const gone = await h.call('GET', path);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'RoleAssignmentNotFound');
  }));

test('validation: principalType enum, unknown role, GUID name, missing principal (PrincipalNotFound), unknown resource group', () =>
  withHarness(async (h) => {
    assert.equal((await put(h, SUB, N1, body(P1, READER, 'Robot'))).body.error.code, 'InvalidPrincipalType');
    const unknownRole = await put(h, SUB, N1, body(P1, '00000000-0000-4000-8000-000000000000'));
    assert.equal(unknownRole.status, 400);
    assert.equal(unknownRole.body.error.code, 'RoleDefinitionDoesNotExist');
    assert.equal((await put(h, SUB, 'not-a-guid', body(P1, READER))).body.error.code, 'InvalidRoleAssignmentId');
    await h.admin('/authorization/settings', { missingPrincipals: [P2] });
    const missing = await put(h, SUB, N1, body(P2, READER));
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'PrincipalNotFound');
    assert.match(
      missing.body.error.message,
      /^Principal 22222222222242228222222222222222 does not exist in the directory /,
    );
    const rg = await put(h, `${SUB}/resourceGroups/rg-nope`, N1, body(P1, READER));
    assert.equal(rg.status, 404);
    assert.equal(rg.body.error.code, 'ResourceGroupNotFound');
  }));

test('lists: atScope() is at or above, principalId eq is at, above or below (quoted or not), assignedTo(), no filter is all', () =>
  withHarness(async (h) => {
    const SUB_A = 'b0000000-0000-4000-8000-00000000000a';
    const RG_B = 'b0000000-0000-4000-8000-00000000000b';
    const DATA_C = 'b0000000-0000-4000-8000-00000000000c';
    await put(h, SUB, SUB_A, body(P1, READER));
    await put(h, RG, RG_B, body(P2, CONTRIBUTOR));
    await put(h, RG_DATA, DATA_C, body(P1, CONTRIBUTOR));
    const names = async (scope: string, filter?: string) => {
      const f = filter === undefined ? '' : `&$filter=${encodeURIComponent(filter)}`;
      const r = await h.call('GET', `${scope}${AUTHZ}/roleAssignments?${V}${f}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.value.map((a: any) => a.name).sort();
    };
    assert.deepEqual(await names(RG, 'atScope()'), [SUB_A, RG_B], 'the subscription assignment is inherited');
    assert.deepEqual(await names(SUB, 'atScope()'), [SUB_A]);
    assert.deepEqual(await names(SUB, `principalId eq '${P1}'`), [SUB_A, DATA_C], 'below the scope too');
    assert.deepEqual(await names(SUB, `principalId eq ${P1}`), [SUB_A, DATA_C]);
    assert.deepEqual(await names(RG, `principalId eq '${P1}'`), [SUB_A]);
    assert.deepEqual(await names(SUB, `assignedTo('${P2}')`), [RG_B]);
    assert.deepEqual(await names(SUB), [SUB_A, RG_B, DATA_C]);
    assert.deepEqual(
      await names(`/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}`, `principalId eq '${P2}'`),
      [RG_B],
    );
    const bad = await h.call(
      'GET',
      `${SUB}${AUTHZ}/roleAssignments?${V}&$filter=${encodeURIComponent("roleName eq 'x'")}`,
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidFilter');
  }));

test('nextLink paging over the role assignment list', () =>
  withHarness(async (h) => {
    await h.admin('/authorization/settings', { pageSize: 2 });
    const principals = Array.from({ length: 5 }, (_, i) => `c0000000-0000-4000-8000-00000000000${i}`);
    await h.admin('/roleAssignments', {
      assignments: principals.map((principalId) => ({ scope: SUB, principalId, roleDefinitionId: 'Reader' })),
    });
    let url: string | undefined = `${SUB}${AUTHZ}/roleAssignments?${V}`;
    const seen: string[] = [];
    let pages = 0;
    while (url) {
      const r: any = await h.call('GET', url);
      assert.equal(r.status, 200);
      pages++;
      seen.push(...r.body.value.map((a: any) => a.properties.principalId));
      url = r.body.nextLink;
      if (url) assert.match(url, /^https:\/\/[^/]+\/subscriptions\/.+api-version=2022-04-01.*\$skipToken=/);
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, principals);
  }));

test('writing role assignments needs Microsoft.Authorization/roleAssignments/write: a deny rule answers 403 AuthorizationFailed', () =>
  withHarness(async (h) => {
    await h.admin('/rbac/deny', {
      principalId: TEST_OID,
      scope: SUB,
      actions: ['Microsoft.Authorization/roleAssignments/write'],
    });
    const r = await put(h, RG, N1, body(P1, READER));
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, {
      error: {
        code: 'AuthorizationFailed',
        message: `The client '${TEST_OID}' with object id '${TEST_OID}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '${RG}${AUTHZ}/roleAssignments/${N1}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      },
    });
    assert.equal((await h.call('GET', `${RG}${AUTHZ}/roleAssignments?${V}`)).status, 200, 'reads are not writes');
  }));

test('control API seeds pre-existing access; state persists across a restart; faults apply', () =>
  withHarness(async (h) => {
    const seeded = await h.admin('/roleAssignments', {
      scope: RG,
      principalId: P1,
      roleDefinitionId: 'Contributor',
      name: N1,
    });
    assert.equal(seeded.value[0].id, `${RG}${AUTHZ}/roleAssignments/${N1}`);
    assert.equal(
      (await put(h, RG, N2, body(P1, CONTRIBUTOR))).status,
      409,
      'the seeded assignment is the existing one',
    );
    await put(h, SUB, N2, body(P2, READER));

    await h.restart();
    const list = await h.call('GET', '/_sandbox/azure/roleAssignments', { token: null });
    assert.deepEqual(list.body.value.map((a: any) => a.name).sort(), [N1, N2]);
    assert.equal((await h.call('GET', `${SUB}${AUTHZ}/roleAssignments/${N2}?${V}`)).status, 200);

    await h.call('PATCH', '/_sandbox/faults', { token: null, json: { burst429: 1, retryAfterSeconds: 7 } });
    const throttled = await h.call('GET', `${SUB}${AUTHZ}/roleAssignments?${V}`);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], '7');
    assert.equal((await h.call('GET', `${SUB}${AUTHZ}/roleAssignments?${V}`)).status, 200);
    assert.deepEqual(await h.admin('/roleAssignments/delete', { principalId: P1 }), { removed: 1 });
  }));
