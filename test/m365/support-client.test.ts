import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { HttpError, PermanentError } from '../../src/engine/errors.ts';
import {
  AzureSupportClient,
  supportResourceName,
  type CreateTicketInput,
} from '../../src/connectors/microsoft/support.ts';
import { TEST_OID, startHarness, type Harness } from '../azure/helpers.ts';

const contact = {
  firstName: 'Ada',
  lastName: 'Admin',
  preferredContactMethod: 'email' as const,
  primaryEmailAddress: 'ada@contoso.com',
  preferredTimeZone: 'W. Europe Standard Time',
  country: 'deu',
  preferredSupportLanguage: 'en-us',
};

/** The Entra sign-in service and its first classification, found by name as an integrator would. */
async function entraInput(support: AzureSupportClient): Promise<CreateTicketInput> {
  const [svc] = await support.findServices(['active directory', 'sign-in']);
  assert.ok(svc, 'the catalog lists an Entra ID sign-in service');
  const [pc] = await support.listProblemClassifications(svc.name);
  return {
    serviceId: svc.id,
    problemClassificationId: pc.id,
    title: 'Users cannot sign in',
    description: 'AADSTS50076 for several users since 09:00.',
    severity: 'moderate',
    contact,
    advancedDiagnosticConsent: 'No',
  };
}

function client(h: Harness, subscriptionId?: string) {
  let polls = 0;
  const support = new AzureSupportClient(h.client(), {
    subscriptionId,
    pollIntervalMs: 1,
    sleep: async () => {
      polls++;
    },
  });
  return { support, polls: () => polls };
}

test('create a ticket (polled LRO), read its status, exchange communications both ways, close it', async () => {
  const h = await startHarness();
  try {
    const { support, polls } = client(h, DEMO.prodSubscription);
    const name = supportResourceName('inc0010001');
    assert.equal(await support.isNameAvailable(name), true);
    const mfa = await support.findClassification(['active directory'], ['multi-factor']);
    assert.equal(mfa?.classification.displayName, 'Multi-Factor Authentication (MFA) / Prompts');
    assert.equal(await support.findClassification(['active directory'], ['no such problem']), undefined);
    const ticket = await support.createTicket(name, await entraInput(support));
    assert.ok(polls() >= 2, 'the operation was polled until it succeeded');
    assert.equal(ticket.name, name);
    assert.equal(ticket.status, 'Open');
    assert.equal(ticket.serviceDisplayName, 'Azure Active Directory Sign-In and Multi-Factor Authentication');
    assert.equal(await support.isNameAvailable(name), false);

    await h.admin(`/support/tickets/${name}/communications`, {
      subject: 'Engineer assigned',
      body: 'Please send a sign-in log excerpt.',
    });
    await h.admin(`/support/tickets/${name}/status`, { status: 'Waiting for customer' });
    assert.equal((await support.getTicket(name))?.status, 'Waiting for customer');

    const reply = await support.createCommunication(name, supportResourceName('reply'), {
      subject: 'Sign-in logs',
      body: 'Attached below as text.',
      sender: 'ada@contoso.com',
    });
    assert.equal(reply.direction, 'outbound');
    const all = await support.listCommunications(name);
    assert.deepEqual(
      all.map((c) => [c.direction, c.subject]),
      [
        ['inbound', 'Engineer assigned'],
        ['outbound', 'Sign-in logs'],
      ],
    );
    const later = await support.listCommunications(name, { since: new Date(h.clock.now() + 60_000).toISOString() });
    assert.deepEqual(later, []);

    assert.equal((await support.updateTicket(name, { status: 'closed' })).status, 'Closed');
    const listed = [];
    for await (const t of support.listTickets({ filter: "Status eq 'Closed'" })) listed.push(t.name);
    assert.deepEqual(listed, [name]);
    assert.equal(await support.getTicket('no-such-ticket'), undefined);
  } finally {
    await h.close();
  }
});

test('a create repeated after a lost answer returns the ticket made the first time; tenant-level tickets work too', async () => {
  const h = await startHarness();
  try {
    const { support } = client(h);
    const input = await entraInput(support);
    const first = await support.createTicket('repeat-1', input);
    const again = await support.createTicket('repeat-1', input);
    assert.equal(again.supportTicketId, first.supportTicketId);
    assert.match(first.id, /^\/providers\/Microsoft\.Support\/supportTickets\/repeat-1$/);
  } finally {
    await h.close();
  }
});

test('bad names are refused before any call; a caller without the support role gets ARM 403', async () => {
  const h = await startHarness();
  try {
    const { support } = client(h, DEMO.prodSubscription);
    await assert.rejects(support.createTicket('has space', await entraInput(support)), PermanentError);
    await h.admin('/rbac/deny', {
      principalId: TEST_OID,
      scope: `/subscriptions/${DEMO.prodSubscription}`,
      actions: ['Microsoft.Support/*'],
    });
    await assert.rejects(support.createTicket('denied-1', await entraInput(support)), (e: unknown) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 403);
      return true;
    });
  } finally {
    await h.close();
  }
});

test('an operation that ends Failed is a PermanentError with Azure’s message, and creates nothing', async () => {
  const h = await startHarness();
  try {
    const { support } = client(h, DEMO.prodSubscription);
    const input = await entraInput(support);
    await h.admin('/support/fail-next', { code: 'SupportPlanRequired', message: 'No support plan covers this.' });
    await assert.rejects(support.createTicket('fails-1', input), (e: unknown) => {
      assert.ok(e instanceof PermanentError);
      assert.match(e.message, /Failed: SupportPlanRequired No support plan covers this\./);
      return true;
    });
    assert.equal(await support.getTicket('fails-1'), undefined);
    // Only the next operation failed: the same name works now.
    assert.equal((await support.createTicket('fails-1', input)).status, 'Open');
  } finally {
    await h.close();
  }
});
