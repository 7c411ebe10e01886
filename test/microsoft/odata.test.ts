import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphCaller, startHarness, type Harness } from './helpers.ts';
import { startReceiver } from './receiver.ts';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { GraphClient } from '../../src/connectors/microsoft/graph.ts';
import { EntitlementGraph } from '../../src/flows/entitlement/graph-em.ts';

/**
 * Query options on the entitlement-management resources, against the v1.0 schema
 * (microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl, copied as sandbox/microsoft/graph-schema.ts).
 */

const EM = '/v1.0/identityGovernance/entitlementManagement';
const q = encodeURIComponent;

async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Two catalogs, four access packages, an extension on a stage of one policy, one request per policy. */
async function fixture(h: Harness, calloutUrl: string) {
  const token = await h.token();
  const g = graphCaller(h, token);
  const em = async (method: string, path: string, json?: unknown) => {
    const r = await g(method, EM + path, json);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const sales = await em('POST', '/catalogs', { displayName: 'Sales catalog' });
  const hr = await em('POST', '/catalogs', { displayName: 'HR catalog' });
  const ext = await em('POST', `/catalogs/${sales.id}/customWorkflowExtensions`, {
    '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
    displayName: 'Ticketloop',
    endpointConfiguration: {
      '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
      subscriptionId: 's',
      resourceGroupName: 'rg',
      logicAppWorkflowName: 'la',
      url: calloutUrl,
    },
    authenticationConfiguration: { '@odata.type': '#microsoft.graph.azureAdTokenAuthentication', resourceId: 'x' },
    callbackConfiguration: { timeoutDuration: 'P1D' },
  });
  const pkg = async (displayName: string, catalogId: string) =>
    em('POST', '/accessPackages', { displayName, catalog: { id: catalogId } });
  const teamSales = await pkg('Team Sales', sales.id);
  const teamMarketing = await pkg('team Marketing', sales.id);
  const finance = await pkg('Finance app', sales.id);
  const portal = await pkg('HR portal', hr.id);
  const ticketed = await em('POST', '/assignmentPolicies', {
    displayName: 'Ticketed',
    accessPackage: { id: teamSales.id },
    customExtensionStageSettings: [{ stage: 'assignmentRequestApproved', customExtension: { id: ext.id } }],
    questions: [{ '@odata.type': '#microsoft.graph.accessPackageTextInputQuestion', text: 'Why?' }],
  });
  const direct = await em('POST', '/assignmentPolicies', { displayName: 'Direct', accessPackage: { id: finance.id } });
  const request = async (policy: { id: string }, accessPackageId: string) =>
    em('POST', '/assignmentRequests', {
      requestType: 'adminAdd',
      assignment: { targetId: DEMO_USERS[0].id, assignmentPolicyId: policy.id, accessPackageId },
    });
  const waiting = await request(ticketed, teamSales.id);
  const granted = await request(direct, finance.id);
  return {
    token,
    g,
    em,
    sales,
    hr,
    ext,
    teamSales,
    teamMarketing,
    finance,
    portal,
    ticketed,
    direct,
    waiting,
    granted,
  };
}

async function withFixture(fn: (f: Awaited<ReturnType<typeof fixture>>, h: Harness) => Promise<void>) {
  const h = await startHarness();
  const rx = await startReceiver();
  try {
    await fn(await fixture(h, rx.url), h);
  } finally {
    await rx.close();
    await h.close();
  }
}

const names = (body: { value: { displayName: string }[] }) => body.value.map((v) => v.displayName).sort();

test('$expand of a property the type does not have is 400 BadRequest (CSDL v1.0: accessPackageAssignmentRequest navigates to accessPackage, assignment, requestor; no target)', () =>
  withFixture(async (f) => {
    const bad = await f.g('GET', `${EM}/assignmentRequests/${f.waiting.id}?$expand=target`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BadRequest');
    assert.equal(
      bad.body.error.message,
      "Could not find a property named 'target' on type 'microsoft.graph.accessPackageAssignmentRequest'.",
    );
    assert.deepEqual(Object.keys(bad.body.error.innerError), ['date', 'request-id', 'client-request-id']);

    const ok = await f.g('GET', `${EM}/assignmentRequests/${f.waiting.id}?$expand=accessPackage,assignment,requestor`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.accessPackage.id, f.teamSales.id);
    assert.equal(ok.body.requestor.subjectType, 'servicePrincipal');
    assert.equal(typeof ok.body.assignment.id, 'string');
    assert.equal('target' in ok.body, false);
    assert.match(
      ok.body['@odata.context'],
      /assignmentRequests\(accessPackage\(\),assignment\(\),requestor\(\)\)\/\$entity$/,
    );

    // The assignment does navigate to its target (accessPackageAssignment.target: accessPackageSubject).
    const granted = await until(async () => {
      const r = await f.g('GET', `${EM}/assignmentRequests/${f.granted.id}?$expand=assignment($expand=target)`);
      return r.body.state === 'delivered' ? r.body : undefined;
    }, 'delivery');
    assert.equal(granted.assignment.target.objectId, DEMO_USERS[0].id);
    assert.equal(granted.assignment.target.email, DEMO_USERS[0].mail);

    const structural = await f.g('GET', `${EM}/accessPackages?$expand=displayName`);
    assert.equal(structural.status, 400);
    assert.equal(
      structural.body.error.message,
      "Property 'displayName' on type 'microsoft.graph.accessPackage' is not a navigation property or complex property. Only navigation properties can be expanded.",
    );
  }));

test('$select returns the selected properties only, plus id and @odata annotations; an unknown one is 400', () =>
  withFixture(async (f) => {
    const one = await f.g('GET', `${EM}/accessPackages/${f.finance.id}?$select=displayName`);
    assert.equal(one.status, 200);
    assert.deepEqual(Object.keys(one.body), ['@odata.context', 'id', 'displayName']);
    assert.equal(one.body.displayName, 'Finance app');
    assert.match(
      one.body['@odata.context'],
      /\/v1\.0\/\$metadata#identityGovernance\/entitlementManagement\/accessPackages\(displayName\)\/\$entity$/,
    );

    const list = await f.g('GET', `${EM}/accessPackages?$select=isHidden,displayName`);
    assert.equal(list.body.value.length, 4);
    for (const p of list.body.value) assert.deepEqual(Object.keys(p), ['id', 'displayName', 'isHidden']);

    // Extensions keep their @odata.type.
    const ext = await f.g('GET', `${EM}/catalogs/${f.sales.id}/customWorkflowExtensions?$select=displayName`);
    assert.deepEqual(ext.body.value, [
      {
        '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
        id: f.ext.id,
        displayName: 'Ticketloop',
      },
    ]);

    const bad = await f.g('GET', `${EM}/accessPackages?$select=displayName,nope`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'BadRequest');
    assert.equal(
      bad.body.error.message,
      "Could not find a property named 'nope' on type 'microsoft.graph.accessPackage'.",
    );
  }));

test('$expand=assignmentPolicies on one access package and on the list (accesspackage-get.md); relationships only when expanded', () =>
  withFixture(async (f) => {
    const plain = await f.g('GET', `${EM}/accessPackages/${f.teamSales.id}`);
    assert.equal('assignmentPolicies' in plain.body, false);
    assert.equal('catalog' in plain.body, false);

    const one = await f.g('GET', `${EM}/accessPackages/${f.teamSales.id}?$expand=assignmentPolicies`);
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.assignmentPolicies.map((p: { id: string }) => p.id),
      [f.ticketed.id],
    );
    // customExtensionStageSettings and questions are navigation properties of the policy too.
    assert.equal('customExtensionStageSettings' in one.body.assignmentPolicies[0], false);
    assert.equal('questions' in one.body.assignmentPolicies[0], false);

    const list = await f.g('GET', `${EM}/accessPackages?$expand=assignmentPolicies($select=displayName),catalog`);
    assert.equal(list.status, 200);
    assert.match(list.body['@odata.context'], /accessPackages\(assignmentPolicies\(displayName\),catalog\(\)\)$/);
    const byName = Object.fromEntries(list.body.value.map((p: any) => [p.displayName, p]));
    assert.deepEqual(byName['Team Sales'].assignmentPolicies, [{ id: f.ticketed.id, displayName: 'Ticketed' }]);
    assert.deepEqual(byName['Finance app'].assignmentPolicies, [{ id: f.direct.id, displayName: 'Direct' }]);
    assert.deepEqual(byName['team Marketing'].assignmentPolicies, []);
    assert.equal(byName['HR portal'].catalog.displayName, 'HR catalog');

    const questions = await f.g('GET', `${EM}/assignmentPolicies/${f.ticketed.id}?$expand=questions`);
    assert.equal(questions.body.questions[0].text, 'Why?');
  }));

test('what Ticketloop sends keeps working: catalog/id and accessPackage/id filters, customExtensionStageSettings($expand=customExtension)', () =>
  withFixture(async (f, h) => {
    const graph = new EntitlementGraph(
      new GraphClient({
        graphUrl: h.sb.graphUrl,
        auth: { headers: async () => ({ authorization: `Bearer ${f.token}` }) },
        ca: h.tls.ca,
      }),
    );
    const policies = await graph.listAssignmentPolicies(f.teamSales.id);
    assert.equal(policies.length, 1);
    const [setting] = policies[0].customExtensionStageSettings;
    assert.equal(setting.stage, 'assignmentRequestApproved');
    assert.equal(setting.customExtension.id, f.ext.id);
    assert.equal(setting.customExtension.displayName, 'Ticketloop');
    assert.deepEqual(
      (await graph.listAccessPackages(`catalog/id eq '${f.hr.id}'`)).map((p) => p.displayName),
      ['HR portal'],
    );
    assert.deepEqual(
      (await graph.listCatalogs("displayName eq 'Sales catalog'")).map((c) => c.id),
      [f.sales.id],
    );
  }));

test('$filter: contains(tolower(…)), startswith, eq/ne on strings, enums and GUIDs, and/or, parentheses (entitlementmanagement-list-accesspackages.md, -list-assignments.md)', () =>
  withFixture(async (f) => {
    const pkgs = async (filter: string) => {
      const r = await f.g('GET', `${EM}/accessPackages?$filter=${q(filter)}`);
      assert.equal(r.status, 200, `${filter}: ${JSON.stringify(r.body)}`);
      return names(r.body);
    };
    assert.deepEqual(await pkgs("contains(tolower(displayName),'team')"), ['Team Sales', 'team Marketing']);
    assert.deepEqual(await pkgs("startswith(displayName,'Fin')"), ['Finance app']);
    assert.deepEqual(await pkgs("displayName eq 'HR portal'"), ['HR portal']);
    assert.deepEqual(await pkgs("displayName ne 'HR portal' and not startswith(displayName, 'team')"), ['Finance app']);
    assert.deepEqual(
      await pkgs("(startswith(displayName,'HR') or endswith(displayName,'app')) and isHidden eq false"),
      ['Finance app', 'HR portal'],
    );
    assert.deepEqual(await pkgs(`catalog/id eq ${f.hr.id}`), ['HR portal'], 'an unquoted GUID literal');
    assert.deepEqual(await pkgs(`id in ('${f.finance.id}', '${f.portal.id}')`), ['Finance app', 'HR portal']);

    const requests = async (filter: string) =>
      (await f.g('GET', `${EM}/assignmentRequests?$filter=${q(filter)}`)).body.value.length;
    assert.equal(await requests("requestType eq 'adminAdd'"), 2, 'an enum member');
    assert.equal(await requests("requestType ne 'adminAdd'"), 0);
    assert.equal(await requests(`accessPackage/id eq '${f.teamSales.id}'`), 1);

    // The docs' own example spells the property target/objectid.
    await until(async () => {
      const r = await f.g(
        'GET',
        `${EM}/assignments?$expand=target&$filter=${q(`accessPackage/id eq '${f.finance.id}' and target/objectid eq '${DEMO_USERS[0].id}'`)}`,
      );
      return r.body.value.length === 1 && r.body.value[0].target.objectId === DEMO_USERS[0].id ? true : undefined;
    }, 'the granted assignment');
  }));

test('$filter errors are Graph 400 envelopes with OData messages, never a bare Fastify error or 500', () =>
  withFixture(async (f) => {
    const cases: [string, string][] = [
      ['displayName eq', "Syntax error at position 14 in 'displayName eq'."],
      ["displayName eq 'x", "There is an unterminated string literal at position 15 in 'displayName eq 'x'."],
      [
        "frobnicate(displayName, 'x')",
        "An unknown function with name 'frobnicate' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.",
      ],
      ["nope eq 'x'", "Could not find a property named 'nope' on type 'microsoft.graph.accessPackage'."],
      ["catalog/nope eq 'x'", "Could not find a property named 'nope' on type 'microsoft.graph.accessPackageCatalog'."],
      [
        "assignmentPolicies/id eq 'x'",
        "The parent value for a property access of a property 'id' is not a single value. Property access can only be applied to a single value.",
      ],
      ["displayName eq 'x' and", "Syntax error at position 22 in 'displayName eq 'x' and'."],
    ];
    for (const [filter, message] of cases) {
      const r = await f.g('GET', `${EM}/accessPackages?$filter=${q(filter)}`);
      assert.equal(r.status, 400, filter);
      assert.equal(r.body.error.code, 'BadRequest', filter);
      assert.equal(r.body.error.message, message);
      assert.ok(r.body.error.innerError['request-id'], filter);
    }
  }));
