import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DAY_MS } from '../../src/engine/clock.ts';
import { until } from '../helpers/wait.ts';
import { startEscalationEnv } from './escalation-helpers.ts';

// Issue #14 item 5b and 6: Microsoft 365 services have no public case API, so an admin gets a guided
// hand-off — a summary to paste at the admin center, the case number recorded, status set by hand,
// reminders when it goes quiet — and an integration with escalation off is "Insights only".

test('guided hand-off: summary, case number, status by hand, one reminder per quiet period; Insights only refuses', async () => {
  let issueId = '';
  const env = await startEscalationEnv(async (sandbox, control) => {
    const r = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/m365/issues', {
      title: 'Users may be unable to send email messages from Outlook',
      service: 'Exchange Online',
      status: 'serviceDegradation',
      impactDescription: 'Users may be unable to send email messages using any connection method.',
      content: '<p>Title: Outlook sending</p><p>User impact: Users may be unable to send email.</p>',
    });
    assert.equal(r.status, 201);
    issueId = ((await r.json()) as { id: string }).id;
  });
  const { call, admin, insights } = env;
  try {
    await until(
      async () => (await call(insights, 'GET', `/api/m365/issues/${issueId}`)).status === 200,
      'the health issue synced',
    );
    const inc = await env.incident('Outlook cannot send mail since 9:00');
    const ask = {
      incident: { sys_id: inc.sys_id },
      service: 'Exchange Online',
      severity: 'moderate',
      description: 'Outlook on the web and desktop show "message could not be sent".',
      affectedUsers: 'about 40 users in Sales',
      issues: [issueId],
    };
    const off = await call(admin, 'POST', '/api/m365/escalations', { ...ask, integration: 'm365-off' });
    assert.equal(off.status, 409);
    assert.equal(off.body.error.code, 'insights_only');
    assert.match(off.body.error.message, /Insights only.*escalation\.mode/);
    assert.equal(
      (await call(insights, 'GET', '/api/m365/escalations?integration=m365-off')).body.mode,
      'insights-only',
    );
    const unknown = await call(admin, 'POST', '/api/m365/escalations', { ...ask, issues: ['EX0'] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.details[0].path, 'body.issues.0');
    const both = await call(admin, 'POST', '/api/m365/escalations', {
      ...ask,
      incident: { sys_id: inc.sys_id, number: inc.number },
    });
    assert.equal(both.status, 400);
    assert.match(JSON.stringify(both.body), /incident.*exactly one of sys_id or number/);

    const made = await call(admin, 'POST', '/api/m365/escalations', ask);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const esc = made.body;
    assert.equal(esc.kind, 'guided', 'Exchange Online goes to the guided hand-off');
    assert.equal(esc.status, 'awaiting-case');
    assert.match(esc.label, /by hand/);
    for (const part of [
      'TEST ENVIRONMENT – do not act',
      'Service: Exchange Online',
      'message could not be sent',
      'Affected users: about 40 users in Sales',
      `${issueId}: Users may be unable to send email messages from Outlook — serviceDegradation`,
      'Timeline (UTC):',
      `${issueId} began`,
      'Contact: Ada Admin <ada@contoso.com>',
      'https://admin.microsoft.com/#/support',
      inc.number,
    ])
      assert.ok(esc.summary.includes(part), `the summary has "${part}":\n${esc.summary}`);
    assert.ok(esc.summary.length <= 4000);
    await until(
      async () => (await env.workNotes(inc.sys_id)).some((n) => n.includes('Guided hand-off') && n.includes(issueId)),
      'the summary is on the incident',
    );

    assert.equal(
      (await call(insights, 'POST', `/api/m365/escalations/${esc.id}/case`, { caseNumber: '1' })).status,
      403,
    );
    const badCase = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/case`, { caseNumber: 'x' });
    assert.equal(badCase.status, 400);
    assert.match(badCase.body.error.message, /caseNumber/);
    const cased = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/case`, { caseNumber: '2412030040001234' });
    assert.equal(cased.status, 200);
    assert.equal(cased.body.caseNumber, '2412030040001234');
    assert.equal(cased.body.status, 'open');
    const badStatus = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/status`, { status: 'done' });
    assert.equal(badStatus.status, 400);
    assert.match(badStatus.body.error.message, /status/);
    const waiting = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/status`, {
      status: 'waiting-on-microsoft',
    });
    assert.equal(waiting.body.status, 'waiting-on-microsoft');
    assert.equal((await call(admin, 'POST', `/api/m365/escalations/${esc.id}/reply`, { message: 'hi' })).status, 409);
    await env.sync();
    let notes = await env.workNotes(inc.sys_id);
    assert.equal(notes.filter((n) => n.includes('case 2412030040001234 recorded')).length, 1);
    assert.equal(notes.filter((n) => n.includes('open → waiting-on-microsoft')).length, 1);
    assert.equal(notes.filter((n) => n.startsWith('Reminder')).length, 0, 'not quiet yet');

    // Two days without an update: one reminder; a second sync in the same quiet period adds none.
    env.clock.advance(2 * DAY_MS + 60_000);
    await env.sync();
    await env.sync();
    notes = await env.workNotes(inc.sys_id);
    const reminders = notes.filter((n) => n.startsWith('Reminder'));
    assert.equal(reminders.length, 1, notes.join('\n---\n'));
    assert.match(reminders[0], /case 2412030040001234 has had no update in Ticketloop for 2 day/);
    env.clock.advance(2 * DAY_MS);
    await env.sync();
    assert.equal((await env.workNotes(inc.sys_id)).filter((n) => n.startsWith('Reminder')).length, 2);

    const closed = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/status`, { status: 'resolved' });
    assert.equal(closed.body.status, 'resolved');
    env.clock.advance(5 * DAY_MS);
    await env.sync();
    assert.equal(
      (await env.workNotes(inc.sys_id)).filter((n) => n.startsWith('Reminder')).length,
      2,
      'resolved: no reminders',
    );
  } finally {
    await env.close();
  }
});
