import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEMO } from '../../sandbox/azure/index.ts';
import { runSdkFixture, startHarness, type Harness } from '../azure/helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/support-sdk.ts', import.meta.url));
const example = JSON.parse(
  readFileSync(
    new URL('../fixtures/m365/support-CreateTechnicalSupportTicketForSubscription-2024-04-01.json', import.meta.url),
    'utf8',
  ),
);
const V = 'api-version=2024-04-01';
const SUB = `/subscriptions/${DEMO.prodSubscription}/providers/Microsoft.Support`;

/** The spec example's body, pointed at a service and classification the sandbox lists (discovered, not typed in). */
async function exampleBody(h: Harness, serviceName = /Sign-In/) {
  const services = await h.call('GET', `/providers/Microsoft.Support/services?${V}`);
  const svc = services.body.value.find((s: any) => serviceName.test(s.properties.displayName));
  const pcs = await h.call('GET', `/providers/Microsoft.Support/services/${svc.name}/problemClassifications?${V}`);
  const p = structuredClone(example.parameters.createSupportTicketParameters.properties);
  p.serviceId = svc.id;
  p.problemClassificationId = pcs.body.value[0].id;
  return { properties: p };
}

/** Poll the Azure-AsyncOperation URL until it is terminal (bounded). */
async function waitOperation(h: Harness, url: string): Promise<any> {
  for (let i = 0; i < 10; i++) {
    const r = await h.call('GET', url);
    assert.equal(r.status, 200);
    if (r.body.status !== 'InProgress') return r.body;
  }
  throw new Error('operation never finished');
}

test('the official @azure/arm-support SDK lists services, creates a ticket (LRO) and a communication, and reads them back', async () => {
  const h = await startHarness();
  try {
    const out = await runSdkFixture(h, fixture, {
      TICKET_NAME: 'sdk-ticket-1',
    });
    assert.ok(out.services.includes('Billing'));
    assert.ok(out.services.includes('Azure Active Directory Sign-In and Multi-Factor Authentication'));
    assert.ok(out.classifications.includes('Sign-in failures / Users cannot sign in'));
    assert.equal(out.nameBefore, true);
    assert.equal(out.nameAfter, false);
    assert.equal(out.ticket.id, `${SUB}/supportTickets/sdk-ticket-1`);
    assert.match(out.ticket.supportTicketId, /^\d{15,}$/);
    assert.equal(out.ticket.status, 'Open');
    assert.equal(out.ticket.slaMinutes, 240);
    assert.deepEqual(out.comm, { name: 'reply-1', direction: 'outbound', sender: 'ada@contoso.com' });
    assert.deepEqual(out.comms, [{ subject: 'More detail', direction: 'outbound', sender: 'ada@contoso.com' }]);
    assert.equal(out.closed, 'Closed');
  } finally {
    await h.close();
  }
});

test('create is a 202 with Azure-AsyncOperation and Location; the ticket appears when the operation has succeeded', async () => {
  const h = await startHarness();
  try {
    const body = await exampleBody(h);
    const put = await h.call('PUT', `${SUB}/supportTickets/t-lro?${V}`, { json: body });
    assert.equal(put.status, 202);
    const async = String(put.headers['azure-asyncoperation']);
    assert.match(async, /\/providers\/Microsoft\.Support\/operationsStatus\/[0-9a-f-]+\?api-version=2024-04-01$/);
    assert.match(String(put.headers.location), /\/providers\/Microsoft\.Support\/operationResults\//);
    // Not there before the operation finished.
    assert.equal((await h.call('GET', `${SUB}/supportTickets/t-lro?${V}`)).status, 404);
    const first = await h.call('GET', async);
    assert.equal(first.body.status, 'InProgress');
    assert.equal((await waitOperation(h, async)).status, 'Succeeded');
    const got = await h.call('GET', `${SUB}/supportTickets/t-lro?${V}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.properties.advancedDiagnosticConsent, 'Yes');
    assert.equal(
      got.body.properties.serviceDisplayName,
      'Azure Active Directory Sign-In and Multi-Factor Authentication',
    );
    assert.equal(got.body.properties.problemClassificationDisplayName, 'Sign-in failures / Users cannot sign in');
    assert.equal(got.body.properties.status, 'Open');

    // A second PUT with the same name is refused; the list filters by status.
    assert.equal((await h.call('PUT', `${SUB}/supportTickets/t-lro?${V}`, { json: body })).status, 409);
    const open = await h.call('GET', `${SUB}/supportTickets?${V}&$filter=${encodeURIComponent("Status eq 'Open'")}`);
    assert.deepEqual(
      open.body.value.map((t: any) => t.name),
      ['t-lro'],
    );
    const closed = await h.call(
      'GET',
      `${SUB}/supportTickets?${V}&$filter=${encodeURIComponent("status eq 'Closed'")}`,
    );
    assert.deepEqual(closed.body.value, []);
    const badFilter = await h.call('GET', `${SUB}/supportTickets?${V}&$filter=${encodeURIComponent("Title eq 'x'")}`);
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.body.error.code, 'InvalidFilter');
  } finally {
    await h.close();
  }
});

test('a bad create names the field; 2024-04-01 requires advancedDiagnosticConsent; unknown api-versions are refused', async () => {
  const h = await startHarness();
  try {
    const body = await exampleBody(h);
    delete body.properties.advancedDiagnosticConsent;
    const r = await h.call('PUT', `${SUB}/supportTickets/t-bad?${V}`, { json: body });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.target, 'properties.advancedDiagnosticConsent');

    const other = await exampleBody(h, /Billing/);
    const mixed = await exampleBody(h);
    mixed.properties.problemClassificationId = other.properties.problemClassificationId;
    const r2 = await h.call('PUT', `${SUB}/supportTickets/t-bad?${V}`, { json: mixed });
    assert.equal(r2.body.error.target, 'properties.problemClassificationId');

    const noMail = await exampleBody(h);
    delete noMail.properties.contactDetails.primaryEmailAddress;
    const r3 = await h.call('PUT', `${SUB}/supportTickets/t-bad?${V}`, { json: noMail });
    assert.equal(r3.body.error.target, 'properties.contactDetails.primaryEmailAddress');

    const v = await h.call('GET', `/providers/Microsoft.Support/services?api-version=2019-05-01-preview`);
    assert.equal(v.status, 400);
    assert.equal(v.body.error.code, 'NoRegisteredProviderFound');
    const none = await h.call('GET', `/providers/Microsoft.Support/services`);
    assert.equal(none.body.error.code, 'MissingApiVersionParameter');
  } finally {
    await h.close();
  }
});

test("Microsoft's messages and status come from the control API, and tickets survive a restart", async () => {
  const h = await startHarness();
  try {
    const put = await h.call('PUT', `/providers/Microsoft.Support/supportTickets/tenant-1?${V}`, {
      json: await exampleBody(h),
    });
    assert.equal(put.status, 202);
    assert.match(String(put.headers['azure-asyncoperation']), /^https:\/\/[^/]+\/providers\/Microsoft\.Support\//);
    await waitOperation(h, String(put.headers['azure-asyncoperation']));

    await h.admin('/support/tickets/tenant-1/communications', {
      subject: 'We are looking',
      body: 'Engineer assigned.',
    });
    await h.admin('/support/tickets/tenant-1/status', {
      status: 'Waiting for customer',
      supportEngineer: 'eng@microsoft.com',
    });
    await h.restart();

    const t = await h.call('GET', `/providers/Microsoft.Support/supportTickets/tenant-1?${V}`);
    assert.equal(t.body.properties.status, 'Waiting for customer');
    assert.equal(t.body.properties.supportEngineer.emailAddress, 'eng@microsoft.com');
    // An engineer is working on it: the severity stays.
    const sev = await h.call('PATCH', `/providers/Microsoft.Support/supportTickets/tenant-1?${V}`, {
      json: { severity: 'critical' },
    });
    assert.equal(sev.status, 400);
    assert.equal(sev.body.error.target, 'severity');

    const comms = await h.call('GET', `/providers/Microsoft.Support/supportTickets/tenant-1/communications?${V}`);
    assert.equal(comms.body.value.length, 1);
    assert.deepEqual(
      [comms.body.value[0].properties.communicationDirection, comms.body.value[0].properties.sender],
      ['inbound', 'Microsoft'],
    );
    const since = new Date(h.clock.now() + 60_000).toISOString();
    const later = await h.call(
      'GET',
      `/providers/Microsoft.Support/supportTickets/tenant-1/communications?${V}&$filter=${encodeURIComponent(`communicationType eq 'web' and createdDate ge ${since}`)}`,
    );
    assert.deepEqual(later.body.value, []);
  } finally {
    await h.close();
  }
});
