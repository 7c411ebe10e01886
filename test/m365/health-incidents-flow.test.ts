import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision } from '../../src/engine/flow.ts';
import { m365Flow, type HealthIncidentEvent, type HealthIncidentState } from '../../src/flows/m365/flow.ts';
import type { Ticket, TicketStatus } from '../../src/itsm/port.ts';

// The incidents flow's decisions on plain objects: which write comes next, once, in order, and
// when a person's change hands the ticket over.

const NOW = Date.UTC(2026, 11, 4, 12);
const P1 = '2026-12-04T09:00:00Z';
const P2 = '2026-12-04T10:00:00Z';
const P3 = '2026-12-04T11:00:00Z';
const REF = { system: 'sn', kind: 'incident', id: 'abc', key: 'INC0010001', link: 'https://sn/abc' };

const ticket = (o: { status?: TicketStatus; updatedBy?: string; id?: string } = {}): Ticket => ({
  ref: { ...REF, id: o.id ?? REF.id },
  status: o.status ?? 'open',
  version: '1',
  updatedAt: '2026-12-04T11:30:00.000Z',
  correlation: 'tl:m365:m365:EX1',
  ...(o.updatedBy !== undefined ? { updatedBy: o.updatedBy } : {}),
  fields: {},
});

const seen = (posts: string[], isResolved = false, resolveWhenResolved = true): HealthIncidentEvent => ({
  type: 'issue_seen',
  integration: 'm365',
  issueId: 'EX1',
  kind: 'incident',
  resolveWhenResolved,
  isResolved,
  posts,
});

const decide = (s: HealthIncidentState | undefined, e: HealthIncidentEvent) => m365Flow.decide(s, e, NOW);
const apply = (s: HealthIncidentState | undefined, e: HealthIncidentEvent): Decision<HealthIncidentState> => {
  const d = decide(s, e);
  assert.ok(d, `${e.type} decides something`);
  return d;
};
const keys = (d: Decision<HealthIncidentState>) => (d.effects ?? []).map((x) => x.key);

/** An item whose ticket is open, written by `tl`, with P1 in its description. */
function opened(resolveWhenResolved = true): HealthIncidentState {
  const first = apply(undefined, seen([P1], false, resolveWhenResolved));
  return apply(first.state, { type: 'ticket_opened', ticket: ticket({ updatedBy: 'tl' }), created: true }).state;
}

test('only an issue not yet resolved when first seen starts an item, and its first effect opens the ticket', () => {
  assert.equal(decide(undefined, seen([P1], true)), null);
  const d = apply(undefined, seen([P1]));
  assert.equal(d.state.status, 'opening');
  assert.deepEqual(keys(d), ['open']);
  assert.equal(decide(d.state, seen([P1])), null, 'the same issue again changes nothing');
});

test('posts become notes one at a time, in order, each keyed by its time; then the resolve', () => {
  let s = apply(undefined, seen([P1])).state;
  // Posts seen while the ticket is being opened wait for it.
  const early = apply(s, seen([P1, P2]));
  assert.deepEqual(keys(early), []);
  const o = apply(early.state, {
    type: 'ticket_opened',
    ticket: ticket({ updatedBy: 'tl' }),
    created: true,
    describedThrough: P1,
  });
  assert.equal(o.state.status, 'open');
  assert.equal(o.state.account, 'tl');
  assert.deepEqual(keys(o), [`note:${P2}`]);
  s = o.state;
  const more = apply(s, seen([P3, P1, P2], true));
  assert.deepEqual(keys(more), [], 'one note at a time: P2 is still being written');
  const n2 = apply(more.state, { type: 'note_written', post: P2, written: true });
  assert.deepEqual(keys(n2), [`note:${P3}`]);
  assert.equal(decide(n2.state, { type: 'note_written', post: P2, written: true }), null, 'a repeat changes nothing');
  const n3 = apply(n2.state, { type: 'note_written', post: P3, written: true });
  assert.deepEqual(keys(n3), ['resolve']);
  assert.equal(n3.state.status, 'resolving');
  assert.equal(n3.effects![0].payload!.account, 'tl');
  const r = apply(n3.state, { type: 'ticket_resolved', ticket: ticket({ status: 'resolved', updatedBy: 'tl' }) });
  assert.equal(r.state.status, 'resolved');
  assert.equal(
    decide(r.state, {
      type: 'ticket_changed',
      ticket: ticket({ status: 'resolved', updatedBy: 'tl' }),
      source: 'poll',
    }),
    null,
  );
  // A post after the resolution (the post-incident review) is still noted.
  assert.deepEqual(keys(apply(r.state, seen([P1, P2, P3, '2026-12-05T09:00:00Z'], true))), [
    'note:2026-12-05T09:00:00Z',
  ]);
});

test("Ticketloop's own change is not a hand-off; a person's is, and then Microsoft's resolution is only a note", () => {
  const s = opened();
  assert.equal(decide(s, { type: 'ticket_changed', ticket: ticket({ updatedBy: 'tl' }), source: 'poll' }), null);
  assert.equal(
    decide(s, { type: 'ticket_changed', ticket: ticket({ updatedBy: 'david', id: 'other' }), source: 'poll' }),
    null,
    'another record with our key is not ours',
  );
  const h = apply(s, { type: 'ticket_changed', ticket: ticket({ updatedBy: 'david' }), source: 'webhook' });
  assert.equal(h.state.status, 'handed_off');
  assert.equal(h.state.handedOff?.by, 'david');
  assert.equal(h.audit.action, 'handed-off');
  const resolved = apply(h.state, seen([P1, P2], true));
  assert.deepEqual(keys(resolved), [`note:${P2}`], 'the post first');
  const after = apply(resolved.state, { type: 'note_written', post: P2, written: true });
  assert.deepEqual(keys(after), ['microsoft-resolved'], 'then a note, never the resolve');
  assert.match(String(after.effects![0].payload!.resolvedNote), /david changed it/);
  assert.equal(decide(after.state, seen([P1, P2], true)), null, 'said once');
});

test('a closed ticket takes no more notes; a refused resolve hands the ticket over', () => {
  const s = opened();
  const h = apply(s, {
    type: 'ticket_changed',
    ticket: ticket({ status: 'closed', updatedBy: 'david' }),
    source: 'poll',
  });
  assert.equal(h.state.ticketDone, true);
  assert.deepEqual(keys(apply(h.state, seen([P1, P2], true))), []);

  const resolving = apply(s, seen([P1], true));
  assert.deepEqual(keys(resolving), ['resolve']);
  const refused = apply(resolving.state, {
    type: 'resolve_refused',
    ticket: ticket({ status: 'resolved', updatedBy: 'david' }),
  });
  assert.equal(refused.state.status, 'handed_off');
  assert.deepEqual(keys(refused), ['microsoft-resolved']);
  const gone = apply(resolving.state, { type: 'resolve_refused' });
  assert.equal(gone.state.ticketDone, true);
  assert.deepEqual(keys(gone), []);
});

test('without names, a state Ticketloop did not set is a hand-off; resolveWhenResolved off only notes', () => {
  const first = apply(undefined, seen([P1]));
  const s = apply(first.state, { type: 'ticket_opened', ticket: ticket(), created: true }).state;
  assert.equal(s.account, undefined);
  assert.equal(decide(s, { type: 'ticket_changed', ticket: ticket(), source: 'poll' }), null);
  assert.equal(
    apply(s, { type: 'ticket_changed', ticket: ticket({ status: 'resolved' }), source: 'poll' }).state.status,
    'handed_off',
  );

  const off = opened(false);
  const d = apply(off, seen([P1], true));
  assert.deepEqual(keys(d), ['microsoft-resolved']);
  assert.match(String(d.effects![0].payload!.resolvedNote), /resolveWhenResolved: false/);
  assert.equal(d.state.status, 'open');
});
