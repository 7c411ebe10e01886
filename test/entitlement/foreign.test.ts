import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

// Security review, issue 10, finding 2: any ServiceNow user who can write correlation_id could
// create a second sc_req_item with `tl:entitlement:<stage id>` and close it (resume) or cancel it
// (deny). Against the sandbox: forged tickets — pushed, and found only by the full reconcile —
// resume and deny nothing, are audited `foreign-ticket-ignored`, and the real ticket still works.

describe('a ticket Ticketloop did not open cannot resume or deny a request', () => {
  let L: Loop;
  // No polling: a forged ticket is seen by push, or by the reconcile alone when pushes are dropped.
  before(async () => (L = await startLoop({ pollIntervalSeconds: 3600 })));
  after(async () => L?.close());

  const resumes = async (requestId: string) =>
    (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${requestId}`)).body
      .value as unknown[];
  const foreign = async (id: string, sysId: string) =>
    (await L.audit(id)).find((a) => a.action === 'foreign-ticket-ignored' && a.id === sysId);
  /** What an agent with itil (and no Ticketloop involvement) can do: a record with the key, then close it. */
  async function forge(correlation: string, state: string) {
    const created = await L.sn('POST', '/api/now/table/sc_req_item', {
      short_description: 'Looks like the real one',
      correlation_id: correlation,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sysId = created.body.result.sys_id as string;
    const closed = await L.sn('PATCH', `/api/now/table/sc_req_item/${sysId}`, { state, close_notes: 'forged' });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    return sysId;
  }

  test('forged close and forged cancel (pushed, then reconciled) change nothing; the real close resumes', async () => {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(DEMO_USERS[0].id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId;
    const st = await until(async () => (await L.state(id))?.ticket && L.state(id), 'our ticket recorded');
    const corr = correlationKey('entitlement', id);

    // 1. A second record with our key, closed (would resume), pushed by the webhook.
    const closedForgery = await forge(corr, '3');
    await until(() => foreign(id, closedForgery), 'the forged close to be audited');
    // 2. Another one canceled (would deny: the approved stage is deniable).
    const canceledForgery = await forge(corr, '4');
    await until(() => foreign(id, canceledForgery), 'the forged cancel to be audited');

    // 3. One the push never delivers: only the full reconcile reports it (a prefixed, untracked record).
    await L.http('PATCH', `${L.sandbox.servicenow.baseUrl}/_sandbox/faults`, { json: { dropWebhookRate: 1 } });
    let quiet: string;
    try {
      quiet = await forge(corr, '3');
      await L.app.engine.enqueue({
        kind: 'itsm.reconcile',
        key: `test-reconcile-${id}`,
        payload: { system: 'sandbox', kind: 'sc_req_item' },
      });
      await until(() => foreign(id, quiet), 'the reconciled forgery to be audited');
    } finally {
      await L.http('DELETE', `${L.sandbox.servicenow.baseUrl}/_sandbox/faults`);
    }

    await L.app.engine.drain();
    const now = await L.state(id);
    assert.equal(now!.status, 'ticket_open', 'not resumed, not denied');
    assert.deepEqual(now!.ticket, st.ticket, 'our ticket is still the one recorded');
    assert.deepEqual(await resumes(req.id), [], 'Graph was never called');
    assert.equal((await L.tickets(corr)).length, 4, 'ours and three forgeries share the key');
    const ignored = (await L.audit(id)).filter((a) => a.action === 'foreign-ticket-ignored');
    // One audit row per version seen (a pushed forgery is seen opened, then closed).
    assert.deepEqual([...new Set(ignored.map((a) => a.id))].sort(), [closedForgery, canceledForgery, quiet].sort());
    assert.ok(ignored.every((a) => a.ours === st.ticket!.key));

    // The real ticket still works.
    const real = await L.sn('PATCH', `/api/now/table/sc_req_item/${st.ticket!.id}`, {
      state: '3',
      close_notes: 'Access granted in SAP',
    });
    assert.equal(real.status, 200);
    const done = await until(async () => {
      const r = await s.getRequest(req.id);
      return r.state === 'delivered' ? r : undefined;
    }, 'request delivered');
    assert.match(done.customExtensionCalloutInstances[0].detail, new RegExp(`^${st.ticket!.key} closed complete by `));
    assert.equal((await resumes(req.id)).length, 1);
    await until(async () => (await L.state(id))?.status === 'resumed', 'item resumed');
  });
});
