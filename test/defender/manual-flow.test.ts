import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defenderFlow, type ItemInfo, type ItemState } from '../../src/flows/defender/flow.ts';

// The pure flow: a pass never overrides what a manual assignment chose (issue #16 item 1).

const DAY = 86_400_000;
const policy = { closedWhileUnhealthy: 'reopen' as const, remind: false, daysBefore: 3, weekly: true };
const passInfo: ItemInfo = {
  integration: 'core',
  assessmentKey: 'k',
  title: 'T',
  severity: 'High',
  timeframeDays: 30,
  grace: true,
  owner: 'auto@example.com',
  policy,
};
const manualInfo: ItemInfo = {
  ...passInfo,
  timeframeDays: 5,
  grace: false,
  owner: 'beth@example.com',
  policy: { ...policy, remind: true },
  manual: { id: 'ab12cd34', ticketType: 'problem', notifyOwner: true, notifyManager: false, createdBy: 'user:op' },
};

test('a manual assignment opens with its own due date and owner; later passes only count members', () => {
  const opened = defenderFlow.decide(
    undefined,
    { type: 'members', added: 2, removed: 0, members: 2, info: manualInfo },
    0,
  )!;
  assert.equal(opened.audit?.action, 'assigned');
  assert.equal(opened.state.dueAt, 5 * DAY);
  assert.deepEqual(
    opened.effects?.map((e) => e.kind),
    ['open', 'due'],
  );
  const s: ItemState = {
    ...opened.state,
    status: 'ticket_open',
    ticket: { system: 'sn', kind: 'problem', id: '1', key: 'PRB1', link: 'l', status: 'open' },
  };

  const later = defenderFlow.decide(s, { type: 'members', added: 0, removed: 1, members: 1, info: passInfo }, DAY)!;
  assert.deepEqual(
    {
      owner: later.state.owner,
      grace: later.state.grace,
      dueAt: later.state.dueAt,
      policy: later.state.policy,
      members: later.state.members,
    },
    { owner: 'beth@example.com', grace: false, dueAt: 5 * DAY, policy: manualInfo.policy, members: 1 },
  );
  assert.equal(later.state.manual?.ticketType, 'problem');

  // The same event on an automatic item takes the pass's settings.
  const auto: ItemState = { ...s, manual: undefined, owner: 'old@example.com' };
  assert.equal(
    defenderFlow.decide(auto, { type: 'members', added: 0, removed: 1, members: 1, info: passInfo }, DAY)!.state.owner,
    'auto@example.com',
  );
});

test('an edit: the new settings, one effect of each kind; the same edit again is nothing; a sweep under way runs once more, for all', () => {
  const opened = defenderFlow.decide(
    undefined,
    { type: 'members', added: 2, removed: 0, members: 2, info: manualInfo },
    0,
  )!;
  const s: ItemState = {
    ...opened.state,
    status: 'ticket_open',
    ticket: { system: 'sn', kind: 'problem', id: '1', key: 'PRB1', link: 'l', status: 'open' },
  };
  const edit = { owner: 'david@example.com', dueAt: 9 * DAY, notifyOwner: false };
  const d = defenderFlow.decide(s, { type: 'manual_edited', edit, by: 'user:op' }, DAY)!;
  assert.equal(d.audit?.action, 'edited');
  assert.deepEqual(d.audit?.detail?.changed, ['owner', 'dueAt', 'notifyOwner']);
  assert.deepEqual(
    [d.state.owner, d.state.dueAt, d.state.manual?.notifyOwner, d.state.policy.remind],
    ['david@example.com', 9 * DAY, false, false],
  );
  assert.deepEqual(
    d.effects?.map((e) => [e.kind, e.payload]),
    [
      ['due', { gen: 1 }],
      ['retarget', { gen: 1, changed: ['owner', 'dueAt', 'notifyOwner'], by: 'user:op' }],
      ['govern', { gen: 1, sweep: 1, all: true }],
    ],
  );
  assert.equal(defenderFlow.decide(d.state, { type: 'manual_edited', edit, by: 'user:op' }, DAY), null);

  // A sweep already running: the edit asks for one more, of every member.
  const busy: ItemState = { ...s, sweeping: true, sweeps: 1 };
  const queued = defenderFlow.decide(busy, { type: 'manual_edited', edit: { grace: true }, by: 'u' }, DAY)!;
  assert.deepEqual([queued.state.sweepAgain, queued.state.sweepAll], [true, true]);
  assert.ok(!queued.effects?.some((e) => e.kind === 'govern'));
  const next = defenderFlow.decide(queued.state, { type: 'governed', gen: 1, sweep: 1 }, DAY)!;
  assert.deepEqual(next.effects?.[0].payload, { gen: 1, sweep: 2, all: true });

  // An automatic item is never edited; a deleted one neither; deleting twice is one delete.
  assert.equal(defenderFlow.decide({ ...s, manual: undefined }, { type: 'manual_edited', edit, by: 'u' }, DAY), null);
  const gone = defenderFlow.decide(s, { type: 'manual_deleted', by: 'user:op' }, DAY)!;
  assert.equal(gone.state.status, 'deleted');
  assert.deepEqual(
    gone.effects?.map((e) => e.kind),
    ['unassign', 'note'],
  );
  assert.equal(defenderFlow.decide(gone.state, { type: 'manual_deleted', by: 'user:op' }, DAY), null);
  assert.equal(defenderFlow.decide(gone.state, { type: 'manual_edited', edit, by: 'u' }, DAY), null);

  // Deleted during a sweep: the clean-up waits for the sweep's end, so no assignment is written after it.
  const during = defenderFlow.decide(busy, { type: 'manual_deleted', by: 'user:op' }, DAY)!;
  assert.deepEqual(
    during.effects?.map((e) => e.kind),
    ['note'],
  );
  const ended = defenderFlow.decide(during.state, { type: 'governed', gen: 1, sweep: 1 }, DAY)!;
  assert.deepEqual(
    ended.effects?.map((e) => e.kind),
    ['unassign'],
  );
  assert.equal(defenderFlow.decide(ended.state, { type: 'governed', gen: 1, sweep: 1 }, DAY), null);
});
