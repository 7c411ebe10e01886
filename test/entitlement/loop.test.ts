import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { CALLOUT_PATH } from '../../src/flows/entitlement/routes.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

/** The whole loop against the sandbox: callout → ticket → close (push) → resume → delivered. */

const corr = (id: string) => correlationKey('entitlement', id);

describe('entitlement loop (sqlite, webhook push)', () => {
  let L: Loop;
  before(async () => {
    L = await startLoop({
      integration: { stages: ['assignmentRequestApproved', 'assignmentRequestGranted', 'assignmentRequestRemoved'] },
    });
  });
  after(async () => {
    await L?.close();
  });

  test('approved stage: one ticket with the request ids; closing it resumes the request → delivered', async () => {
    const s = await L.setup(['assignmentRequestApproved', 'assignmentRequestRemoved']);
    const req = await s.request(DEMO_USERS[0].id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    assert.equal(callout.outcome, 'delivered');
    const id = callout.customExtensionStageInstanceId;
    const st = await until(async () => ((await L.state(id))?.ticket ? L.state(id) : undefined), 'ticket recorded');
    assert.equal(st.status, 'ticket_open');
    assert.equal(st.requestId, req.id);

    const [t] = await L.tickets(corr(id));
    assert.equal(t.number, st.ticket!.key);
    assert.match(t.short_description, /Finance app/);
    assert.match(t.description, new RegExp(`AccessPackageAssignmentRequestId: ${req.id}`));
    assert.match(t.description, /Stage: assignmentRequestApproved/);
    assert.match(t.description, new RegExp(`StageInstanceId: ${id}`));
    assert.ok(t.correlation_display.includes(req.id) && t.correlation_display.includes(id), t.correlation_display);

    // Redelivery of the same callout (Entra retry): 202 duplicate, still one ticket.
    const token = await L.sandbox.microsoft.entra.issueToken({
      clientId: '810dcf14-1858-4bf2-8134-4c369fa3235b',
      audience: L.sandbox.microsoft.apps.ticketloop.clientId,
      version: 1,
    });
    const again = await L.http('POST', L.url + CALLOUT_PATH, {
      json: callout.payload,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, { status: 'duplicate', id });
    await L.app.engine.drain();
    assert.equal((await L.tickets(corr(id))).length, 1);

    // The agent closes the ticket (Table API, as the IT agent) → pushed → resume → delivered.
    const closed = await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, {
      state: '3',
      close_notes: 'Access granted in SAP',
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const done = await until(async () => {
      const r = await s.getRequest(req.id);
      return r.state === 'delivered' ? r : undefined;
    }, 'request delivered');
    assert.equal(done.customExtensionCalloutInstances[0].status, 'callbackReceived');
    assert.match(
      done.customExtensionCalloutInstances[0].detail,
      new RegExp(`${t.number} closed complete by .*: Access granted in SAP`),
    );
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.accepted, 1);
    assert.equal(resumes.rejected, 0);
    assert.equal(resumes.value[0].stage, 'assignmentRequestApproved');
    assert.equal(
      (await until(async () => ((await L.state(id))?.status === 'resumed' ? L.state(id) : undefined), 'resumed'))
        .status,
      'resumed',
    );
    const actions = (await L.audit(id)).map((a) => a.action);
    assert.deepEqual(actions, [
      'callout-accepted',
      'ticket-opened',
      'callout-redelivered',
      'ticket-closed-resuming',
      'resumed',
    ]);
  });

  test('removal stage: a deprovisioning ticket, resumed the same way; the assignment goes', async () => {
    const user = DEMO_USERS[1].id;
    const s = await L.setup(['assignmentRequestRemoved']);
    const add = await s.request(user);
    await until(async () => (await s.getRequest(add.id)).state === 'delivered', 'add delivered (no extension on add)');
    const rm = await s.request(user, 'adminRemove');
    const callout = await s.callout(rm.id, 'assignmentRequestRemoved');
    const id = callout.customExtensionStageInstanceId;
    const st = await until(async () => ((await L.state(id))?.ticket ? L.state(id) : undefined), 'removal ticket');
    const [t] = await L.tickets(corr(id));
    assert.match(t.short_description, /^Remove access: Finance app from /);
    assert.match(t.description, /Stage: assignmentRequestRemoved/);
    await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'Account disabled' });
    await until(async () => (await s.getRequest(rm.id)).state === 'delivered', 'removal delivered');
    assert.equal(st.stage, 'assignmentRequestRemoved');
    const assignments = (await L.ms('GET', `/assignments?$filter=target/objectId eq '${user}'`)).body.value;
    assert.equal(assignments.length, 0, 'the assignment is gone');
  });

  test('deny path: canceling the ticket at the approved stage resumes with state denied', async () => {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(DEMO_USERS[2].id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket');
    const [t] = await L.tickets(corr(id));
    await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, {
      state: '4',
      close_notes: 'Not approved by the data owner',
    });
    const r = await until(async () => {
      const x = await s.getRequest(req.id);
      return x.state === 'denied' ? x : undefined;
    }, 'request denied');
    assert.equal(r.status, 'Denied');
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.value[0].state, 'denied');
    await until(async () => (await L.state(id))?.status === 'denied', 'item denied');
  });

  test('cancel at the granted stage: no resume, a clear audit record', async () => {
    const s = await L.setup(['assignmentRequestGranted']);
    const req = await s.request(DEMO_USERS[3].id);
    const callout = await s.callout(req.id, 'assignmentRequestGranted');
    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket');
    const [t] = await L.tickets(corr(id));
    await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '4', close_notes: 'Nothing to do' });
    const rec = await until(
      async () => (await L.audit(id)).find((a) => a.action === 'ticket-canceled-not-resumed'),
      'audit record',
    );
    assert.match(String(rec.reason), /cannot be denied at stage assignmentRequestGranted/);
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.value.length, 0);
    assert.equal((await L.state(id))?.status, 'ticket_open');
  });

  test('a request stage that opens no ticket is resumed at once (Entra does not wait 14 days for nothing)', async () => {
    const s = await L.setup(['assignmentRequestCreated']);
    const [user] = (await L.http('POST', `${L.sandbox.microsoft.baseUrl}/_sandbox/entra/users`, { json: { count: 1 } }))
      .body.value;
    const req = await s.request(user.id);
    const callout = await s.callout(req.id, 'assignmentRequestCreated');
    await until(async () => (await s.getRequest(req.id)).state === 'delivered', 'delivered');
    const id = callout.customExtensionStageInstanceId;
    assert.deepEqual(
      (await L.audit(id)).map((a) => a.action),
      ['callout-passed-through', 'resumed'],
    );
    assert.equal((await L.tickets(corr(id))).length, 0);
  });

  test('resume retried through injected 429s → exactly one resume', async () => {
    const s = await L.setup(['assignmentRequestApproved']);
    const [user] = (await L.http('POST', `${L.sandbox.microsoft.baseUrl}/_sandbox/entra/users`, { json: { count: 1 } }))
      .body.value;
    const req = await s.request(user.id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket');
    const [t] = await L.tickets(corr(id));
    await L.http('PATCH', `${L.sandbox.microsoft.baseUrl}/_sandbox/faults`, {
      json: { burst429: 3, retryAfterSeconds: 1, pathPattern: '/resume$' },
    });
    try {
      await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'done' });
      await until(async () => (await s.getRequest(req.id)).state === 'delivered', 'delivered after 429s', 30_000);
    } finally {
      await L.http('DELETE', `${L.sandbox.microsoft.baseUrl}/_sandbox/faults`);
    }
    const faults = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/faults`)).body;
    assert.ok(faults.injected.rateLimited >= 3, JSON.stringify(faults.injected));
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.accepted, 1);
    assert.equal(resumes.value.length, 1);
  });
});
