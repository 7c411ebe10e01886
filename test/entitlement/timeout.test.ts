import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { DAY_MS, ManualClock } from '../../src/engine/clock.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

/**
 * Entra's 14-day timeout: both clocks (the sandbox's and Ticketloop's) move 14 days; the durable
 * timer marks the item expired, notes (and per config resolves) the ticket, and a later close
 * never calls resume.
 */

async function expireOne(L: Loop, clock: ManualClock) {
  const s = await L.setup(['assignmentRequestApproved'], { timeout: 'P14D' });
  const req = await s.request(DEMO_USERS[0].id);
  const callout = await s.callout(req.id, 'assignmentRequestApproved');
  const id = callout.customExtensionStageInstanceId;
  await until(async () => (await L.state(id))?.ticket, 'ticket');
  const [t] = await L.tickets(correlationKey('entitlement', id));

  const advanceMs = 14 * DAY_MS + 60_000;
  await L.http('POST', `${L.sandbox.microsoft.baseUrl}/_sandbox/clock`, { json: { advanceMs } });
  clock.advance(advanceMs);
  const r = await until(async () => {
    const x = await s.getRequest(req.id);
    return x.state === 'deliveryFailed' ? x : undefined;
  }, 'sandbox expired the request');
  assert.equal(r.status, 'ProcessExpired');
  const st = await until(
    async () => ((await L.state(id))?.status === 'expired' ? L.state(id) : undefined),
    'item expired',
  );
  assert.match(st.reason!, /timeout passed/);
  const note = await until(async () => {
    const j = await L.sn(
      'GET',
      `/api/now/table/sys_journal_field?sysparm_query=element_id=${t.sys_id}^element=work_notes`,
    );
    return j.body.result.find((n: { value: string }) => /Entra stopped waiting/.test(n.value));
  }, 'work note on the ticket');
  assert.match(note.value, /no longer continue the request/);
  return { s, req, id, t };
}

test('timeout, annotate: expired + work note; a later close is audited and not resumed', async () => {
  const clock = new ManualClock();
  const L = await startLoop({ clock, integration: { onTimeout: 'annotate' } });
  try {
    const { req, id, t } = await expireOne(L, clock);
    const open = (await L.sn('GET', `/api/now/table/sc_req_item/${t.sys_id}`)).body.result;
    assert.equal(open.state, '1', 'annotate leaves the ticket open');

    await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'Granted (late)' });
    const rec = await until(
      async () => (await L.audit(id)).find((a) => a.action === 'ticket-closed-after-expiry-not-resumed'),
      'late close audited',
    );
    assert.match(String(rec.reason), /Entra stopped waiting/);
    await L.app.engine.drain();
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.value.length, 0, 'no resume after expiry');
    assert.equal((await L.state(id))?.status, 'expired');
  } finally {
    await L.close();
  }
});

test('timeout, resolve: the ticket is resolved with a note; still no resume', async () => {
  const clock = new ManualClock();
  const L = await startLoop({ clock, integration: { onTimeout: 'resolve' } });
  try {
    const { req, t, id } = await expireOne(L, clock);
    const closed = await until(async () => {
      const x = (await L.sn('GET', `/api/now/table/sc_req_item/${t.sys_id}`)).body.result;
      return x.state === '3' ? x : undefined;
    }, 'ticket resolved by Ticketloop');
    assert.match(closed.close_notes, /expired/);
    await until(
      async () => (await L.audit(id)).find((a) => a.action === 'ticket-closed-after-expiry-not-resumed'),
      'own resolve audited',
    );
    const resumes = (await L.http('GET', `${L.sandbox.microsoft.baseUrl}/_sandbox/graph/resumes?requestId=${req.id}`))
      .body;
    assert.equal(resumes.value.length, 0);
  } finally {
    await L.close();
  }
});
