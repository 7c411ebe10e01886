import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { integrationChecks } from '../../src/flows/defender/checks.ts';
import { authFor } from '../helpers/identity.ts';
import { base, startDefenderEnv } from './helpers.ts';

const SCOPE = `/subscriptions/${DEMO.prodSubscription}`;
const one = (name: string, extra: Record<string, unknown>) =>
  base(name, { scope: SCOPE, grouping: 'resource', filters: { recommendations: [DEMO.systemUpdates] }, ...extra });

test('an owner or caller the ITSM does not know stops the integration (status and doctor name it); nothing is lost', async () => {
  const env = await startDefenderEnv([
    one('who', { mapping: { mode: 'default', assignedTo: 'nobody@example.com', caller: 'abel.tuter@example.com' } }),
  ]);
  try {
    const stats = await env.reconcile();
    assert.deepEqual(
      stats.blocked?.map((p) => [p.field, p.email]),
      [['mapping.assignedTo', 'nobody@example.com']],
    );
    assert.match(stats.blocked![0].message, /no person with the e-mail nobody@example\.com in ITSM sandbox/);
    await env.drain();
    assert.deepEqual(await env.items('who:'), [], 'no ticket without its owner');
    assert.equal(env.snWrites().length, 0, 'nothing written to ServiceNow');

    const headers = await authFor(env.app, 'admin');
    const view = (await env.app.http.inject({ method: 'GET', url: '/api/defender/integrations/who', headers })).json();
    assert.deepEqual(
      view.problems.map((p: { field: string; email: string }) => [p.field, p.email]),
      [['mapping.assignedTo', 'nobody@example.com']],
    );

    const checks = await integrationChecks(
      env.app,
      env.app.config.integrations[0] as any,
      {
        microsoftSignedIn: false,
      } as any,
    );
    const owner = checks.find((c) => c.check === 'owner')!;
    assert.equal(owner.ok, false);
    assert.match(owner.detail, /mapping\.assignedTo: .*nobody@example\.com/);
    assert.match(owner.fix ?? '', /nobody@example\.com/);
    assert.equal(checks.find((c) => c.check === 'caller')?.ok, true);

    // The person is created in ServiceNow; once the adapter's people cache (1 h) has expired the next
    // pass opens the ticket with that owner, and the problem is gone from the integration.
    const admin = `Basic ${Buffer.from('admin:admin-password-1').toString('base64')}`;
    const created = await env.http(
      'POST',
      `${env.sandbox.servicenow.baseUrl}/api/now/table/sys_user`,
      { user_name: 'no.body', first_name: 'No', last_name: 'Body', email: 'nobody@example.com' },
      { authorization: admin },
    );
    env.clock.advance(61 * 60_000);
    const again = await env.reconcile();
    assert.equal(again.blocked, undefined);
    await env.drain();
    const [item] = await env.items('who:');
    assert.equal(item.s.status, 'ticket_open');
    assert.equal(item.s.owner, 'nobody@example.com');
    const inc = (
      await env.snAsAgent('GET', `/api/now/table/incident/${item.s.ticket!.id}?sysparm_exclude_reference_link=true`)
    ).result;
    assert.equal(inc.assigned_to, created.result.sys_id);
    const cleared = (
      await env.app.http.inject({ method: 'GET', url: '/api/defender/integrations/who', headers })
    ).json();
    assert.deepEqual(cleared.problems, []);
  } finally {
    await env.close();
  }
});

test('the caller for every ticket type: caller_id, requested_by, opened_by; a customized mapping names another field', async () => {
  const people = { assignedTo: 'abel.tuter@example.com', caller: 'dana.ruiz@example.com' };
  const env = await startDefenderEnv([
    one('inc', { ticketType: 'incident', mapping: { mode: 'default', ...people } }),
    one('chg', { ticketType: 'change_request', mapping: { mode: 'default', ...people } }),
    one('prb', { ticketType: 'problem', mapping: { mode: 'default', ...people } }),
    one('own', { ticketType: 'change_request', mapping: { mode: 'customized', callerField: 'opened_by', ...people } }),
  ]);
  try {
    for (const n of ['inc', 'chg', 'prb', 'own']) await env.reconcile(n);
    await env.drain();
    const user = async (name: string) =>
      (await env.snAsAgent('GET', `/api/now/table/sys_user?sysparm_query=user_name=${name}`)).result[0].sys_id;
    const bud = await user('dana.ruiz');
    const record = async (n: string, table: string) => {
      const [item] = await env.items(`${n}:`);
      assert.equal(item.s.ticket?.kind, table);
      const r = await env.snAsAgent(
        'GET',
        `/api/now/table/${table}/${item.s.ticket!.id}?sysparm_exclude_reference_link=true`,
      );
      return r.result;
    };
    assert.equal((await record('inc', 'incident')).caller_id, bud);
    assert.equal((await record('chg', 'change_request')).requested_by, bud);
    assert.equal((await record('prb', 'problem')).opened_by, bud);
    const own = await record('own', 'change_request');
    assert.equal(own.opened_by, bud);
    assert.equal(own.requested_by, '', 'the default field is not written when the mapping names another');
  } finally {
    await env.close();
  }
});

test('an owner or caller left out of the mapping: the file still loads, the integration shows it, doctor fails, no pass runs', async () => {
  const env = await startDefenderEnv([
    one('bare', { mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com' } }),
  ]);
  try {
    const headers = await authFor(env.app, 'admin');
    const view = async () =>
      (await env.app.http.inject({ method: 'GET', url: '/api/defender/integrations/bare', headers })).json();
    // Seen from the configuration alone, before any pass.
    const before = await view();
    assert.deepEqual(
      before.problems.map((p: { field: string; email: string | null }) => [p.field, p.email]),
      [['mapping.caller', null]],
    );
    assert.match(
      before.problems[0].message,
      /^mapping\.caller: not set; Defender's ticket mapping requires the caller/,
    );
    assert.match(before.problems[0].fix, /^set mapping\.caller to the e-mail of a person in ITSM sandbox/);

    const stats = await env.reconcile();
    assert.deepEqual(
      stats.blocked?.map((p) => p.field),
      ['mapping.caller'],
    );
    await env.drain();
    assert.deepEqual(await env.items('bare:'), [], 'no ticket without its caller');
    assert.equal((await view()).problems.length, 1, 'the same problem once, not once per source');

    const checks = await integrationChecks(
      env.app,
      env.app.config.integrations[0] as any,
      {
        microsoftSignedIn: false,
      } as any,
    );
    const caller = checks.find((c) => c.check === 'caller')!;
    assert.equal(caller.ok, false);
    assert.match(caller.detail, /mapping\.caller: not set/);
    assert.equal(checks.find((c) => c.check === 'owner')?.ok, true);
  } finally {
    await env.close();
  }
});
