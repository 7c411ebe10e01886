import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { itemIdFor } from '../../src/flows/defender/assessments.ts';
import { authFor } from '../helpers/identity.ts';
import { base, startDefenderEnv, type DefenderEnv } from './helpers.ts';

// Issue #16 item 1: "Create assignment" by hand beside the automatic path.

const SCOPE = `/subscriptions/${DEMO.prodSubscription}`;
/** "Machines should have vulnerability findings resolved": the demo has it unhealthy on vm-web-01 and -02. */
const TWO_VMS = '1195afff-c881-495e-9bc5-1486211ae03f';
const VM2 = DEMO.vm.replace('vm-web-01', 'vm-web-02');
const DAY = 86_400_000;
const BETH = 'beth.anglin@example.com';

async function apiAs(env: DefenderEnv, role: 'operator' | 'auditor') {
  const headers = await authFor(env.app, role);
  return async (method: string, url: string, payload?: unknown) => {
    const r = await env.app.http.inject({ method: method as 'GET', url, headers, payload: payload as object });
    return { status: r.statusCode, body: r.json() };
  };
}

const sysId = async (env: DefenderEnv, userName: string) =>
  (await env.snAsAgent('GET', `/api/now/table/sys_user?sysparm_query=user_name=${userName}`)).result[0].sys_id;

test('a manual assignment: its own ticket type, owner, caller and dates, kept by every later pass', async () => {
  const env = await startDefenderEnv([base('core', { scope: SCOPE, remediationTimeframeDays: 30 })]);
  try {
    const i = env.app.config.integrations[0] as any;
    await env.reconcile();
    await env.drain();
    const autoId = itemIdFor(i, TWO_VMS, DEMO.vm);
    const auto = (await env.item(autoId))!;
    assert.equal(auto.members, 2);
    assert.match(auto.ticket!.key, /^INC/);

    const api = await apiAs(env, 'operator');
    const body = {
      integration: 'core',
      assessmentKey: TWO_VMS,
      resourceIds: [VM2],
      ticketType: 'problem',
      assignedTo: BETH,
      caller: 'abel.tuter@example.com',
      remediationTimeframeDays: 5,
      gracePeriod: false,
    };

    // Refusals name the field.
    const noOwner = await api('POST', '/api/defender/assignments', { ...body, assignedTo: undefined });
    assert.equal(noOwner.status, 400);
    assert.ok(noOwner.body.error.details.some((d: { path: string }) => d.path === 'body.assignedTo'));
    const healthy = await api('POST', '/api/defender/assignments', {
      ...body,
      assessmentKey: DEMO.systemUpdates, // healthy on vm-web-02
      resourceIds: [VM2, `${SCOPE}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/nope`, DEMO.vm],
    });
    assert.equal(healthy.status, 400);
    assert.equal(
      healthy.body.error.message,
      'resourceIds: 2 of them are not unhealthy resources of this recommendation',
    );
    assert.ok(healthy.body.error.details.some((d: { path: string }) => d.path === 'body.resourceIds.1'));
    const outside = await api('POST', '/api/defender/assignments', {
      ...body,
      resourceIds: [`/subscriptions/${DEMO.devSubscription}/resourceGroups/rg-dev/providers/x/y`],
    });
    assert.equal(outside.status, 400);
    assert.match(outside.body.error.message, /^resourceIds: 1 of them are outside the integration's scope/);
    const mail = await api('POST', '/api/defender/assignments', { ...body, notifications: { owner: true } });
    assert.equal(mail.status, 400);
    assert.match(mail.body.error.message, /^notifications: e-mail notifications need smtp/);
    const reader = await apiAs(env, 'auditor');
    assert.equal((await reader('POST', '/api/defender/assignments', body)).status, 403);

    const created = await api('POST', '/api/defender/assignments', body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.movedFromAutomatic, 1);
    assert.equal(created.body.ticketType, 'problem');
    await env.drain();

    // The same effects as the automatic path: a problem record and the governance assignment.
    const [manual] = (await env.items('core:')).filter((x) => x.s.manual);
    assert.equal(manual.s.status, 'ticket_open');
    assert.match(manual.s.ticket!.key, /^PRB/);
    assert.equal(manual.s.owner, BETH);
    const dueAt = env.clock.now() + 5 * DAY;
    assert.equal(manual.s.dueAt, dueAt);
    const prb = (
      await env.snAsAgent('GET', `/api/now/table/problem/${manual.s.ticket!.id}?sysparm_exclude_reference_link=true`)
    ).result;
    assert.equal(prb.assigned_to, await sysId(env, 'beth.anglin'));
    assert.equal(prb.correlation_id, `tl:defender:${manual.id}`);
    const arm = env.app.connections.microsoft().arm;
    const govKey = governanceKey('core', VM2, TWO_VMS);
    const gov = (await arm.getGovernanceAssignment(VM2, TWO_VMS, govKey))!;
    assert.equal(gov.properties.owner, BETH);
    assert.equal(gov.properties.isGracePeriod, false);
    assert.equal(Date.parse(gov.properties.remediationDueDate), dueAt);
    assert.equal(gov.properties.additionalData?.ticketLink, manual.s.ticket!.link);
    assert.equal((await env.item(autoId))!.members, 1, 'vm-web-02 left the automatic item');

    // The watch follows problems now (the integration opens incidents): an agent's resolve is seen and,
    // the resource being still unhealthy, the problem is reopened (the integration's policy).
    const schedules = (await env.app.store.db.selectFrom('schedules').select('name').execute()).map((r) => r.name);
    assert.ok(schedules.includes('itsm-poll:sandbox/problem'), `${schedules}`);
    await env.snAsAgent('PATCH', `/api/now/table/problem/${manual.s.ticket!.id}`, {
      state: '106',
      resolution_code: 'fix_applied',
      close_notes: 'Done, I think',
    });
    await env.app.engine.enqueue({
      kind: 'itsm.poll',
      key: 'test-poll-problem',
      payload: { system: 'sandbox', kind: 'problem' },
    });
    await env.drain();
    const reopened = (await env.item(manual.id))!;
    assert.equal(reopened.reopens, 1);
    assert.equal(reopened.ticket!.status, 'open');
    assert.equal(reopened.owner, BETH);

    // Twice is refused, naming the ticket it already has.
    const again = await api('POST', '/api/defender/assignments', body);
    assert.equal(again.status, 409);
    assert.match(
      again.body.error.message,
      new RegExp(`^resourceIds: 1 of them already have a manual assignment \\(${manual.s.ticket!.key}\\)`),
    );

    // Later passes (a day on) keep the owner, the dates and the ticket; the query API says manual.
    env.clock.advance(DAY);
    await env.reconcile();
    await env.drain();
    const kept = (await env.item(manual.id))!;
    assert.deepEqual(
      { owner: kept.owner, dueAt: kept.dueAt, grace: kept.grace, ticket: kept.ticket?.key, members: kept.members },
      { owner: BETH, dueAt, grace: false, ticket: manual.s.ticket!.key, members: 1 },
    );
    assert.equal((await arm.getGovernanceAssignment(VM2, TWO_VMS, govKey))!.properties.owner, BETH);
    const listed = (await api('GET', '/api/defender/assignments?integration=core&limit=100')).body.assignments;
    const row = listed.find(
      (a: { resourceId: string; assessmentKey: string }) => a.resourceId === VM2 && a.assessmentKey === TWO_VMS,
    );
    assert.equal(row.manual, true);
    assert.equal(row.owner, BETH);
    assert.ok(
      listed
        .filter((a: { manual: boolean }) => !a.manual)
        .every((a: { owner: string }) => a.owner === 'abel.tuter@example.com'),
    );

    // Healthy again → its governance assignment goes and its problem is resolved, as an automatic one's.
    await env.http('POST', `${env.sandbox.azure.baseUrl}/_sandbox/azure/assessments/flip`, {
      resourceId: VM2,
      assessmentName: TWO_VMS,
      status: 'Healthy',
    });
    await env.reconcile();
    await env.drain();
    const done = (await env.item(manual.id))!;
    assert.equal(done.status, 'resolved');
    assert.equal(done.ticket!.status, 'resolved');
    assert.equal(await arm.getGovernanceAssignment(VM2, TWO_VMS, govKey), undefined);
    assert.equal((await env.item(autoId))!.status, 'ticket_open', 'vm-web-01 still has its automatic ticket');
  } finally {
    await env.close();
  }
});

test('the console lists: unhealthy recommendations, then one recommendation’s resources with their assignment', async () => {
  const env = await startDefenderEnv([base('core', { scope: SCOPE })]);
  try {
    const api = await apiAs(env, 'auditor');
    const recs = (await api('GET', '/api/defender/integrations/core/recommendations')).body.recommendations;
    const two = recs.find((r: { assessmentKey: string }) => r.assessmentKey === TWO_VMS);
    assert.equal(two.unhealthy, 2);
    assert.ok(recs.every((r: { unhealthy: number }) => r.unhealthy > 0));
    const before = (await api('GET', `/api/defender/integrations/core/recommendations/${TWO_VMS}/resources`)).body;
    assert.deepEqual(before.resources.map((r: { resourceId: string }) => r.resourceId).sort(), [DEMO.vm, VM2].sort());
    assert.ok(before.resources.every((r: { assignment: unknown }) => r.assignment === null));
    await env.reconcile();
    await env.drain();
    const after = (await api('GET', `/api/defender/integrations/core/recommendations/${TWO_VMS}/resources`)).body;
    assert.ok(
      after.resources.every((r: any) => r.assignment.manual === false && /^INC/.test(r.assignment.ticketNumber)),
    );
    assert.equal((await api('GET', '/api/defender/integrations/nope/recommendations')).status, 404);
  } finally {
    await env.close();
  }
});
