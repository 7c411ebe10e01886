import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DEMO } from '../../sandbox/azure/index.ts';
import { runSdkFixture, startHarness } from '../azure/helpers.ts';

/**
 * The official @azure/arm-authorization 9.x SDK, unmodified, against the sandbox (pod-wire-format.md §1.7
 * and §2.5: `$host` for the URL templates, `endpoint`/`credentialScopes` for the token, HTTPS with the
 * sandbox's CA because the bearer policy refuses plain http).
 */

const fixture = fileURLToPath(new URL('./fixtures/sdk-authorization.ts', import.meta.url));
const SP = 'f1111111-1111-4111-8111-111111111111';

test('@azure/arm-authorization lists, reads and writes role definitions and assignments and creates a PIM request', async () => {
  const h = await startHarness();
  try {
    const out = await runSdkFixture(h, fixture, {
      PRINCIPAL_ID: SP,
    });
    const sub = `/subscriptions/${DEMO.prodSubscription}`;
    assert.deepEqual(out.readers, [
      { name: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', roleName: 'Reader', type: 'BuiltInRole' },
    ]);
    assert.equal(out.contributor, 'Contributor');
    assert.equal(out.byId, 'Reader');
    assert.deepEqual(out.custom, {
      name: 'e0000000-0000-4000-8000-0000000000c1',
      roleName: 'Ticketloop SDK Custom',
      type: 'CustomRole',
    });
    assert.deepEqual(out.created, {
      id: `${sub}/providers/Microsoft.Authorization/roleAssignments/e0000000-0000-4000-8000-0000000000a1`,
      principalType: 'ServicePrincipal',
      scope: sub,
    });
    assert.deepEqual(out.conflict, { status: 409, code: 'RoleAssignmentExists' });
    assert.deepEqual(out.listed, ['e0000000-0000-4000-8000-0000000000a1']);
    assert.equal(out.forSubscription.length, 1);
    assert.equal(out.got, 'e0000000-0000-4000-8000-0000000000a1');
    assert.deepEqual(out.pim, { status: 'Provisioned', requestType: 'AdminAssign', roleName: 'Contributor' });
    assert.equal(out.instances.length, 2, 'the RBAC assignment is a permanent instance, the PIM one ends');
    assert.equal(out.deleted, 'e0000000-0000-4000-8000-0000000000a1');
    assert.equal(out.deletedAgain, true, 'DELETE of an absent assignment is 204');
  } finally {
    await h.close();
  }
});
