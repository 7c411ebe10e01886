import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assignErrors,
  assignmentBody,
  editBody,
  editFormOf,
  EMPTY_ASSIGN_FORM,
} from '../../console/src/flows/defender/assign-logic.ts';

test('the Create assignment body leaves out what the integration decides', () => {
  assert.deepEqual(assignmentBody('core', 'k', ['/r1'], { ...EMPTY_ASSIGN_FORM, assignedTo: ' beth@example.com ' }), {
    integration: 'core',
    assessmentKey: 'k',
    resourceIds: ['/r1'],
    assignedTo: 'beth@example.com',
    gracePeriod: true,
    notifications: { owner: false, manager: false },
  });
  const full = assignmentBody('core', 'k', ['/r1'], {
    ...EMPTY_ASSIGN_FORM,
    assignedTo: 'b@example.com',
    caller: 'c@example.com',
    ticketType: 'problem',
    days: '5',
    notifyManager: true,
  });
  assert.deepEqual(
    [full.ticketType, full.caller, full.remediationTimeframeDays, full.notifications],
    ['problem', 'c@example.com', 5, { owner: false, manager: true }],
  );
});

test("the API's refusals land on their fields; per-resource lines stay behind the summary", () => {
  const r = assignErrors([
    { path: 'body.resourceIds', message: '2 of them are not unhealthy resources of this recommendation' },
    { path: 'body.resourceIds.1', message: '/r2 is not unhealthy' },
    { path: 'body.assignedTo', message: 'Invalid email address' },
    { path: 'body.integration', message: 'no defender integration named "x"' },
  ]);
  assert.deepEqual(r.fields, {
    resourceIds: '2 of them are not unhealthy resources of this recommendation',
    assignedTo: 'Invalid email address',
  });
  assert.deepEqual(r.other, ['integration: no defender integration named "x"']);
});

test('the edit body sends only what the form changed', () => {
  const a = {
    owner: 'beth@example.com',
    caller: null,
    dueDate: '2027-01-10T09:30:00.000Z',
    gracePeriod: false,
    notifications: { owner: false, manager: true },
  };
  const form = editFormOf(a);
  assert.equal(form.dueDate, '2027-01-10');
  assert.deepEqual(editBody(a, form), {}, 'untouched: nothing to send');
  assert.deepEqual(
    editBody(a, {
      ...form,
      assignedTo: ' david@example.com ',
      caller: 'c@example.com',
      dueDate: '2027-02-01',
      notifyOwner: true,
    }),
    {
      assignedTo: 'david@example.com',
      caller: 'c@example.com',
      dueDate: '2027-02-01',
      notifications: { owner: true },
    },
  );
  assert.deepEqual(editBody(a, { ...form, gracePeriod: true, notifyManager: false }), {
    gracePeriod: true,
    notifications: { manager: false },
  });
  assert.deepEqual(assignErrors([{ path: 'body.dueDate', message: 'Invalid' }]).fields, { dueDate: 'Invalid' });
});
