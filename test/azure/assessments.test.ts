import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { signToken, startHarness } from './helpers.ts';

const SUB = DEMO.prodSubscription;
const LIST = `/subscriptions/${SUB}/providers/Microsoft.Security/assessments`;

test('ARM auth: 401 without, with a garbage and with an expired token; request/correlation ids', async () => {
  const h = await startHarness();
  try {
    const none = await h.call('GET', `${LIST}?api-version=2025-05-04`, { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'AuthenticationFailed');
    assert.match(String(none.headers['www-authenticate']), /^Bearer authorization_uri=/);
    assert.ok(none.headers['x-ms-request-id']);

    const bad = await h.call('GET', `${LIST}?api-version=2025-05-04`, { token: 'not.a.jwt' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'InvalidAuthenticationToken');

    const wrongAud = await h.call('GET', `${LIST}?api-version=2025-05-04`, {
      token: await signToken({ aud: 'https://graph.microsoft.com' }),
    });
    assert.equal(wrongAud.body.error.code, 'InvalidAuthenticationTokenAudience');

    // Expiry is judged on sandbox time: move the clock past the token's exp.
    const token = await signToken({ expiresInSec: 600 });
    h.clock.advance(3_600_000);
    const expired = await h.call('GET', `${LIST}?api-version=2025-05-04`, { token });
    assert.equal(expired.body.error.code, 'ExpiredAuthenticationToken');

    const ok = await h.call('GET', `${LIST}?api-version=2025-05-04`, {
      headers: { 'x-ms-correlation-request-id': 'corr-1' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-ms-correlation-request-id'], 'corr-1');
    assert.ok(ok.headers['x-ms-ratelimit-remaining-subscription-reads']);
  } finally {
    await h.close();
  }
});

test('api-version is required and validated per resource type', async () => {
  const h = await startHarness();
  try {
    const missing = await h.call('GET', LIST);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'MissingApiVersionParameter');
    // A resource provider's type with an api-version it lacks: ARM's front door answers
    // NoRegisteredProviderFound naming the type and the supported versions (code and message only).
    const wrong = await h.call('GET', `${LIST}?api-version=2099-01-01`);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'NoRegisteredProviderFound');
    assert.match(
      wrong.body.error.message,
      /^No registered resource provider found for location 'global' and API version '2099-01-01' for type 'assessments'\. The supported api-versions are '2025-05-04, 2021-06-01, 2020-01-01'\./,
    );
    assert.deepEqual(Object.keys(wrong.body.error).sort(), ['code', 'message']);
    // Governance assignments only know the preview version.
    const gov = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}/governanceAssignments?api-version=2025-05-04`,
    );
    assert.equal(gov.body.error.code, 'NoRegisteredProviderFound');
    assert.match(gov.body.error.message, /for type 'assessments\/governanceAssignments'/);
    const unknownSub = await h.call(
      'GET',
      `/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    assert.equal(unknownSub.status, 404);
    assert.equal(unknownSub.body.error.code, 'SubscriptionNotFound');
  } finally {
    await h.close();
  }
});

test('list at subscription scope pages via nextLink; items match the spec; both api-versions', async () => {
  const h = await startHarness();
  try {
    const seen: any[] = [];
    let url: string | undefined = `${LIST}?api-version=2025-05-04&$top=5`;
    let pages = 0;
    while (url) {
      const r = await h.call('GET', url);
      assert.equal(r.status, 200);
      assert.ok(r.body.value.length <= 5);
      seen.push(...r.body.value);
      url = r.body.nextLink;
      if (url) assert.match(url, /api-version=2025-05-04.*\$skipToken=/);
      pages++;
    }
    assert.equal(seen.length, 16); // 13 Azure + 3 multicloud demo assessments in the production subscription
    assert.equal(pages, 4);
    assert.equal(new Set(seen.map((a) => a.id)).size, seen.length);

    const vm = seen.find((a) => a.id === `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}`);
    assert.equal(vm.name, DEMO.systemUpdates);
    assert.equal(vm.type, 'Microsoft.Security/assessments');
    assert.deepEqual(vm.properties.resourceDetails, { source: 'Azure', id: DEMO.vm });
    assert.equal(vm.properties.displayName, 'System updates should be installed on your machines');
    assert.equal(vm.properties.status.code, 'Unhealthy');
    assert.ok(
      Date.parse(vm.properties.status.firstEvaluationDate) <= Date.parse(vm.properties.status.statusChangeDate),
    );
    assert.match(vm.properties.links.azurePortalUri, /^https:\/\/portal\.azure\.com\//);
    assert.equal(vm.properties.metadata, undefined, 'metadata only with $expand=metadata');
    assert.equal(vm.properties.risk.level, 'High');
    const na = seen.find((a) => a.properties.status.code === 'NotApplicable');
    assert.equal(na.properties.status.cause, 'OffByPolicy');
    assert.ok(seen.some((a) => a.properties.resourceDetails.source === 'Aws'));

    const old = await h.call('GET', `${LIST}?api-version=2021-06-01&$expand=metadata`);
    assert.equal(old.body.value.length, 16);
    assert.ok(
      old.body.value.every((a: any) => a.properties.risk === undefined),
      '2021-06-01 has no risk',
    );
    const oldVm = old.body.value.find((a: any) => a.id === vm.id);
    assert.equal(oldVm.properties.metadata.severity, 'High');
    assert.deepEqual(oldVm.properties.metadata.categories, ['Compute']);
    // Critical only exists from 2025-05-04 (the GCP recommendation is Critical).
    const gcpOld = old.body.value.find((a: any) => a.properties.resourceDetails.source === 'Gcp');
    assert.equal(gcpOld.properties.metadata.severity, 'High');
    const gcpNew = await h.call('GET', `${gcpOld.id}?api-version=2025-05-04&$expand=metadata`);
    assert.equal(gcpNew.body.properties.metadata.severity, 'Critical');
  } finally {
    await h.close();
  }
});

test('management group scope spans its subscriptions; security connector scope lists AWS/GCP assessments', async () => {
  const h = await startHarness();
  try {
    await h.admin('/generate', {
      subscriptionId: 'mg-sub-3',
      count: 7,
      recommendations: 3,
      managementGroup: DEMO.managementGroup,
    });
    const mgPath = `/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}/providers/Microsoft.Security/assessments`;
    const all: any[] = [];
    let url: string | undefined = `${mgPath}?api-version=2025-05-04&$top=4`;
    while (url) {
      const r = await h.call('GET', url);
      all.push(...r.body.value);
      url = r.body.nextLink;
    }
    assert.equal(all.length, 16 + 3 + 7);
    assert.ok(all.some((a) => a.id.includes(DEMO.devSubscription)));
    assert.equal(all.filter((a) => a.id.startsWith('/subscriptions/mg-sub-3/')).length, 7);

    const conn = await h.call(
      'GET',
      `${DEMO.awsConnector}/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    assert.equal(conn.body.value.length, 2);
    for (const a of conn.body.value) {
      assert.equal(a.properties.resourceDetails.source, 'Aws');
      assert.equal(a.properties.resourceDetails.accountId, '123456789012');
      assert.ok(a.id.toLowerCase().startsWith(DEMO.awsConnector.toLowerCase()));
    }
    const missing = await h.call(
      'GET',
      `/providers/Microsoft.Management/managementGroups/nope/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    assert.equal(missing.status, 404);
  } finally {
    await h.close();
  }
});

test('get one assessment, metadata (tenant and subscription level), flip stored and generated', async () => {
  const h = await startHarness();
  try {
    const one = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}?api-version=2025-05-04&$expand=metadata`,
    );
    assert.equal(one.status, 200);
    assert.equal(one.body.properties.metadata.severity, 'High');
    assert.ok(one.body.properties.metadata.remediationDescription);
    const absent = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/00000000-0000-0000-0000-000000000000?api-version=2025-05-04`,
    );
    assert.equal(absent.status, 404);

    const meta = await h.call('GET', '/providers/Microsoft.Security/assessmentMetadata?api-version=2021-06-01');
    const su = meta.body.value.find((m: any) => m.name === DEMO.systemUpdates);
    assert.equal(su.id, `/providers/Microsoft.Security/assessmentMetadata/${DEMO.systemUpdates}`);
    assert.equal(su.type, 'Microsoft.Security/assessmentMetadata');
    for (const k of [
      'displayName',
      'severity',
      'remediationDescription',
      'categories',
      'userImpact',
      'implementationEffort',
    ])
      assert.ok(k in su.properties, k);
    const subMeta = await h.call(
      'GET',
      `/subscriptions/${SUB}/providers/Microsoft.Security/assessmentMetadata/${DEMO.systemUpdates}?api-version=2025-05-04`,
    );
    assert.equal(
      subMeta.body.id,
      `/subscriptions/${SUB}/providers/Microsoft.Security/assessmentMetadata/${DEMO.systemUpdates}`,
    );

    h.clock.advance(86_400_000);
    const flipped = await h.admin('/assessments/flip', {
      resourceId: DEMO.vm,
      assessmentName: DEMO.systemUpdates,
      status: 'Healthy',
    });
    assert.equal(flipped.assessment.properties.status.code, 'Healthy');
    const after = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}?api-version=2025-05-04`,
    );
    assert.equal(after.body.properties.status.code, 'Healthy');
    assert.equal(
      after.body.properties.status.statusChangeDate,
      new Date(Date.parse(flipped.assessment.properties.status.statusChangeDate)).toISOString(),
    );
    assert.ok(
      Date.parse(after.body.properties.status.statusChangeDate) > Date.now(),
      'statusChangeDate comes from the sandbox clock',
    );

    await h.admin('/generate', {
      subscriptionId: 'flip-sub',
      count: 50,
      unhealthyRatio: 0,
      recommendations: 5,
      seed: 3,
    });
    const g = await h.admin('/assessments/flip', {
      subscriptionId: 'flip-sub',
      index: 10,
      count: 3,
      status: 'Unhealthy',
    });
    assert.equal(g.flipped, 3);
    const gl = await h.call(
      'GET',
      `/subscriptions/flip-sub/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    const unhealthy = gl.body.value.filter((a: any) => a.properties.status.code === 'Unhealthy');
    assert.equal(unhealthy.length, 3);
    // Flip back by resource id + name, and read it by id.
    const target = unhealthy[0];
    const resourceId = target.properties.resourceDetails.id;
    await h.admin('/assessments/flip', { resourceId, assessmentName: target.name, status: 'Healthy' });
    const back = await h.call('GET', `${target.id}?api-version=2025-05-04`);
    assert.equal(back.body.properties.status.code, 'Healthy');
  } finally {
    await h.close();
  }
});

test('100,000 generated assessments page quickly through the connector', async () => {
  const h = await startHarness({ seedDemo: false });
  try {
    const gen = await h.admin('/generate', {
      subscriptionId: 'big-sub',
      count: 100_000,
      unhealthyRatio: 0.25,
      recommendations: 8,
      seed: 42,
    });
    assert.ok(gen.elapsedMs < 1000, `generate took ${gen.elapsedMs} ms`);
    const arm = h.client();
    const started = performance.now();
    let n = 0;
    let unhealthy = 0;
    let pages = 0;
    const ids = new Set<string>();
    for await (const page of arm.listAssessments('subscriptions/big-sub', { pageSize: 5000 })) {
      pages++;
      n += page.value.length;
      for (const a of page.value) {
        if (a.properties.status.code === 'Unhealthy') unhealthy++;
        if (ids.size < 20_000) ids.add(a.id);
      }
    }
    const ms = performance.now() - started;
    assert.equal(n, 100_000);
    assert.equal(pages, 20);
    assert.equal(ids.size, 20_000, 'ids are unique');
    assert.ok(unhealthy > 22_000 && unhealthy < 28_000, `unhealthy ${unhealthy}`);
    assert.ok(ms < 20_000, `paging took ${ms} ms`);
  } finally {
    await h.close();
  }
});

test('state persists across a restart: subscriptions, generated sets, flips', async () => {
  const h = await startHarness();
  try {
    await h.admin('/generate', { subscriptionId: 'persist-sub', count: 20, unhealthyRatio: 0, recommendations: 4 });
    await h.admin('/assessments/flip', {
      subscriptionId: 'persist-sub',
      index: 7,
      status: 'Unhealthy',
      cause: 'Sandbox',
    });
    await h.admin('/assessments/flip', { resourceId: DEMO.vm, assessmentName: DEMO.systemUpdates, status: 'Healthy' });
    await h.restart();
    const r = await h.call(
      'GET',
      `/subscriptions/persist-sub/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    assert.equal(r.body.value.length, 20);
    const flipped = r.body.value.filter((a: any) => a.properties.status.code === 'Unhealthy');
    assert.equal(flipped.length, 1);
    assert.equal(flipped[0].properties.status.cause, 'Sandbox');
    const vm = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}?api-version=2025-05-04`,
    );
    assert.equal(vm.body.properties.status.code, 'Healthy');
    const state = (await h.call('GET', '/_sandbox/azure/state', { token: null })).body;
    assert.equal(state.subscriptions.length, 3, 'the demo is not seeded twice');
  } finally {
    await h.close();
  }
});
