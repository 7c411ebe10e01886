import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/engine/errors.ts';
import { nextAttemptAt } from '../../src/engine/retry.ts';
import { EM_READWRITE, SERVICE_HEALTH_READ } from '../../sandbox/microsoft/constants.ts';
import { ISSUE_STATUSES } from '../../sandbox/microsoft/service-health-seed.ts';
import { ROOT, addIssue, addPost, graphGet, withHealth } from './health-helpers.ts';

/**
 * The Graph service-communications twin (wire-format.md §4, m365-support.md §2.1): shapes per the CSDL,
 * paging (default 100, `Prefer: odata.maxpagesize`, `@odata.nextLink`), the permission check, the
 * API's own throttling and the sandbox's fault injection, the incident report, and state kept across
 * a restart.
 */

test('issues: the CSDL shape, camelCase enums, html posts, and some issues active now', async () => {
  await withHealth(async ({ h }) => {
    const r = await graphGet(h, `${ROOT}/issues`);
    assert.equal(r.status, 200);
    assert.equal(r.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#admin/serviceAnnouncement/issues`);
    assert.equal(r.body.value.length, 100, 'default page of 100');
    assert.match(r.body['@odata.nextLink'], /\$skip=100/);
    const issue = r.body.value[0];
    for (const key of [
      'id',
      'title',
      'service',
      'classification',
      'origin',
      'status',
      'impactDescription',
      'isResolved',
      'startDateTime',
      'lastModifiedDateTime',
      'posts',
      'details',
    ])
      assert.ok(key in issue, `issue has ${key}`);
    for (const i of r.body.value) {
      assert.ok(
        (ISSUE_STATUSES as readonly string[]).includes(i.status),
        `${i.id} status ${i.status} is a CSDL member`,
      );
      assert.ok(['advisory', 'incident'].includes(i.classification));
      assert.equal(i.posts[0].description.contentType, 'html');
      assert.ok(['regular', 'quick', 'strategic'].includes(i.posts[0].postType));
    }
    const now = Date.parse((await h.call('GET', '/_sandbox/clock')).body.now);
    const active = r.body.value.filter((i: any) => !i.isResolved);
    assert.ok(active.length >= 3, 'several seeded issues are open');
    for (const i of active) assert.ok(Date.parse(i.startDateTime) <= now && i.endDateTime === null);

    const one = await graphGet(h, `${ROOT}/issues/${issue.id}`);
    assert.equal(one.body['@odata.context'], `${r.body['@odata.context']}/$entity`);
    assert.equal(one.body.title, issue.title);
    const missing = await graphGet(h, `${ROOT}/issues/EX0`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ResourceNotFound');
    assert.ok(missing.body.error.innerError['request-id']);
  });
});

test('paging: Prefer odata.maxpagesize is applied (≤ 1000) and the Graph client follows nextLink', async () => {
  await withHealth(async ({ h, graph, client, calls }) => {
    const small = await graphGet(h, `${ROOT}/issues`, { prefer: 'odata.maxpagesize=40' });
    assert.equal(small.headers['preference-applied'], 'odata.maxpagesize=40');
    assert.equal(small.body.value.length, 40);
    const second = await graphGet(h, small.body['@odata.nextLink'].replace(h.sb.graphUrl, ''), {
      prefer: 'odata.maxpagesize=40',
    });
    assert.equal(second.body.value[0].id, (await graphGet(h, `${ROOT}/issues`)).body.value[40].id);

    const big = await graphGet(h, `${ROOT}/issues`, { prefer: 'odata.maxpagesize=5000' });
    assert.equal(big.headers['preference-applied'], 'odata.maxpagesize=1000');
    const total = big.body.value.length;
    assert.ok(total > 100 && !big.body['@odata.nextLink']);

    // The GraphClient's own paging: 3 pages of 50 for the whole list.
    const ids: string[] = [];
    for await (const page of graph.pages<{ id: string }>('/admin/serviceAnnouncement/issues', undefined, {
      prefer: 'odata.maxpagesize=50',
    }))
      ids.push(...page.value.map((i) => i.id));
    assert.equal(ids.length, total);
    assert.equal(new Set(ids).size, total, 'no issue twice across pages');

    // The wire client asks for 1000 a page: one read for the seeded list.
    calls.length = 0;
    const listed = await client.listIssues();
    assert.equal(listed.items.length, total);
    assert.equal(listed.pages, 1);
    assert.equal(calls.filter((c) => c.url.includes('/issues')).length, 1);
  });
});

test('healthOverviews (with $expand=issues and by service) and messages', async () => {
  await withHealth(async ({ h, client }) => {
    const r = await graphGet(h, `${ROOT}/healthOverviews`);
    assert.equal(r.status, 200);
    const exchange = r.body.value.find((s: any) => s.service === 'Exchange Online');
    assert.equal(exchange.id, 'Exchange');
    assert.equal(exchange.issues, undefined, 'issues only when expanded');
    const expanded = await graphGet(h, `${ROOT}/healthOverviews?$expand=issues`);
    assert.match(expanded.body['@odata.context'], /healthOverviews\(issues\(\)\)$/);
    assert.ok(expanded.body.value.find((s: any) => s.id === 'Exchange').issues.length > 5);
    const byName = await graphGet(h, `${ROOT}/healthOverviews/${encodeURIComponent('Exchange Online')}`);
    assert.equal(byName.body.id, 'Exchange');
    const overviews = await client.listHealthOverviews({ expandIssues: true });
    assert.ok(overviews.items.every((o) => o.issues && o.issues.length > 0));

    const m = await graphGet(h, `${ROOT}/messages`);
    assert.equal(m.status, 200);
    assert.ok(m.body.value.length >= 3);
    for (const msg of m.body.value) {
      assert.match(msg.id, /^MC\d+$/);
      assert.ok(['preventOrFixIssue', 'planForChange', 'stayInformed'].includes(msg.category));
      assert.ok(['normal', 'high', 'critical'].includes(msg.severity));
      assert.equal(msg.body.contentType, 'html');
    }
    const added = await h.call('POST', '/_sandbox/m365/messages', {
      json: { title: 'A test message', content: '<p>Hello</p>', services: ['Microsoft Teams'], severity: 'High' },
    });
    assert.equal(added.status, 201);
    assert.equal((await graphGet(h, `${ROOT}/messages/${added.body.id}`)).body.title, 'A test message');
    const bad = await h.call('POST', '/_sandbox/m365/messages', {
      json: { title: 'x', content: 'y', severity: 'loud' },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /'severity'/);
  });
});

test('incident report: bytes only while postIncidentReviewPublished, else the Graph error envelope', async () => {
  await withHealth(async ({ h, client }) => {
    await addIssue(h, {
      id: 'EX7000001',
      title: 'Users may be unable to send mail',
      service: 'Exchange Online',
      impactDescription: 'Users may be unable to send mail.',
      status: 'serviceRestored',
    });
    const refused = await graphGet(h, `${ROOT}/issues/EX7000001/incidentReport`);
    assert.equal(refused.status, 404);
    assert.equal(typeof refused.body.error.code, 'string');
    await assert.rejects(
      client.incidentReport('EX7000001'),
      (e: unknown) => e instanceof HttpError && e.status === 404,
    );

    await addPost(h, 'EX7000001', {
      content: '<p>A post-incident report has been published.</p>',
      status: 'postIncidentReviewPublished',
    });
    const report = await client.incidentReport('EX7000001');
    assert.equal(report.contentType, 'application/octet-stream');
    assert.equal(report.bytes.subarray(0, 8).toString('latin1'), '%PDF-1.4');
    assert.deepEqual([...report.bytes.subarray(10, 14)], [0xe2, 0xe3, 0xcf, 0xd3], 'bytes above 0x7f arrive unchanged');
  });
});

test('missing permission: 403 with the Graph envelope; the other permission still works', async () => {
  await withHealth(async ({ h, client }) => {
    // The existing control endpoint sets an app's roles: keep ServiceHealth, drop ServiceMessage.
    const set = await h.call('POST', '/_sandbox/entra/apps', {
      json: { clientId: h.sb.apps.ticketloop.clientId, roles: [EM_READWRITE, SERVICE_HEALTH_READ] },
    });
    assert.equal(set.status, 201);
    const r = await graphGet(h, `${ROOT}/messages`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'Forbidden');
    assert.match(r.body.error.message, /ServiceMessage\.Read\.All/);
    assert.ok(r.body.error.innerError.date);
    await assert.rejects(client.listMessages(), (e: unknown) => e instanceof HttpError && e.status === 403);
    assert.equal((await graphGet(h, `${ROOT}/issues`)).status, 200);

    await h.call('POST', '/_sandbox/entra/apps', { json: { clientId: h.sb.apps.ticketloop.clientId, roles: [] } });
    assert.equal((await graphGet(h, `${ROOT}/healthOverviews`)).status, 403);
    assert.equal((await h.call('GET', `${ROOT}/issues`)).status, 401, 'no token: 401');
  });
});

test('throttling: the 241st request in a minute is 429 with Retry-After; a minute later it passes', async () => {
  await withHealth(async ({ h }) => {
    const token = await h.token();
    const get = () => h.call('GET', `${ROOT}/issues/TM1198582`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 240; i++) assert.equal((await get()).status, 200, `request ${i + 1}`);
    const refused = await get();
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'TooManyRequests');
    const wait = Number(refused.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    await h.call('POST', '/_sandbox/clock', { json: { advanceMs: wait * 1000 } });
    assert.equal((await get()).status, 200);
  });
});

test('injected 429: the client fails with the Retry-After, the retry policy waits that long, then it reads', async () => {
  await withHealth(async ({ h, client }) => {
    await h.call('PATCH', '/_sandbox/faults', {
      json: { burst429: 1, retryAfterSeconds: 7, pathPattern: 'serviceAnnouncement' },
    });
    const err = await client.listIssues().then(
      () => assert.fail('expected a 429'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HttpError && err.status === 429);
    assert.equal(err.retryAfterMs, 7000);
    assert.equal(nextAttemptAt(err, 1, 1_000_000, { backoffBaseMs: 1000, backoffMaxMs: 60_000 }), 1_007_000);
    assert.ok((await client.listIssues()).items.length > 100);
  });
});

test('control endpoints: an added issue and post; enum casing as sent; state kept across a restart', async () => {
  await withHealth(async ({ h, client }) => {
    const bad = await h.call('POST', '/_sandbox/m365/issues', { json: { service: 'Exchange Online', title: 'x' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /'impactDescription'/);
    const added = await addIssue(h, {
      title: 'Users may be unable to join Teams meetings',
      service: 'Microsoft Teams',
      impactDescription: 'Users may be unable to join meetings.',
      classification: 'Incident',
      status: 'ServiceDegradation',
      content: '<p>Current status: We are investigating.</p>',
    });
    assert.match(added.id, /^TM\d+$/);
    const before = added.lastModifiedDateTime;
    const posted = await addPost(h, added.id, { content: '<p>Final status: Fixed.</p>', status: 'ServiceRestored' });
    assert.ok(Date.parse(posted.lastModifiedDateTime) > Date.parse(before), 'a post bumps lastModifiedDateTime');
    assert.equal(posted.isResolved, true);
    assert.equal(posted.posts.length, 2);

    const seeded = (await graphGet(h, `${ROOT}/issues/TM1198582`)).body;
    await h.restart();
    const again = (await graphGet(h, `${ROOT}/issues/TM1198582`)).body;
    assert.equal(again.startDateTime, seeded.startDateTime, 'seeded once: times do not move on a restart');
    const wire = (await graphGet(h, `${ROOT}/issues/${added.id}`)).body;
    assert.equal(wire.status, 'ServiceRestored', 'stored as sent');
    assert.equal(wire.posts.length, 2);
    const parsed = await client.getIssue(added.id);
    assert.equal(parsed.status, 'serviceRestored');
    assert.equal(parsed.classification, 'incident');
    assert.equal(parsed.posts[1].content, '<p>Final status: Fixed.</p>');
  });
});
