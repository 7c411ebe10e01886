import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphCaller, startHarness, tokenWithRoles, type Harness } from './helpers.ts';
import { DEMO_USERS, GRAPH_APP_ID, TICKETLOOP_APP } from '../../sandbox/microsoft/constants.ts';

/**
 * The directory: api-reference/v1.0/api/user-list.md, user-get.md, serviceprincipal-list.md,
 * serviceprincipal-get.md; `$filter` support per property from concepts/aad-advanced-queries.md and
 * concepts/includes/filter-directory-objects.md (microsoftgraph/microsoft-graph-docs-contrib).
 */

const q = encodeURIComponent;
const ADELE = DEMO_USERS[0];

async function withDirectory(fn: (h: Harness, g: ReturnType<typeof graphCaller>) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h, graphCaller(h, await tokenWithRoles(h, ['User.Read.All', 'Application.Read.All'])));
  } finally {
    await h.close();
  }
}

test('GET /users: the default property set, $filter on userPrincipalName/mail/displayName, $select, $top with @odata.nextLink', () =>
  withDirectory(async (h, g) => {
    const all = await g('GET', '/v1.0/users');
    assert.equal(all.status, 200);
    assert.equal(all.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#users`);
    // "By default, only a limited set of properties are returned" (user-list.md), in the docs' order.
    assert.deepEqual(Object.keys(all.body.value[0]), [
      'businessPhones',
      'displayName',
      'givenName',
      'jobTitle',
      'mail',
      'mobilePhone',
      'officeLocation',
      'preferredLanguage',
      'surname',
      'userPrincipalName',
      'id',
    ]);
    const adele = all.body.value.find((u: { id: string }) => u.id === ADELE.id);
    assert.deepEqual([adele.givenName, adele.surname, adele.mail], ['Adele', 'Vance', ADELE.mail]);

    const one = async (filter: string) => {
      const r = await g('GET', `/v1.0/users?$filter=${q(filter)}`);
      assert.equal(r.status, 200, `${filter}: ${JSON.stringify(r.body)}`);
      return r.body.value.map((u: { displayName: string }) => u.displayName);
    };
    assert.deepEqual(await one(`userPrincipalName eq '${ADELE.userPrincipalName}'`), ['Adele Vance']);
    assert.deepEqual(await one(`mail eq '${DEMO_USERS[2].mail}'`), ['Megan Bowen']);
    assert.deepEqual(await one("startswith(displayName,'A')"), ['Adele Vance', 'Alex Wilber']);
    assert.deepEqual(await one(`id eq '${DEMO_USERS[3].id}' or startswith(mail,'megan')`), [
      'Megan Bowen',
      'Nestor Wilke',
    ]);

    // $select: only what was asked (the directory adds no id), and the context names the selection.
    const sel = await g(
      'GET',
      `/v1.0/users?$select=displayName,mail,accountEnabled&$filter=${q("startswith(displayName,'N')")}`,
    );
    assert.equal(sel.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#users(displayName,mail,accountEnabled)`);
    assert.deepEqual(sel.body.value, [{ displayName: 'Nestor Wilke', mail: DEMO_USERS[3].mail, accountEnabled: true }]);
    const badSelect = await g('GET', '/v1.0/users?$select=nope');
    assert.equal(badSelect.status, 400);
    assert.equal(
      badSelect.body.error.message,
      "Could not find a property named 'nope' on type 'microsoft.graph.user'.",
    );

    // $top pages; the next link is followed verbatim.
    const seen: string[] = [];
    let url: string | undefined = '/v1.0/users?$top=3&$select=id';
    let pages = 0;
    while (url) {
      const page: any = (await g('GET', url)).body;
      assert.ok(page.value.length <= 3);
      seen.push(...page.value.map((u: { id: string }) => u.id));
      url = page['@odata.nextLink'];
      pages++;
    }
    assert.equal(pages, 2);
    assert.deepEqual(seen.sort(), DEMO_USERS.map((u) => u.id).sort());
  }));

test('GET /users/{id | userPrincipalName}; an unknown one is 404 Request_ResourceNotFound', () =>
  withDirectory(async (h, g) => {
    const byId = await g('GET', `/v1.0/users/${ADELE.id}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#users/$entity`);
    const byUpn = await g('GET', `/v1.0/users/${q(ADELE.userPrincipalName.toUpperCase())}?$select=id,mail`);
    assert.deepEqual(byUpn.body, {
      '@odata.context': `${h.sb.graphUrl}/v1.0/$metadata#users(id,mail)/$entity`,
      id: ADELE.id,
      mail: ADELE.mail,
    });
    const missing = await g('GET', '/v1.0/users/nobody@ticketloopsandbox.onmicrosoft.com');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'Request_ResourceNotFound');
    assert.equal(
      missing.body.error.message,
      "Resource 'nobody@ticketloopsandbox.onmicrosoft.com' does not exist or one of its queried reference-property objects are not present.",
    );
  }));

test('directory $filter: ne/not/endsWith only as advanced queries (ConsistencyLevel: eventual + $count=true), unindexed clauses are Request_UnsupportedQuery', () =>
  withDirectory(async (_h, g) => {
    const endsWith = `/v1.0/users?$filter=${q("endswith(mail,'@ticketloopsandbox.onmicrosoft.com')")}`;
    const basic = await g('GET', endsWith);
    assert.equal(basic.status, 400);
    assert.equal(basic.body.error.code, 'Request_UnsupportedQuery');
    assert.equal(
      basic.body.error.message,
      "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
    );
    const advanced = await g('GET', `${endsWith}&$count=true`, undefined, { ConsistencyLevel: 'eventual' });
    assert.equal(advanced.status, 200);
    assert.equal(advanced.body['@odata.count'], 4);

    const ne = await g('GET', `/v1.0/users?$filter=${q("displayName ne 'Adele Vance'")}`);
    assert.equal(ne.status, 400);
    assert.match(
      ne.body.error.message,
      /^Operator 'ne' is not supported because the required parameters might be missing/,
    );
    const neAdvanced = await g(
      'GET',
      `/v1.0/users?$filter=${q("displayName ne 'Adele Vance'")}&$count=true`,
      undefined,
      {
        ConsistencyLevel: 'eventual',
      },
    );
    assert.equal(neAdvanced.body['@odata.count'], 3);

    const unsupported = async (filter: string, property: string) => {
      const r = await g('GET', `/v1.0/users?$filter=${q(filter)}`);
      assert.equal(r.status, 400, filter);
      assert.equal(r.body.error.code, 'Request_UnsupportedQuery', filter);
      assert.equal(
        r.body.error.message,
        `Unsupported or invalid query filter clause specified for property '${property}' of resource 'User'.`,
      );
    };
    await unsupported("contains(displayName,'a')", 'displayName');
    await unsupported("startswith(id,'a1')", 'id');
    await unsupported("aboutMe eq 'x'", 'aboutMe');

    // The $count segment: only as an advanced query (aad-advanced-queries.md's own error example).
    const countSegment = await g('GET', '/v1.0/users/$count');
    assert.equal(countSegment.status, 400);
    assert.deepEqual(
      [countSegment.body.error.code, countSegment.body.error.message],
      ['Request_BadRequest', '$count is not currently supported.'],
    );
    const counted = await g('GET', '/v1.0/users/$count', undefined, { ConsistencyLevel: 'eventual' });
    assert.equal(counted.status, 200);
    assert.match(String(counted.headers['content-type']), /^text\/plain/);
    assert.equal(String(counted.body), '4');

    // Without ConsistencyLevel, $count=true is silently ignored (aad-advanced-queries.md).
    const ignored = await g('GET', '/v1.0/users?$count=true');
    assert.equal(ignored.status, 200);
    assert.equal('@odata.count' in ignored.body, false);
  }));

test("GET /servicePrincipals: Graph's, ARM's and the registered apps', $filter on appId and displayName, Graph's appRoles", () =>
  withDirectory(async (h, g) => {
    const graph = await g('GET', `/v1.0/servicePrincipals?$filter=${q(`appId eq '${GRAPH_APP_ID}'`)}`);
    assert.equal(graph.status, 200);
    assert.equal(graph.body.value.length, 1);
    const sp = graph.body.value[0];
    assert.equal(sp.displayName, 'Microsoft Graph');
    assert.equal(sp.servicePrincipalType, 'Application');
    assert.equal(sp.appOwnerOrganizationId, 'f8cdef31-a31e-4b4a-93e4-5f571e91255a');
    const roles = Object.fromEntries(sp.appRoles.map((r: { value: string; id: string }) => [r.value, r.id]));
    assert.equal(roles['User.Read.All'], 'df021288-bdef-4463-88db-98f22de89214');
    assert.equal(roles['EntitlementManagement.ReadWrite.All'], '9acd699f-1e81-4958-b001-93b1d2506e19');

    const arm = await g(
      'GET',
      `/v1.0/servicePrincipals?$filter=${q("startswith(displayName,'Windows Azure')")}&$select=appId`,
    );
    assert.deepEqual(arm.body.value, [{ appId: '797f4846-ba00-4fd7-ba43-dac1f8f63013' }]);

    const apps = (await h.call('GET', '/_sandbox/entra/apps')).body.value;
    const ticketloop = apps.find((a: { clientId: string }) => a.clientId === TICKETLOOP_APP.clientId);
    const ours = await g('GET', `/v1.0/servicePrincipals?$filter=${q(`appId eq '${TICKETLOOP_APP.clientId}'`)}`);
    assert.equal(ours.body.value[0].id, ticketloop.servicePrincipalId, 'the oid in its tokens');
    assert.equal(ours.body.value[0].displayName, TICKETLOOP_APP.displayName);

    const byId = await g('GET', `/v1.0/servicePrincipals/${sp.id}?$select=displayName`);
    assert.deepEqual(byId.body, {
      '@odata.context': `${h.sb.graphUrl}/v1.0/$metadata#servicePrincipals(displayName)/$entity`,
      displayName: 'Microsoft Graph',
    });
    const missing = await g('GET', '/v1.0/servicePrincipals/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'Request_ResourceNotFound');

    const notIndexed = await g('GET', `/v1.0/servicePrincipals?$filter=${q("startswith(appId,'0000')")}`);
    assert.equal(notIndexed.body.error.code, 'Request_UnsupportedQuery');
  }));

test('the directory needs User.Read.All / Application.Read.All (or Directory.Read.All): else 403 Authorization_RequestDenied', async () => {
  const h = await startHarness();
  try {
    const em = graphCaller(h, await h.token()); // the Ticketloop app: EntitlementManagement.ReadWrite.All only
    for (const path of ['/v1.0/users', `/v1.0/users/${ADELE.id}`, '/v1.0/servicePrincipals']) {
      const r = await em('GET', path);
      assert.equal(r.status, 403, path);
      assert.equal(r.body.error.code, 'Authorization_RequestDenied');
    }
    const usersOnly = graphCaller(h, await tokenWithRoles(h, ['User.Read.All']));
    assert.equal((await usersOnly('GET', '/v1.0/users')).status, 200);
    assert.equal((await usersOnly('GET', '/v1.0/servicePrincipals')).status, 403);
    const directory = graphCaller(h, await tokenWithRoles(h, ['Directory.Read.All']));
    assert.equal((await directory('GET', '/v1.0/users')).status, 200);
    assert.equal((await directory('GET', '/v1.0/servicePrincipals')).status, 200);
  } finally {
    await h.close();
  }
});
