import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { claimJobs } from '../../src/engine/jobs.ts';
import { createEffects } from '../../src/flows/entitlement/effects.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until } from './helpers.ts';

/**
 * Ticketloop dies after ServiceNow created the ticket but before the job's result was recorded:
 * a worker claims the open-ticket job, runs it (the ticket exists), and never completes it. Its
 * lease runs out, the engine re-runs the job, and the correlation-id lookup finds the first ticket.
 */
test('killed between opening the ticket and recording it → still one ticket', async () => {
  const clock = new ManualClock();
  const L = await startLoop({ clock, engine: false, webhook: false });
  try {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(DEMO_USERS[0].id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId;
    assert.equal((await L.state(id))?.status, 'received');

    // The doomed worker: claim, run the effect (ticket created), then "crash" — no completion.
    const [job] = await claimJobs(L.app.store.db, L.app.store.dialect, 'doomed-worker', 1, clock.now(), 30_000);
    assert.equal(job.kind, 'entitlement.open-ticket');
    const handlers = createEffects(L.app, () => L.app.integrations('entitlement'));
    const lost = await handlers['open-ticket'](JSON.parse(job.payload), {} as never);
    assert.ok(lost && lost.events?.length, 'the effect ran');
    const first = await L.tickets(correlationKey('entitlement', id));
    assert.equal(first.length, 1);
    assert.equal((await L.state(id))?.ticket, undefined, 'the result was never recorded');

    // Lease expires; the engine re-queues and re-runs the job.
    clock.advance(31_000);
    await L.app.engine.drain();
    const st = await until(async () => ((await L.state(id))?.ticket ? L.state(id) : undefined), 'ticket recorded');
    const all = await L.tickets(correlationKey('entitlement', id));
    assert.equal(all.length, 1, 'no duplicate ticket');
    assert.equal(st.ticket!.key, first[0].number);
    assert.ok(
      (await L.audit(id)).some((a) => a.action === 'ticket-found'),
      'audit says the ticket was found, not created',
    );
  } finally {
    await L.close();
  }
});
