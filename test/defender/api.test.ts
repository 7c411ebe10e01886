import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import { signWebhook } from '../../src/itsm/servicenow/webhook.ts';
import { authFor } from '../helpers/identity.ts';
import { startDefenderEnv, WEBHOOK_SECRET } from './helpers.ts';

const MG = `/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}`;

test('integrations over the API; query API (filters, paging, CSV); deleting cascades to governance and tickets', async () => {
  const env = await startDefenderEnv([]);
  let headers = await authFor(env.app, 'admin');
  const api = async (method: string, url: string, payload?: unknown) => {
    const r = await env.app.http.inject({ method: method as 'GET', url, headers, payload: payload as object });
    return {
      status: r.statusCode,
      body: r.headers['content-type']?.toString().includes('json') ? r.json() : r.body,
      headers: r.headers,
    };
  };
  try {
    const bad = await api('POST', '/api/defender/integrations', { name: 'x', servicenow: 'sandbox', scope: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_request');
    assert.ok(bad.body.error.details.some((d: { path: string }) => d.path === 'body.scope'));

    const created = await api('POST', '/api/defender/integrations', {
      name: 'api-1',
      servicenow: 'sandbox',
      scope: MG,
      grouping: 'resource',
      mapping: {
        mode: 'customized',
        assignedTo: 'abel.tuter@example.com',
        caller: 'abel.tuter@example.com',
        impact: '2',
        urgency: '2',
        category: 'security',
        fields: { u_source: 'defender:{assessmentKey}' },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.source, 'api');
    assert.equal(
      (await api('POST', '/api/defender/integrations', { name: 'api-1', servicenow: 'sandbox', scope: MG })).status,
      409,
    );
    assert.equal((await api('GET', '/api/defender/integrations')).body.integrations.length, 1);

    const stats = await env.reconcile('api-1');
    await env.drain();
    const shown = await api('GET', '/api/defender/integrations/api-1');
    assert.equal(shown.body.lastReconcile.unhealthy, stats.unhealthy);
    const [someItem] = await env.items('api-1:');
    const inc = (await env.snAsAgent('GET', `/api/now/table/incident/${someItem.s.ticket!.id}`)).result;
    assert.equal(inc.impact, '2');
    assert.equal(inc.category, 'security');

    // Query API: everything, then filters, then paging and CSV.
    const all = await api('GET', '/api/defender/assignments?integration=api-1&limit=1000');
    assert.equal(all.body.assignments.length, stats.unhealthy);
    assert.ok(
      all.body.assignments.every(
        (a: any) =>
          a.status === 'ticket_open' && a.ticketNumber && a.governanceWritten && a.owner === 'abel.tuter@example.com',
      ),
    );
    const dev = await api('GET', `/api/defender/assignments?scope=/subscriptions/${DEMO.devSubscription}`);
    assert.ok(
      dev.body.assignments.length > 0 &&
        dev.body.assignments.every((a: any) =>
          `${a.resourceId}/`.startsWith(`/subscriptions/${DEMO.devSubscription}/`),
        ),
    );
    const high = await api('GET', '/api/defender/assignments?severity=High');
    assert.ok(high.body.assignments.every((a: any) => a.severity === 'High'));
    assert.equal((await api('GET', '/api/defender/assignments?overdue=true')).body.assignments.length, 0);
    env.clock.advance(400 * 86_400_000);
    headers = await authFor(env.app, 'admin'); // the first token expired 400 days ago (the app's clock)
    assert.equal(
      (await api('GET', '/api/defender/assignments?overdue=true')).body.assignments.length,
      stats.unhealthy,
      'past every due date',
    );
    assert.equal((await api('GET', '/api/defender/assignments?owner=nobody@example.com')).body.assignments.length, 0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api('GET', `/api/defender/assignments?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.body.assignments.length <= 3);
      seen.push(...page.body.assignments.map((a: any) => `${a.resourceId}|${a.assessmentKey}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(new Set(seen).size, stats.unhealthy, 'paging visits each assignment once');
    const csv = await api('GET', '/api/defender/assignments.csv?integration=api-1');
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    const lines = String(csv.body).trim().split('\r\n');
    assert.equal(lines[0].split(',')[0], 'integration');
    assert.equal(lines.length, stats.unhealthy + 1);

    // Delete: governance assignments removed, rows gone, open tickets annotated.
    const arm = env.app.connections.microsoft().arm;
    assert.ok(
      await arm.getGovernanceAssignment(
        DEMO.vm,
        DEMO.systemUpdates,
        governanceKey('api-1', DEMO.vm, DEMO.systemUpdates),
      ),
    );
    await env.drain(); // the overdue notes of the 400 days that just passed
    const writesBefore = env.snWrites().length;
    assert.equal((await api('DELETE', '/api/defender/integrations/api-1')).status, 202);
    await env.drain();
    assert.equal(
      await arm.getGovernanceAssignment(
        DEMO.vm,
        DEMO.systemUpdates,
        governanceKey('api-1', DEMO.vm, DEMO.systemUpdates),
      ),
      undefined,
    );
    assert.equal((await api('GET', '/api/defender/assignments?integration=api-1')).body.assignments.length, 0);
    const items = await env.items('api-1:');
    assert.ok(items.every((x) => x.s.status === 'deleted'));
    assert.equal(env.snWrites().length - writesBefore, items.length, 'one work note per open ticket');
    assert.equal((await api('GET', '/api/defender/integrations/api-1')).status, 404);
  } finally {
    await env.close();
  }
});

test('429 from ARM and from ServiceNow: the job is rescheduled at Retry-After; the pass and the tickets still complete', async () => {
  const env = await startDefenderEnv([
    {
      name: 'thr',
      type: 'defender',
      servicenow: 'sandbox',
      scope: `/subscriptions/${DEMO.prodSubscription}`,
      grouping: 'resource',
      mapping: { assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
    },
  ]);
  try {
    env.sandbox.azure.faults.update({ burst429: 2, retryAfterSeconds: 1 });
    env.sandbox.servicenow.faults.update({ burst429: 3, retryAfterSeconds: 1 });
    const pass = { kind: 'defender.reconcile', key: 'test-thr-pass', payload: { integration: 'thr' } };
    await env.app.engine.enqueue(pass);
    await env.drain();
    const [waiting] = await listJobs(env.app.store.db, { kind: 'defender.reconcile' });
    assert.equal(waiting.state, 'ready', 'the 429 is not waited out inline: the pass job waits');
    assert.equal(Number(waiting.run_at), env.clock.now() + 1000, 'rescheduled exactly at Retry-After');
    assert.match(waiting.last_error ?? '', /429/);
    for (let k = 0; k < 3; k++) {
      env.clock.advance(1000);
      await env.drain();
    }
    const [done] = await listJobs(env.app.store.db, { kind: 'defender.reconcile' });
    assert.equal(done.state, 'done');
    assert.equal(env.sandbox.azure.faults.injected.rateLimited, 2);
    assert.ok(env.calls.some((c) => c.upstream === 'arm' && c.status === 429));
    const stats = await env.reconcile();

    // ServiceNow's 429s reschedule the ticket jobs at Retry-After too (on the test's clock).
    for (let k = 0; k < 10; k++) {
      await env.drain();
      env.clock.advance(5_000);
    }
    assert.ok(env.sandbox.servicenow.faults.injected.rateLimited >= 3);
    const items = await env.items('thr:');
    assert.equal(items.length, stats.unhealthy);
    assert.ok(
      items.every((x) => x.s.status === 'ticket_open'),
      'every ticket opened despite 429s',
    );
    // No duplicates: one ticket per correlation id.
    const list = (
      await env.snAsAgent(
        'GET',
        '/api/now/table/incident?sysparm_query=correlation_idSTARTSWITHtl:defender:thr&sysparm_fields=correlation_id',
      )
    ).result;
    assert.equal(new Set(list.map((r: any) => r.correlation_id)).size, list.length);
    assert.equal(list.length, stats.unhealthy);
  } finally {
    await env.close();
  }
});

test('an integration created over the API after start gets its ITSM poll and reconcile schedules, and pushes for its kind are accepted', async () => {
  const env = await startDefenderEnv([]);
  const push = async (table: string) => {
    const payload = JSON.stringify({
      table,
      operation: 'update',
      sys_id: 'a'.repeat(32),
      record: { number: 'PRB0000001', state: '1', correlation_id: 'tl:other:x' },
    });
    const r = await env.app.http.inject({
      method: 'POST',
      url: '/webhooks/servicenow/sandbox',
      headers: { 'content-type': 'application/json', ...signWebhook(WEBHOOK_SECRET, payload, env.clock.now()) },
      payload,
    });
    return r.json().status as string;
  };
  try {
    assert.equal(await push('problem'), 'ignored', 'nothing watches problems yet');
    const created = await env.app.http.inject({
      method: 'POST',
      url: '/api/defender/integrations',
      headers: await authFor(env.app, 'admin'),
      payload: {
        name: 'late',
        servicenow: 'sandbox',
        scope: `/subscriptions/${DEMO.prodSubscription}`,
        ticketType: 'problem',
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const schedules = await env.app.store.db.selectFrom('schedules').select('name').execute();
    const names = schedules.map((s) => s.name).sort();
    for (const want of ['defender-reconcile:late', 'itsm-poll:sandbox/problem', 'itsm-reconcile:sandbox/problem'])
      assert.ok(names.includes(want), `${want} in ${names}`);
    assert.equal(await push('problem'), 'accepted', 'the webhook accepts the new kind at once');
  } finally {
    await env.close();
  }
});
