import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEMO_USERS, EM_READWRITE } from '../../sandbox/microsoft/constants.ts';
import { EM_ROLES } from '../../sandbox/microsoft/graph-em-roles.ts';
import { entitlementChecks } from '../../src/flows/entitlement/checks.ts';
import { ASSIGNMENT_MANAGER_ROLE } from '../../src/flows/entitlement/grant.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { EM, startLoop, until, type Loop } from './helpers.ts';

/**
 * Item 10: Ticketloop resumes with either the tenant-wide application permission or the catalog role
 * "Access package assignment manager", and doctor says which one it found.
 */

const grantCheck = async (L: Loop) => {
  const results = await entitlementChecks(L.app, { microsoftSignedIn: true });
  return results.find((r) => r.check === 'resume grant')!;
};
const app = (L: Loop) =>
  L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/entra/apps`).then((r) =>
    r.body.value.find((a: any) => a.clientId === L.sandbox.microsoft.apps.ticketloop.clientId),
  );

test('the role ids the sandbox publishes are the ones doctor looks for', () => {
  assert.equal(EM_ROLES.accessPackageAssignmentManager.id, ASSIGNMENT_MANAGER_ROLE);
});

describe('application permission', () => {
  test('doctor finds EntitlementManagement.ReadWrite.All and recommends the catalog role', async () => {
    const L = await startLoop();
    try {
      assert.ok((await app(L)).roles.includes(EM_READWRITE));
      const r = await grantCheck(L);
      assert.equal(r.ok, true);
      assert.match(r.detail, /found the application permission EntitlementManagement\.ReadWrite\.All \(tenant-wide\)/);
      assert.match(r.detail, /least privilege: assign .*"Access package assignment manager"/);
    } finally {
      await L.close();
    }
  });
});

describe('catalog role only', () => {
  test('without either grant doctor fails; with the catalog role it passes and the resume succeeds on that catalog only', async () => {
    const L = await startLoop({ integration: { stages: ['assignmentRequestApproved'] } });
    try {
      const ticketloop = await app(L);
      // Take the application permission away before Ticketloop first signs in.
      const cut = await L.http('POST', `${L.sandbox.microsoft.baseUrl}/_sandbox/entra/apps`, {
        json: { clientId: ticketloop.clientId, roles: [] },
      });
      assert.equal(cut.status, 201);
      const none = await grantCheck(L);
      assert.equal(none.ok, false);
      assert.match(none.detail, /found neither EntitlementManagement\.ReadWrite\.All nor the catalog role/);
      assert.match(
        none.fix!,
        new RegExp(`service principal \\(${ticketloop.servicePrincipalId}\\).*Access package assignment manager`),
      );

      const s = await L.setup(['assignmentRequestApproved']);
      const other = await L.setup(['assignmentRequestApproved']);
      const role = await L.ms('POST', '/v1.0/roleManagement/entitlementManagement/roleAssignments', {
        principalId: ticketloop.servicePrincipalId,
        roleDefinitionId: EM_ROLES.accessPackageAssignmentManager.id,
        appScopeId: `/AccessPackageCatalog/${s.catalogId}`,
      });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      assert.equal(role.body.appScopeId, `/AccessPackageCatalog/${s.catalogId}`);
      const found = await grantCheck(L);
      assert.equal(found.ok, true, found.detail);
      assert.match(
        found.detail,
        new RegExp(
          `found the catalog role "Access package assignment manager" on 1 catalog\\(s\\) \\(${s.catalogId}\\)`,
        ),
      );

      // The loop resumes with the catalog role.
      const req = await s.request(DEMO_USERS[0].id);
      const callout = await s.callout(req.id, 'assignmentRequestApproved');
      const id = callout.customExtensionStageInstanceId;
      await until(async () => (await L.state(id))?.ticket, 'ticket');
      const [t] = await L.tickets(correlationKey('entitlement', id));
      await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'done' });
      await until(async () => (await s.getRequest(req.id)).state === 'delivered', 'delivered');
      const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
        .body;
      assert.equal(resumes.value[0].authorizedBy, 'catalog role');

      // A request in a catalog where the app holds no role: 403, whatever the body says.
      const foreign = await other.request(DEMO_USERS[1].id);
      const c2 = await other.callout(foreign.id, 'assignmentRequestApproved');
      const token = await L.sandbox.microsoft.entra.issueToken({
        clientId: ticketloop.clientId,
        audience: 'https://graph.microsoft.com',
        version: 1,
      });
      const refused = await L.http(
        'POST',
        `${L.sandbox.microsoft.baseUrl}${EM}/assignmentRequests/${foreign.id}/resume`,
        {
          headers: { authorization: `Bearer ${token}` },
          json: {
            source: 't',
            type: 'microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestApproved',
            data: {
              '@odata.type': 'microsoft.graph.accessPackageAssignmentRequestCallbackData',
              stage: 'assignmentRequestApproved',
              customExtensionStageInstanceId: c2.customExtensionStageInstanceId,
            },
          },
        },
      );
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'Authorization_RequestDenied');

      // Doctor names a configured catalog the role does not cover.
      L.app.integrations('entitlement')[0].catalogs = [s.catalogId, other.catalogId];
      const partial = await grantCheck(L);
      assert.equal(partial.ok, false);
      assert.match(partial.detail, new RegExp(`but not on ${other.catalogId}`));
    } finally {
      await L.close();
    }
  });
});
