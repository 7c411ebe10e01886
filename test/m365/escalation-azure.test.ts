import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AzureSupportClient } from '../../src/connectors/microsoft/support.ts';
import { until } from '../helpers/wait.ts';
import { startEscalationEnv } from './escalation-helpers.ts';

// Issue #14 item 5a and 6: an admin escalates an incident to a real Azure support ticket (services and
// classifications discovered, the create LRO followed by a durable job); status and Microsoft's
// messages come back as work notes, once each; a reply goes out as a communication.

test('azure escalation: create → LRO → status and Microsoft message as work notes once → reply as a communication', async () => {
  const env = await startEscalationEnv();
  const { call, admin, insights } = env;
  try {
    const inc = await env.incident('Users cannot sign in: AADSTS50076');
    const ask = {
      incident: { number: inc.number },
      service: 'Azure Active Directory Sign-In',
      problemClassification: 'sign-in failures',
      severity: 'moderate',
    };
    assert.equal((await call(insights, 'POST', '/api/m365/escalations', ask)).status, 403, 'insights cannot escalate');

    const wrong = await call(admin, 'POST', '/api/m365/escalations', { ...ask, problemClassification: 'billing' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.details[0].path, 'body.problemClassification');
    assert.match(wrong.body.error.message, /Sign-in failures \/ Users cannot sign in/, 'the options are listed');
    const noService = await call(admin, 'POST', '/api/m365/escalations', { ...ask, service: 'Quantum widgets' });
    assert.equal(noService.body.error.details[0].path, 'body.service');
    const noIncident = await call(admin, 'POST', '/api/m365/escalations', {
      ...ask,
      incident: { number: 'INC9999999' },
    });
    assert.equal(noIncident.status, 404);
    assert.equal(noIncident.body.error.details[0].path, 'body.incident.number');

    const created = await call(admin, 'POST', '/api/m365/escalations', ask);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const esc = created.body;
    assert.equal(esc.kind, 'azure-support');
    assert.equal(esc.status, 'creating', 'the LRO is followed by a job, not in the request');
    assert.match(esc.ticketName, /^tl-INC\d+-[0-9a-f]{8}$/);
    assert.equal(esc.incident.key, inc.number);
    assert.match(esc.title, /^TEST ENVIRONMENT – do not act: /);

    const open = await until(async () => {
      const r = await call(insights, 'GET', `/api/m365/escalations/${esc.id}`);
      return r.body.ticketNumber ? r.body : undefined;
    }, 'the ticket was created');
    assert.equal(open.status, 'Open');
    assert.equal(open.service, 'Azure Active Directory Sign-In and Multi-Factor Authentication');
    const support = new AzureSupportClient(env.app.connections.microsoft().arm, {
      subscriptionId: '6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f',
    });
    const ticket = await support.getTicket(esc.ticketName);
    assert.equal(ticket?.supportTicketId, open.ticketNumber);
    assert.match(ticket!.title, /TEST ENVIRONMENT – do not act/);
    await until(
      async () =>
        (await env.workNotes(inc.sys_id)).some((n) => n.includes(`Azure support ticket ${open.ticketNumber}`)),
      'the incident says it was escalated',
    );

    // Microsoft answers and changes the status; the sync writes both, and a second sync writes nothing new.
    const azure = env.sandbox.azure.baseUrl;
    const said = await env.control(azure, 'POST', `/_sandbox/azure/support/tickets/${esc.ticketName}/communications`, {
      subject: 'Engineer assigned',
      body: 'Please send a sign-in log excerpt for one affected user.',
      sender: 'engineer@microsoft.com',
    });
    assert.equal(said.status, 200);
    await env.control(azure, 'POST', `/_sandbox/azure/support/tickets/${esc.ticketName}/status`, {
      status: 'Waiting for customer',
    });
    await env.sync();
    await env.sync();
    const notes = await env.workNotes(inc.sys_id);
    assert.equal(notes.filter((n) => n.includes('Please send a sign-in log excerpt')).length, 1, notes.join('\n---\n'));
    assert.match(
      notes.find((n) => n.includes('sign-in log excerpt'))!,
      /Message from Microsoft support \(engineer@microsoft\.com\)/,
    );
    assert.equal(notes.filter((n) => n.includes('Open → Waiting for customer')).length, 1);
    assert.equal((await call(insights, 'GET', `/api/m365/escalations/${esc.id}`)).body.status, 'Waiting for customer');

    // The agent replies: a communication on the ticket, and a work note saying so, once.
    assert.equal((await call(admin, 'POST', `/api/m365/escalations/${esc.id}/reply`, { message: ' ' })).status, 400);
    const sent = await call(admin, 'POST', `/api/m365/escalations/${esc.id}/reply`, {
      message: 'Log excerpt: 2026-12-03 09:02 AADSTS50076 for ada@contoso.com',
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const outbound = await until(async () => {
      const all = await support.listCommunications(esc.ticketName);
      return all.find((c) => c.name === sent.body.communication);
    }, 'the reply reached the ticket');
    assert.equal(outbound.direction, 'outbound');
    assert.match(outbound.body, /AADSTS50076 for ada@contoso.com/);
    await env.sync();
    const after = await env.workNotes(inc.sys_id);
    assert.equal(after.filter((n) => n.includes('Log excerpt: 2026-12-03')).length, 1, after.join('\n---\n'));

    const list = await call(insights, 'GET', '/api/m365/escalations');
    assert.equal(list.body.mode, 'both');
    assert.deepEqual(
      list.body.items.map((e: { id: string }) => e.id),
      [esc.id],
    );

    // Azure refuses the next create (its operation ends Failed): the escalation says so, and so does the incident.
    const refused = await env.control(azure, 'POST', '/_sandbox/azure/support/fail-next', {
      code: 'SupportPlanNotFound',
      message: 'No support plan covers this subscription.',
    });
    assert.equal(refused.status, 200);
    const other = await env.incident('Conditional Access blocks the finance app');
    const second = await call(admin, 'POST', '/api/m365/escalations', { ...ask, incident: { sys_id: other.sys_id } });
    assert.equal(second.status, 201);
    const failed = await until(async () => {
      const r = await call(insights, 'GET', `/api/m365/escalations/${second.body.id}`);
      return r.body.status === 'failed' ? r.body : undefined;
    }, 'the refused create ended the escalation');
    assert.match(failed.error, /SupportPlanNotFound/);
    await until(
      async () => (await env.workNotes(other.sys_id)).some((n) => /could not be created.*No support plan/s.test(n)),
      'the incident says the ticket could not be created',
    );
  } finally {
    await env.close();
  }
});
