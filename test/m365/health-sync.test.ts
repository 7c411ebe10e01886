import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/engine/errors.ts';
import { EntraTokenSource } from '../../src/connectors/microsoft/identity.ts';
import { GRAPH_SCOPE, GraphClient } from '../../src/connectors/microsoft/graph.ts';
import { ServiceHealthClient } from '../../src/connectors/microsoft/service-health.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';
import { m365HealthMigrations, HealthStore } from '../../src/flows/m365/health/store.ts';
import { syncHealth, type HealthSyncResult } from '../../src/flows/m365/health/sync.ts';
import { EM_READWRITE, SERVICE_HEALTH_READ } from '../../sandbox/microsoft/constants.ts';
import { describeEachDialect } from '../helpers/dialects.ts';
import { startHarness, type Harness } from '../microsoft/helpers.ts';
import { ROOT, addIssue, addPost, graphGet } from './health-helpers.ts';

/**
 * The health sync against the Graph twin, on SQLite and PostgreSQL: the first pass stores everything,
 * a pass with nothing changed reads the pages and writes nothing, a new post makes one changed issue,
 * a resolution is reported, a post-incident report is kept, and a failed read (429) writes nothing.
 */

const INTEGRATION = 'contoso';

await describeEachDialect('m365 health sync', (ctx) => {
  let h: Harness;
  let tokens: EntraTokenSource;
  let graph: GraphClient;
  let client: ServiceHealthClient;
  let seededIssues = 0;
  const pass = (): Promise<HealthSyncResult> =>
    syncHealth({ client, db: ctx.store.db, integration: INTEGRATION, now: () => h.sb.clock.now() });

  before(async () => {
    await migrateToLatest(ctx.store, [m365HealthMigrations]);
    h = await startHarness();
    tokens = new EntraTokenSource({
      authorityHost: h.sb.authorityHost,
      tenantId: h.sb.tenantId,
      clientId: h.sb.apps.ticketloop.clientId,
      clientSecret: h.sb.apps.ticketloop.clientSecret,
      ca: h.tls.ca,
    });
    graph = new GraphClient({ graphUrl: h.sb.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca: h.tls.ca });
    client = new ServiceHealthClient(graph);
    seededIssues = (await graphGet(h, `${ROOT}/issues`, { prefer: 'odata.maxpagesize=1000' })).body.value.length;
  });
  after(async () => {
    await graph.close();
    await tokens.close();
    await h.close();
  });

  test('first pass stores every issue and message, with its posts and summary', async () => {
    const r = await pass();
    assert.equal(r.newIssues.length, seededIssues);
    assert.equal(r.pageReads, 2, 'one page of issues, one of messages');
    assert.ok(r.newMessages.length >= 3);
    // Seeded issues already in postIncidentReviewPublished have their report fetched and kept.
    assert.ok(r.reportReads >= 1);
    assert.equal(r.writes, seededIssues + r.newMessages.length + r.reportReads);
    const store = new HealthStore(ctx.store.db);
    const open = await store.issues(INTEGRATION, { openOnly: true });
    assert.ok(open.length >= 3);
    assert.ok(open[0].summary.currentStatus, 'summary from the posts');
    assert.equal(open[0].history.length, 1);
  });

  test('a pass with nothing changed reads the pages and writes nothing', async () => {
    const r = await pass();
    assert.equal(r.pageReads, 2);
    assert.equal(r.reportReads, 0);
    assert.equal(r.writes, 0);
    assert.deepEqual(
      [r.newIssues, r.changedIssues, r.resolvedIssues, r.newMessages, r.changedMessages],
      [[], [], [], [], []],
    );
  });

  test('an added post makes exactly one changed issue; its resolution is reported', async () => {
    const store = new HealthStore(ctx.store.db);
    const [target] = await store.issues(INTEGRATION, { openOnly: true });
    const id = target.issue.id;
    await addPost(h, id, {
      content:
        '<p>Current status: We have applied a fix and are monitoring.</p><p>Next update by: Thursday, December 3, 2026, at 6:00 PM UTC</p>',
    });
    const changed = await pass();
    assert.deepEqual(changed.changedIssues, [id]);
    assert.deepEqual(changed.resolvedIssues, []);
    assert.equal(changed.writes, 1);
    const kept = (await store.issue(INTEGRATION, id))!;
    assert.equal(kept.issue.posts.length, target.issue.posts.length + 1);
    assert.equal(kept.summary.currentStatus, 'We have applied a fix and are monitoring.');
    assert.equal(kept.summary.nextUpdateBy?.at, '2026-12-03T18:00:00.000Z');

    await addPost(h, id, { content: '<p>Final status: Resolved.</p>', status: 'ServiceRestored' });
    const resolved = await pass();
    assert.deepEqual(resolved.changedIssues, [id]);
    assert.deepEqual(resolved.resolvedIssues, [id]);
    const after = (await store.issue(INTEGRATION, id))!;
    assert.equal(after.issue.status, 'serviceRestored', 'enum parsed whatever the casing');
    assert.equal(after.issue.isResolved, true);
    assert.equal(after.summary.final, true);
    assert.deepEqual(
      after.history.map((e) => e.status),
      [target.issue.status, target.issue.status, 'serviceRestored'],
    );
    assert.equal((await pass()).writes, 0);
  });

  test('a new issue, then its post-incident report', async () => {
    const added = await addIssue(h, {
      title: 'Users may be unable to open SharePoint sites',
      service: 'SharePoint Online',
      impactDescription: 'Users may be unable to open sites.',
      content: '<p>Current status: Investigating.</p>',
    });
    const r = await pass();
    assert.deepEqual(r.newIssues, [added.id]);
    await addPost(h, added.id, { content: '<p>The report is out.</p>', status: 'postIncidentReviewPublished' });
    const withReport = await pass();
    assert.equal(withReport.reportReads, 1);
    assert.equal(withReport.writes, 2, 'the issue and its report');
    const report = await new HealthStore(ctx.store.db).report(INTEGRATION, added.id);
    assert.equal(report?.contentType, 'application/octet-stream');
    assert.equal(report?.bytes.subarray(0, 8).toString('latin1'), '%PDF-1.4');
  });

  test('a 429 on the message read fails the pass before any write; the next pass catches up', async () => {
    const [target] = await new HealthStore(ctx.store.db).issues(INTEGRATION, { openOnly: true });
    await addPost(h, target.issue.id, { content: '<p>Current status: Still monitoring.</p>' });
    await h.call('PATCH', '/_sandbox/faults', {
      json: { burst429: 1, retryAfterSeconds: 3, pathPattern: '/messages' },
    });
    await assert.rejects(pass(), (e: unknown) => e instanceof HttpError && e.status === 429 && e.retryAfterMs === 3000);
    const stored = (await new HealthStore(ctx.store.db).issue(INTEGRATION, target.issue.id))!;
    assert.equal(stored.issue.posts.length, target.issue.posts.length, 'nothing written by the failed pass');
    await h.call('DELETE', '/_sandbox/faults');
    assert.deepEqual((await pass()).changedIssues, [target.issue.id]);
  });

  test('without ServiceMessage.Read.All the pass goes on and says why messages were skipped', async () => {
    await h.call('POST', '/_sandbox/entra/apps', {
      json: { clientId: h.sb.apps.ticketloop.clientId, roles: [EM_READWRITE, SERVICE_HEALTH_READ] },
    });
    tokens.authProvider(GRAPH_SCOPE).invalidate?.();
    const r = await pass();
    assert.match(r.messagesSkipped ?? '', /403/);
    assert.equal(r.pageReads, 1);
    assert.equal(r.writes, 0);
  });
});
