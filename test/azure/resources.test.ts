import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO, DEMO_TENANT } from '../../sandbox/azure/index.ts';
import { PAGE_SIZE } from '../../sandbox/azure/resources.ts';
import { startHarness, type Harness } from './helpers.ts';

/**
 * The reads scripts start with (issue #11, item 3), compared with Microsoft's response examples in
 * azure-rest-api-specs (copied to fixtures/arm-examples, see SOURCES.md): Subscriptions_List/Get and
 * Tenants_List (Microsoft.Resources 2022-12-01, subscriptions.json), ResourceGroups_List (2021-04-01,
 * resources.json), ManagementGroups_List/Get (Microsoft.Management 2021-04-01, management.json).
 */

const example = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/arm-examples/${name}`, import.meta.url), 'utf8')).responses['200'].body;
const MG = '/providers/Microsoft.Management/managementGroups';
const ROOT = DEMO_TENANT.tenantId;

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Follow nextLink to the end. */
async function all(h: Harness, url: string) {
  const items: any[] = [];
  const links: string[] = [];
  for (let next: string | null | undefined = url; next;) {
    const r = await h.call('GET', next);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    items.push(...r.body.value);
    next = r.body.nextLink;
    if (next) links.push(next);
  }
  return { items, links };
}

test('GET /subscriptions?api-version=2022-12-01: the fields and order of GetSubscriptions.json', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', '/subscriptions?api-version=2022-12-01');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['value'], 'one page: no nextLink');
    const [prod, dev] = r.body.value;
    const ex = example('GetSubscriptions.json').value[0];
    assert.deepEqual(
      Object.keys(prod),
      Object.keys(ex).filter((k) => k !== 'tags'),
    );
    assert.deepEqual(Object.keys(prod.subscriptionPolicies), Object.keys(ex.subscriptionPolicies));
    assert.deepEqual(prod, {
      id: `/subscriptions/${DEMO.prodSubscription}`,
      subscriptionId: DEMO.prodSubscription,
      tenantId: DEMO_TENANT.tenantId,
      displayName: 'Contoso Production',
      state: 'Enabled',
      subscriptionPolicies: {
        locationPlacementId: 'Public_2014-09-01',
        quotaId: 'PayAsYouGo_2014-09-01',
        spendingLimit: 'Off',
      },
      authorizationSource: 'RoleBased',
      managedByTenants: [],
    });
    assert.equal(dev.displayName, 'Contoso Development');

    // Tags and state set through the control API come back as ARM shows them.
    await h.admin('/subscriptions', { subscriptionId: 'sub-tagged', state: 'Disabled', tags: { costCenter: '42' } });
    const one = await h.call('GET', '/subscriptions/sub-tagged?api-version=2022-12-01');
    assert.deepEqual(Object.keys(one.body), Object.keys(ex));
    assert.equal(one.body.state, 'Disabled');
    assert.deepEqual(one.body.tags, { costCenter: '42' });
  }));

test('GET /subscriptions/{id}: one subscription; an unknown one is 404 SubscriptionNotFound', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `/subscriptions/${DEMO.devSubscription}?api-version=2022-12-01`);
    assert.equal(r.status, 200);
    assert.equal(r.body.id, `/subscriptions/${DEMO.devSubscription}`);
    const missing = await h.call('GET', '/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error: {
        code: 'SubscriptionNotFound',
        message: "The subscription '00000000-0000-0000-0000-000000000000' could not be found.",
      },
    });
    const badVersion = await h.call('GET', `/subscriptions/${DEMO.devSubscription}?api-version=2099-01-01`);
    assert.equal(badVersion.status, 400);
    assert.equal(badVersion.body.error.code, 'InvalidApiVersionParameter');
  }));

test('GET /subscriptions pages with nextLink ($skiptoken) past the page size, keeping api-version', () =>
  withHarness(async (h) => {
    for (let i = 0; i < PAGE_SIZE.subscriptions; i++)
      await h.admin('/subscriptions', { subscriptionId: `paged-${String(i).padStart(3, '0')}` });
    const { items, links } = await all(h, '/subscriptions?api-version=2022-12-01');
    assert.equal(items.length, PAGE_SIZE.subscriptions + 2);
    assert.equal(new Set(items.map((s) => s.subscriptionId)).size, items.length);
    assert.equal(links.length, 1);
    assert.match(links[0], /^https:\/\/localhost:\d+\/subscriptions\?api-version=2022-12-01&\$skiptoken=/);
  }));

test('GET /tenants?api-version=2022-12-01: the home tenant, with the fields of GetTenants.json', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', '/tenants?api-version=2022-12-01');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.value, [
      {
        id: `/tenants/${DEMO_TENANT.tenantId}`,
        tenantId: DEMO_TENANT.tenantId,
        countryCode: 'US',
        displayName: 'Ticketloop Sandbox',
        domains: ['ticketloopsandbox.onmicrosoft.com'],
        tenantCategory: 'Home',
        defaultDomain: 'ticketloopsandbox.onmicrosoft.com',
        tenantType: 'AAD',
      },
    ]);
    const home = example('GetTenants.json').value.find((t: any) => t.tenantCategory === 'Home');
    assert.deepEqual(Object.keys(r.body.value[0]), Object.keys(home));
  }));

test('GET /providers/Microsoft.Management/managementGroups: ListManagementGroups.json shape, nextLink null', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `${MG}?api-version=2021-04-01`);
    assert.equal(r.status, 200);
    const ex = example('ListManagementGroups.json');
    assert.deepEqual(Object.keys(r.body), Object.keys(ex));
    assert.equal(r.body.nextLink, null);
    assert.deepEqual(
      r.body.value.map((g: any) => g),
      [
        {
          id: `${MG}/${DEMO.managementGroup}`,
          type: 'Microsoft.Management/managementGroups',
          name: DEMO.managementGroup,
          properties: { tenantId: ROOT, displayName: 'Contoso' },
        },
        {
          id: `${MG}/${ROOT}`,
          type: 'Microsoft.Management/managementGroups',
          name: ROOT,
          properties: { tenantId: ROOT, displayName: 'Tenant Root Group' },
        },
      ],
    );
  }));

test('GET a management group with $expand=children: GetManagementGroupWithExpand.json shape; $recurse=true walks the tree', () =>
  withHarness(async (h) => {
    const ex = example('GetManagementGroupWithExpand.json');
    const r = await h.call('GET', `${MG}/${DEMO.managementGroup}?api-version=2021-04-01&$expand=children`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), Object.keys(ex));
    assert.deepEqual(Object.keys(r.body.properties), Object.keys(ex.properties));
    assert.deepEqual(Object.keys(r.body.properties.details), Object.keys(ex.properties.details));
    assert.deepEqual(r.body.properties.details.parent, {
      id: `${MG}/${ROOT}`,
      name: ROOT,
      displayName: 'Tenant Root Group',
    });
    assert.deepEqual(r.body.properties.children, [
      {
        id: `/subscriptions/${DEMO.prodSubscription}`,
        type: '/subscriptions',
        name: DEMO.prodSubscription,
        displayName: 'Contoso Production',
      },
      {
        id: `/subscriptions/${DEMO.devSubscription}`,
        type: '/subscriptions',
        name: DEMO.devSubscription,
        displayName: 'Contoso Development',
      },
    ]);
    assert.deepEqual(
      Object.keys(r.body.properties.children[0]),
      Object.keys(ex.properties.children.find((c: any) => c.type === '/subscriptions')),
    );

    // Tenant Root Group → Contoso → (the two subscriptions, and a new child group with its own subscription).
    await h.admin('/managementGroups', {
      name: 'contoso-platform',
      displayName: 'Platform',
      parent: DEMO.managementGroup,
      subscriptions: ['sub-platform'],
    });
    await h.admin('/subscriptions', { subscriptionId: 'sub-loose', displayName: 'Not in a group' });
    const tree = await h.call('GET', `${MG}/${ROOT}?api-version=2021-04-01&$expand=children&$recurse=true`);
    assert.equal(tree.status, 200);
    assert.equal(tree.body.properties.details.parent, undefined, 'the root has no parent');
    const shape = (c: any): unknown => [
      c.type === '/subscriptions' ? 'sub' : 'mg',
      c.name,
      c.children?.map(shape) ?? null,
    ];
    assert.deepEqual(tree.body.properties.children.map(shape), [
      [
        'mg',
        DEMO.managementGroup,
        [
          ['mg', 'contoso-platform', [['sub', 'sub-platform', null]]],
          ['sub', DEMO.prodSubscription, null],
          ['sub', DEMO.devSubscription, null],
        ],
      ],
      ['sub', 'sub-loose', null],
    ]);
    // Without $recurse only the first level, as in the example.
    const flat = await h.call('GET', `${MG}/${ROOT}?api-version=2021-04-01&$expand=children`);
    assert.ok(flat.body.properties.children.every((c: any) => !('children' in c)));
    // Groups only.
    const groupsOnly = await h.call(
      'GET',
      `${MG}/${ROOT}?api-version=2021-04-01&$expand=children&$recurse=true&$filter=children.childType ne Subscription`,
    );
    assert.deepEqual(groupsOnly.body.properties.children.map(shape), [
      ['mg', DEMO.managementGroup, [['mg', 'contoso-platform', null]]],
    ]);
    // path (root first) and ancestors (parent first), in details as the examples put them.
    const deep = await h.call('GET', `${MG}/contoso-platform?api-version=2021-04-01&$expand=path,ancestors`);
    assert.deepEqual(deep.body.properties.details.path, [
      { name: ROOT, displayName: 'Tenant Root Group' },
      { name: DEMO.managementGroup, displayName: 'Contoso' },
    ]);
    assert.deepEqual(deep.body.properties.details.managementGroupAncestors, [
      { name: DEMO.managementGroup, displayName: 'Contoso' },
      { name: ROOT, displayName: 'Tenant Root Group' },
    ]);
    // An assessment list at a group's scope spans the subscriptions below it, nested groups included.
    await h.admin('/assessments', {
      resourceId: '/subscriptions/sub-platform/resourceGroups/rg-p/providers/Microsoft.Compute/virtualMachines/vm-p',
      assessmentName: DEMO.systemUpdates,
      status: 'Unhealthy',
    });
    const rootList = await all(h, `${MG}/${ROOT}/providers/Microsoft.Security/assessments?api-version=2025-05-04`);
    // 16 Azure + 3 multicloud demo assessments, and the new one two levels down.
    assert.equal(rootList.items.length, 16 + 3 + 1);
  }));

test('a management group that does not exist answers 403 AuthorizationFailed, as ARM does', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `${MG}/no-such-group?api-version=2021-04-01`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'AuthorizationFailed');
    assert.match(
      r.body.error.message,
      /'Microsoft\.Management\/managementGroups\/read' over scope '\/providers\/Microsoft\.Management\/managementGroups\/no-such-group'/,
    );
  }));

test('GET /subscriptions/{id}/resourcegroups?api-version=2021-04-01: id, name, type, location, tags, provisioningState; $top pages', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', `/subscriptions/${DEMO.prodSubscription}/resourcegroups?api-version=2021-04-01`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.value[0], {
      id: `/subscriptions/${DEMO.prodSubscription}/resourceGroups/rg-web`,
      name: 'rg-web',
      type: 'Microsoft.Resources/resourceGroups',
      location: 'westeurope',
      tags: { env: 'prod' },
      properties: { provisioningState: 'Succeeded' },
    });
    assert.deepEqual(
      r.body.value.map((g: any) => g.name),
      ['rg-web', 'rg-data', 'rg-multicloud'],
    );
    assert.equal('tags' in r.body.value[2], false, 'a group without tags has no tags field');

    const { items, links } = await all(
      h,
      `/subscriptions/${DEMO.prodSubscription}/resourcegroups?api-version=2021-04-01&$top=2`,
    );
    assert.deepEqual(
      items.map((g) => g.name),
      ['rg-web', 'rg-data', 'rg-multicloud'],
    );
    assert.equal(links.length, 1);
    assert.match(links[0], /\$top=2&\$skiptoken=/);

    // A generated assessment set spreads its resources over rg-gen-NN groups, listed too.
    await h.admin('/generate', { subscriptionId: 'gen-sub', count: 9, recommendations: 3 });
    const gen = await h.call('GET', '/subscriptions/gen-sub/resourceGroups?api-version=2021-04-01');
    assert.deepEqual(
      gen.body.value.map((g: any) => g.name),
      ['rg-gen-00', 'rg-gen-01', 'rg-gen-02'],
    );
    const one = await h.call(
      'GET',
      `/subscriptions/${DEMO.devSubscription}/resourceGroups/rg-dev?api-version=2021-04-01`,
    );
    assert.equal(one.body.location, 'northeurope');
    const missing = await h.call(
      'GET',
      `/subscriptions/${DEMO.devSubscription}/resourceGroups/nope?api-version=2021-04-01`,
    );
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error: { code: 'ResourceGroupNotFound', message: "Resource group 'nope' could not be found." },
    });
  }));
