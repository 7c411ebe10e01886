import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entitlementFlow, type CalloutEvent, type EntitlementState } from '../../src/flows/entitlement/flow.ts';
import { parseCallout, parseIsoDuration, renderTemplate, ticketContent } from '../../src/flows/entitlement/payload.ts';
import { resolveStates } from '../../src/flows/entitlement/states.ts';
import type { Ticket } from '../../src/itsm/port.ts';

/** The pure decisions and the payload normalisation, with plain objects. */

const RID = '6b8c7a51-1f1e-4c4f-9d0a-3c1e2f4b5a6d';
const callout = (o: Partial<CalloutEvent> = {}): CalloutEvent => ({
  type: 'callout',
  integration: 'i',
  stage: 'assignmentRequestApproved',
  requestId: RID,
  callbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${RID}/resume`,
  opensTicket: true,
  table: 'sc_req_item',
  ticket: { fields: { short_description: 'x' }, correlationDisplay: 'EM' },
  timeoutMs: 1000,
  onTimeout: 'annotate',
  resumeSource: 'Ticketloop',
  states: resolveStates('sc_req_item', undefined),
  via: 'entra',
  ...o,
});
const ticket = (status: Ticket['status'], n = 1): Ticket => ({
  ref: { system: 'servicenow', kind: 'sc_req_item', id: 'abc', key: 'RITM0010001', link: 'https://sn/x' },
  status,
  version: String(n),
  correlation: 'tl:entitlement:x',
  updatedAt: '2026-01-01T00:00:00Z',
  closedBy: status === 'open' ? undefined : 'david.miller',
  closeNotes: 'done',
  fields: {},
});
const decide = (s: EntitlementState | undefined, e: unknown, now = 0) => entitlementFlow.decide(s, e as never, now);

test('callout → received with open-ticket and a timer at the deadline; redelivery adds no effects', () => {
  const d = decide(undefined, callout(), 100)!;
  assert.equal(d.state.status, 'received');
  assert.deepEqual(
    d.effects!.map((e) => [e.kind, e.key, e.runAt]),
    [
      ['open-ticket', 'open-ticket', undefined],
      ['timeout', 'timeout', 1100],
    ],
  );
  const again = decide(d.state, callout(), 200)!;
  assert.equal(again.audit.action, 'callout-redelivered');
  assert.equal(again.effects, undefined);
});

test('close → resume with who closed it and the notes; cancel at approved → denied; cancel at granted → audit only', () => {
  const open = { ...decide(undefined, callout())!.state, status: 'ticket_open' as const, ticket: ticket('open').ref };
  const closed = decide(open, { type: 'ticket_changed', ticket: ticket('closed'), source: 'webhook' })!;
  assert.equal(closed.state.status, 'resuming');
  assert.equal(closed.effects![0].payload!.detail, 'RITM0010001 closed by david.miller: done');
  assert.equal(decide(closed.state, { type: 'resumed' })!.state.status, 'resumed');
  const canceled = decide(open, { type: 'ticket_changed', ticket: ticket('canceled'), source: 'poll' })!;
  assert.equal(canceled.effects![0].payload!.state, 'denied');
  assert.equal(decide(canceled.state, { type: 'resumed' })!.state.status, 'denied');
  const granted = { ...open, stage: 'assignmentRequestGranted' as const };
  const g = decide(granted, { type: 'ticket_changed', ticket: ticket('canceled'), source: 'poll' })!;
  assert.equal(g.audit.action, 'ticket-canceled-not-resumed');
  assert.equal(g.effects, undefined);
  assert.equal(
    decide(g.state, { type: 'ticket_changed', ticket: ticket('canceled'), source: 'webhook' }),
    null,
    'recorded once per ticket version',
  );
});

test('timeout → expired; later close audited, never resumed; not-waiting → failed', () => {
  const open = {
    ...decide(undefined, callout(), 0)!.state,
    status: 'ticket_open' as const,
    ticket: ticket('open').ref,
  };
  const exp = decide(open, { type: 'timeout' }, 1000)!;
  assert.equal(exp.state.status, 'expired');
  assert.equal(exp.effects![0].kind, 'expire-ticket');
  const late = decide(exp.state, { type: 'ticket_changed', ticket: ticket('closed'), source: 'webhook' })!;
  assert.equal(late.audit.action, 'ticket-closed-after-expiry-not-resumed');
  assert.equal(late.effects, undefined);
  const resuming = decide(open, { type: 'ticket_changed', ticket: ticket('resolved'), source: 'webhook' })!.state;
  assert.equal(decide(resuming, { type: 'timeout' }), null, 'a resume in flight is left to finish');
  const failed = decide(resuming, { type: 'resume_refused', reason: 'not waiting' })!;
  assert.equal(failed.state.status, 'failed');
});

test('a change to another record with our correlation key is audited and changes nothing', () => {
  // Security review, issue 10, finding 2: a second ticket with the same key resumed the request.
  const ours = ticket('open').ref;
  const open = { ...decide(undefined, callout())!.state, status: 'ticket_open' as const, ticket: ours };
  const forged = (status: Ticket['status'], ref: Partial<Ticket['ref']>) => ({
    type: 'ticket_changed',
    ticket: { ...ticket(status), ref: { ...ours, ...ref } },
    source: 'webhook',
  });
  for (const [status, ref] of [
    ['closed', { id: 'other', key: 'RITM0010002' }],
    ['canceled', { id: 'other', key: 'RITM0010002' }],
    ['closed', { system: 'another-instance' }], // same id on another connection
    ['resolved', { kind: 'incident' }],
  ] as const) {
    const d = decide(open, forged(status, ref))!;
    assert.equal(d.audit.action, 'foreign-ticket-ignored', `${status} ${JSON.stringify(ref)}`);
    assert.deepEqual(d.state, open, 'state unchanged');
    assert.equal(d.effects, undefined, 'no resume, no deny');
  }
  // An item that opens no ticket has none of its own: any ticket with its key is foreign.
  const passThrough = decide(undefined, callout({ opensTicket: false }))!.state;
  assert.equal(decide(passThrough, forged('closed', {}))!.audit.action, 'foreign-ticket-ignored');
});

test('a close seen before our ticket is recorded decides nothing; ours is read again once recorded', () => {
  const received = decide(undefined, callout())!.state;
  const forged = { ...ticket('closed'), ref: { ...ticket('closed').ref, id: 'forged', key: 'RITM0010666' } };
  assert.equal(decide(received, { type: 'ticket_changed', ticket: ticket('open'), source: 'webhook' }), null);
  const early = decide(received, { type: 'ticket_changed', ticket: forged, source: 'reconcile' })!;
  assert.equal(early.audit.action, 'ticket-change-before-recorded');
  assert.equal(early.state.status, 'received', 'not adopted, not resumed');
  assert.equal(early.effects, undefined);
  assert.equal(decide(early.state, { type: 'ticket_changed', ticket: forged, source: 'poll' }), null, 'once');
  const opened = decide(early.state, { type: 'ticket_opened', ticket: ticket('open').ref, created: true })!;
  assert.equal(opened.state.ticket!.id, 'abc');
  assert.equal(opened.state.seenEarly, undefined);
  assert.deepEqual(opened.audit.detail!.foreignTicketsIgnored, ['RITM0010666']);
  assert.deepEqual(
    opened.effects!.map((e) => e.kind),
    ['refresh-ticket'],
  );
  // What the refresh reads back is ours: that close counts.
  const closed = decide(opened.state, { type: 'ticket_changed', ticket: ticket('closed'), source: 'reconcile' })!;
  assert.equal(closed.state.status, 'resuming');
});

test('payload: PascalCase and camelCase, stage case-insensitive, durations, templates, trailer', () => {
  const body = {
    AccessPackageAssignmentRequestId: RID,
    CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${RID}/resume`,
    CustomExtensionStageInstanceId: 'A0B1C2D3-0000-4000-8000-000000000001',
    Stage: 'ASSIGNMENTREQUESTREMOVED',
    CallbackConfiguration: { DurationBeforeTimeout: 'P30D' },
    AccessPackage: { Id: 'p', DisplayName: 'Pkg' },
    Assignment: { Target: { DisplayName: 'Adele' } },
    Requestor: { DisplayName: 'Adele' },
  };
  const c = parseCallout(body);
  assert.equal(c.stage, 'assignmentRequestRemoved');
  assert.equal(c.stageInstanceId, 'a0b1c2d3-0000-4000-8000-000000000001');
  assert.equal(c.timeoutMs, 14 * 86_400_000, 'capped at 14 days');
  assert.equal(
    renderTemplate('{{Requestor.DisplayName}}/{{assignment.target.displayName}}/{{Nope.X}}/{{StageLabel}}', c),
    'Adele/Adele//assignment removed',
  );
  const t = ticketContent(c, {}, {});
  assert.match(t.fields.short_description, /^Remove access: Pkg from Adele/);
  assert.match(t.fields.description, /StageInstanceId: a0b1c2d3/);
  assert.ok(t.correlationDisplay.length <= 100);
  assert.equal(parseIsoDuration('PT1H'), 3_600_000);
  assert.equal(parseIsoDuration('P1W'), 7 * 86_400_000);
  assert.equal(parseIsoDuration('P'), undefined);
  assert.equal(parseIsoDuration('PT'), undefined);
});
