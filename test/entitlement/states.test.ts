import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/app/config.ts';
import { entitlementFlow, type CalloutEvent, type EntitlementState } from '../../src/flows/entitlement/flow.ts';
import {
  actionFor,
  DEFAULT_STATES,
  resolveStates,
  statesNotInTable,
  type StatesConfig,
} from '../../src/flows/entitlement/states.ts';
import type { Ticket } from '../../src/itsm/port.ts';
import { STATES } from '../../src/itsm/servicenow/map.ts';

/** Item 11: the ticket-state → resume / deny / wait mapping, its defaults, overrides and validation. */

const RID = '6b8c7a51-1f1e-4c4f-9d0a-3c1e2f4b5a6d';
const STATUS_OF: Record<string, Ticket['status']> = {
  closed_complete: 'closed',
  closed_incomplete: 'canceled',
  closed_skipped: 'canceled',
  resolved: 'resolved',
  closed: 'closed',
  canceled: 'canceled',
};
const ticket = (state: string, table = 'sc_req_item', n = 1): Ticket => ({
  ref: { system: 'sn', kind: table, id: 'abc', key: 'RITM0010001', link: 'https://sn/x' },
  status: STATUS_OF[state] ?? 'open',
  state,
  version: String(n),
  correlation: 'tl:entitlement:x',
  updatedAt: '2026-01-01T00:00:00Z',
  closedBy: 'david.miller',
  closeNotes: 'done',
  fields: {},
});

/** An item waiting on its ticket, received under `states` for `table`. */
function waiting(
  states: StatesConfig,
  table = 'sc_req_item',
  stage: CalloutEvent['stage'] = 'assignmentRequestApproved',
) {
  const e: CalloutEvent = {
    type: 'callout',
    integration: 'i',
    stage,
    requestId: RID,
    callbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${RID}/resume`,
    opensTicket: true,
    table,
    ticket: { fields: {}, correlationDisplay: 'EM' },
    timeoutMs: 1000,
    onTimeout: 'annotate',
    resumeSource: 'Ticketloop',
    states: resolveStates(table, states),
    via: 'entra',
  };
  const s = entitlementFlow.decide(undefined, e, 0)!.state;
  return { ...s, status: 'ticket_open', ticket: ticket('open', table).ref } as EntitlementState;
}
const change = (s: EntitlementState, t: Ticket) =>
  entitlementFlow.decide(s, { type: 'ticket_changed', ticket: t, source: 'webhook' }, 1);

test('defaults: catalog items and tasks resume on Closed Complete, deny on Closed Incomplete / Skipped, wait when open', () => {
  for (const table of ['sc_req_item', 'sc_task']) {
    const expected = {
      pending: 'wait',
      open: 'wait',
      work_in_progress: 'wait',
      closed_complete: 'resume',
      closed_incomplete: 'deny',
      closed_skipped: 'deny',
    };
    assert.deepEqual(resolveStates(table, undefined), expected);
    const resumed = change(waiting(undefined, table), ticket('closed_complete', table))!;
    assert.equal(resumed.state.status, 'resuming');
    assert.equal(resumed.effects![0].payload!.state, undefined);
    assert.equal(resumed.effects![0].payload!.detail, 'RITM0010001 closed complete by david.miller: done');
    for (const state of ['closed_incomplete', 'closed_skipped']) {
      const denied = change(waiting(undefined, table), ticket(state, table))!;
      assert.equal(denied.effects![0].payload!.state, 'denied', state);
      assert.equal(denied.audit.action, 'ticket-canceled-denying');
    }
    for (const state of ['pending', 'open', 'work_in_progress'])
      assert.equal(change(waiting(undefined, table), ticket(state, table)), null, state);
  }
});

test('defaults: incidents resume on Resolved and Closed, deny on Canceled, wait otherwise', () => {
  assert.deepEqual(resolveStates('incident', undefined), {
    new: 'wait',
    in_progress: 'wait',
    on_hold: 'wait',
    resolved: 'resume',
    closed: 'resume',
    canceled: 'deny',
  });
  for (const state of ['resolved', 'closed'])
    assert.equal(change(waiting(undefined, 'incident'), ticket(state, 'incident'))!.state.status, 'resuming');
  const denied = change(waiting(undefined, 'incident'), ticket('canceled', 'incident'))!;
  assert.equal(denied.effects![0].payload!.state, 'denied');
  for (const state of ['new', 'in_progress', 'on_hold'])
    assert.equal(change(waiting(undefined, 'incident'), ticket(state, 'incident')), null);
});

test('an admin maps Closed Skipped → resume: the request continues; Closed Incomplete still denies', () => {
  const states = { resume: ['closed_skipped'] };
  const d = change(waiting(states), ticket('closed_skipped'))!;
  assert.equal(d.state.status, 'resuming');
  assert.equal(d.effects![0].payload!.state, undefined);
  assert.equal(d.effects![0].payload!.detail, 'RITM0010001 closed skipped by david.miller: done');
  assert.equal(change(waiting(states), ticket('closed_incomplete'))!.effects![0].payload!.state, 'denied');
});

test('a state mapped to wait keeps the request waiting, audited once per version; a later Closed Complete resumes', () => {
  const s = waiting({ wait: ['closed_incomplete'] });
  const held = change(s, ticket('closed_incomplete'))!;
  assert.equal(held.state.status, 'ticket_open');
  assert.equal(held.effects, undefined);
  assert.equal(held.audit.action, 'ticket-closed-waiting');
  assert.equal((held.audit.detail as { ticketState: string }).ticketState, 'closed_incomplete');
  assert.equal(change(held.state, ticket('closed_incomplete')), null, 'recorded once per ticket version');
  assert.equal(change(held.state, ticket('closed_complete', 'sc_req_item', 2))!.state.status, 'resuming');
});

test('open states mapped to resume resume too (e.g. an ITSM workflow that never closes the item)', () => {
  assert.equal(change(waiting({ resume: ['work_in_progress'] }), ticket('work_in_progress'))!.state.status, 'resuming');
});

test('without state names (another adapter, or an item stored before the mapping) the neutral status decides', () => {
  assert.equal(actionFor({ status: 'closed' }, undefined), 'resume');
  assert.equal(actionFor({ status: 'resolved' }, undefined), 'resume');
  assert.equal(actionFor({ status: 'canceled' }, undefined), 'deny');
  assert.equal(actionFor({ status: 'open' }, undefined), 'wait');
  assert.equal(actionFor({ status: 'canceled', state: 'closed_skipped' }, { closed_skipped: 'resume' }), 'resume');
});

test('the ServiceNow adapter names every state the defaults use, per table', () => {
  for (const [table, map] of Object.entries(DEFAULT_STATES))
    assert.deepEqual(Object.values(STATES[table].names!).sort(), Object.keys(map).sort(), table);
});

const configWith =
  (states: unknown, table = 'sc_req_item') =>
  () =>
    validateConfig(
      {
        servicenow: [
          {
            name: 'sn',
            instanceUrl: 'https://x.service-now.com',
            auth: { type: 'basic', username: 'u', password: 'p' },
          },
        ],
        integrations: [{ name: 'e', type: 'entitlement', servicenow: 'sn', table, states }],
      },
      'test',
    );

test('config: an unknown state and a state in two lists are refused, naming the field', () => {
  assert.throws(
    configWith({ resume: ['closed_complete', 'closed_skiped'] }),
    /integrations\[0\]\.states\.resume\[1\].*unknown ticket state 'closed_skiped'/s,
  );
  assert.throws(
    configWith({ resume: ['closed_skipped'], deny: ['closed_skipped'] }),
    /integrations\[0\]\.states\.deny\[0\].*already in states\.resume/s,
  );
  assert.throws(configWith({ resume: [], refuse: [] }), /integrations\[0\]\.states/);
  assert.doesNotThrow(configWith({ resume: ['closed_skipped'], wait: ['closed_incomplete'] }));
});

test('config: a state of another table is named at start (incident has no closed_skipped)', () => {
  assert.deepEqual(statesNotInTable('incident', { resume: ['resolved', 'closed_skipped'] }), [
    { path: 'states.resume[1]', state: 'closed_skipped' },
  ]);
  assert.deepEqual(statesNotInTable('sc_req_item', { deny: ['closed_skipped'] }), []);
});
