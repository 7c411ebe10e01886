import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { EM_APP_ID } from '../../src/flows/entitlement/config.ts';
import { CALLOUT_PATH } from '../../src/flows/entitlement/routes.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

// Security review, issue 10, finding 6: only short_description and description were capped; a
// loose callout field reached a ServiceNow `comments` field at 250,007 characters. Now every field
// written to the ITSM is bounded by the adapter, with a note saying how much was left out.

const HUGE = 250_000;
const NOTE = /… \(truncated by Ticketloop: [\d,]+ more characters not sent\)$/;

describe('every field written to ServiceNow is bounded', () => {
  let L: Loop;
  before(async () => {
    L = await startLoop({
      webhook: false,
      integration: {
        // Templates that pull a loose (unvalidated) callout field into several ticket fields.
        fields: {
          short_description: 'Access: {{Justification}}',
          description: 'Why: {{Justification}}',
          comments: '{{Justification}}',
        },
      },
    });
  });
  after(async () => L?.close());

  const journal = async (sysId: string, element: string) =>
    (
      await L.sn(
        'GET',
        `/api/now/table/sys_journal_field?sysparm_query=element_id=${sysId}^element=${element}&sysparm_fields=value`,
      )
    ).body.result.map((r: { value: string }) => r.value) as string[];

  test('a 250,000-character template value arrives cut to each field size, with the note', async () => {
    const stage = randomUUID();
    const requestId = randomUUID();
    const body = {
      AccessPackageAssignmentRequestId: requestId,
      CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${requestId}/resume`,
      CustomExtensionStageInstanceId: stage,
      Stage: 'AssignmentRequestApproved',
      AccessPackage: { Id: randomUUID(), DisplayName: 'Payroll' },
      AccessPackageCatalog: { Id: randomUUID(), DisplayName: 'HR' },
      Justification: 'j'.repeat(HUGE),
    };
    const ms = L.sandbox.microsoft;
    const token = await ms.entra.issueToken({ clientId: EM_APP_ID, audience: ms.apps.ticketloop.clientId, version: 1 });
    const r = await L.http('POST', L.url + CALLOUT_PATH, {
      json: body,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const [t] = await until(async () => {
      const found = await L.tickets(correlationKey('entitlement', stage));
      return found.length ? found : undefined;
    }, 'the ticket');
    assert.ok(t.short_description.length <= 160, `short_description is ${t.short_description.length}`);
    assert.match(t.short_description, /^Access: j+…$/);
    assert.ok(t.description.length <= 4000, `description is ${t.description.length}`);
    assert.match(t.description, /j… \(truncated by Ticketloop: [\d,]+ more characters not sent\)\n/);
    assert.match(t.description, new RegExp(`StageInstanceId: ${stage}$`), 'the ids after the cut survive');
    const comments = await journal(t.sys_id, 'comments');
    assert.equal(comments.length, 1);
    assert.ok(comments[0].length <= 4000, `comments is ${comments[0].length}`);
    assert.match(comments[0], NOTE);
  });

  test('a 250,000-character work note, comment and close note arrive bounded too', async () => {
    const port = L.app.connections.itsm('sandbox');
    const { ticket } = await port.openTicket({
      kind: 'incident',
      correlation: correlationKey('entitlement', `bounded-${randomUUID()}`),
      title: 't'.repeat(HUGE),
      description: 'd'.repeat(HUGE),
      fields: { u_anything: 'u'.repeat(HUGE) }, // unknown to the table: ignored by the instance
    });
    assert.ok(ticket.fields.short_description.length <= 160);
    assert.ok(ticket.fields.description.length <= 4000);
    await port.addWorkNote(ticket.ref, 'w'.repeat(HUGE));
    await port.addComment(ticket.ref, 'c'.repeat(HUGE));
    await port.updateTicket(ticket.ref, { description: 'e'.repeat(HUGE) });
    const resolved = await port.resolveTicket(ticket.ref, { notes: 'n'.repeat(HUGE), code: 'Solution provided' });
    for (const element of ['work_notes', 'comments']) {
      const [v] = await journal(ticket.ref.id, element);
      assert.ok(v.length <= 4000, `${element} is ${v.length}`);
      assert.match(v, NOTE, element);
    }
    assert.ok(resolved.fields.close_notes.length <= 4000);
    assert.match(resolved.fields.close_notes, NOTE);
    assert.match(resolved.fields.description, NOTE);
  });
});

test('boundText: the note on long fields, a bare … on short ones, never half a surrogate pair', async () => {
  const { boundText } = await import('../../src/itsm/port.ts');
  assert.equal(boundText('short', 160), 'short');
  assert.equal(boundText('x'.repeat(200), 160), `${'x'.repeat(159)}…`);
  const long = boundText('y'.repeat(10_000), 4000);
  assert.ok(long.length <= 4000);
  assert.match(long, /… \(truncated by Ticketloop: 6,0\d\d more characters not sent\)$/);
  const emoji = boundText(`${'z'.repeat(158)}😀😀`, 160); // the pair would straddle the cut
  assert.ok(!/[\uD800-\uDBFF]…$/.test(emoji), 'no lone high surrogate before the …');
});
