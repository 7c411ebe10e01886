import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AzureSupportClient } from '../../src/connectors/microsoft/support.ts';
import { DEMO } from '../../sandbox/azure/index.ts';
import { until } from '../helpers/wait.ts';
import { startEscalationEnv } from './escalation-helpers.ts';

// Issue #14 item 5a: an admin closes an Azure support ticket from Ticketloop — the support API's update
// (PATCH supportTickets/{name} with status closed, 2024-04-01) — and the incident says so once; the
// ticket's messages are readable for the console's detail view.

test('close an Azure ticket from Ticketloop: PATCH status closed, one work note, then the sync leaves it alone', async () => {
  const env = await startEscalationEnv();
  const { call, admin, insights } = env;
  try {
    const inc = await env.incident('Conditional Access blocks sign-in to the HR portal');
    const made = await call(admin, 'POST', '/api/m365/escalations', {
      incident: { number: inc.number },
      service: 'Azure Active Directory Sign-In',
      problemClassification: 'sign-in failures',
      severity: 'minimal',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const esc = made.body;
    assert.equal(
      (await call(admin, 'POST', `/api/m365/escalations/${esc.id}/close`, {})).status,
      409,
      'no ticket to close while it is being created',
    );
    const open = await until(async () => {
      const r = await call(insights, 'GET', `/api/m365/escalations/${esc.id}`);
      return r.body.ticketNumber ? r.body : undefined;
    }, 'the ticket was created');

    // Microsoft writes; the detail view reads the ticket's messages, oldest first.
    const azure = env.sandbox.azure.baseUrl;
    await env.control(azure, 'POST', `/_sandbox/azure/support/tickets/${esc.ticketName}/communications`, {
      subject: 'Engineer assigned',
      body: 'Which policy blocks the sign-in?',
      sender: 'engineer@microsoft.com',
    });
    const comms = await call(insights, 'GET', `/api/m365/escalations/${esc.id}/communications`);
    assert.equal(comms.status, 200, JSON.stringify(comms.body));
    const inbound = comms.body.items.find((c: { body: string }) => c.body.includes('Which policy'));
    assert.equal(inbound?.direction, 'inbound');
    assert.equal(inbound?.sender, 'engineer@microsoft.com');

    assert.equal((await call(insights, 'POST', `/api/m365/escalations/${esc.id}/close`, {})).status, 403);
    const bad = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/close`, { reason: 'x'.repeat(1001) });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /reason/);
    const closing = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/close`, {
      reason: 'the policy was fixed on our side',
    });
    assert.equal(closing.status, 202, JSON.stringify(closing.body));
    assert.equal(closing.body.state, 'closing');
    await until(
      async () => (await call(insights, 'GET', `/api/m365/escalations/${esc.id}`)).body.status === 'Closed',
      'the escalation is closed',
    );
    const support = new AzureSupportClient(env.app.connections.microsoft().arm, {
      subscriptionId: DEMO.prodSubscription,
    });
    assert.equal((await support.getTicket(esc.ticketName))?.status, 'Closed', 'Microsoft has it closed');
    await env.sync();
    await env.sync();
    const notes = await env.workNotes(inc.sys_id);
    const closedNotes = notes.filter((n) => n.includes(`ticket ${open.ticketNumber} closed from Ticketloop`));
    assert.equal(closedNotes.length, 1, notes.join('\n---\n'));
    assert.match(closedNotes[0], /: the policy was fixed on our side$/);
    assert.equal(notes.filter((n) => n.includes('→ Closed')).length, 0, 'the sync does not report our own close');

    const again = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/close`, {});
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /already Closed/);
    assert.equal(
      (await call(admin, 'POST', `/api/m365/escalations/${esc.id}/reply`, { message: 'one more thing' })).status,
      409,
      'no reply on a closed ticket',
    );

    // A guided case has no API to close: the admin closes it in the admin center and sets the status here.
    const other = await env.incident('Outlook calendar does not sync');
    const guided = await call(admin, 'POST', '/api/m365/escalations', {
      incident: { sys_id: other.sys_id },
      service: 'Exchange Online',
      severity: 'minimal',
    });
    const refused = await call(admin, 'POST', `/api/m365/escalations/${guided.body.id}/close`, {});
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /admin center/);
    const none = await call(insights, 'GET', `/api/m365/escalations/${guided.body.id}/communications`);
    assert.deepEqual(none.body.items, []);

    // The list says when the scheduled sync last finished (the console shows it).
    const before = Date.parse((await call(insights, 'GET', '/api/m365/escalations')).body.lastSyncAt ?? '0') || 0;
    env.clock.advance(6 * 60_000);
    env.app.engine.wake();
    const synced = await until(async () => {
      const at = (await call(insights, 'GET', '/api/m365/escalations')).body.lastSyncAt as string | null;
      return at && Date.parse(at) > before ? at : undefined;
    }, 'the scheduled sync ran');
    assert.ok(Date.parse(synced) >= env.clock.now() - 60_000, synced);
  } finally {
    await env.close();
  }
});
