import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAssignment, type AssignmentEvent, type AssignmentState } from '../../src/flows/pod/assignment.ts';

// The shared assignment's decisions for providers that end it by themselves (PIM): an `extend` effect
// when a holder's end is after the provider's, none when it is not or the provider never ends it (RBAC);
// a stale or gone extend; a prolonged holder.

const T0 = Date.parse('2026-12-03T09:00:00Z');
const HOUR = 3_600_000;
const target = { principal: { type: 'user' as const, id: 'u1' }, permission: 'role', scope: '/subscriptions/s' };
const hold = (request: string, expiresAt: number): AssignmentEvent => ({
  type: 'hold',
  request,
  integration: 'cloud',
  system: 'pim',
  target,
  justification: 'j',
  expiresAt,
});

/** Present, held by r1 until T0+1h, the provider ending it at `endsAt` (undefined: never, as RBAC). */
function present(endsAt: number | undefined): AssignmentState {
  return {
    kind: 'assignment',
    status: 'present',
    integration: 'cloud',
    system: 'pim',
    target,
    holders: ['r1'],
    holderEnds: { r1: T0 + HOUR },
    releasing: [],
    generation: 1,
    preexisting: false,
    ref: 'ref-1',
    endsAt,
  };
}

const kinds = (d: ReturnType<typeof decideAssignment>) => (d?.effects ?? []).map((e) => e.kind);

test('a later holder on a PIM assignment gets an extend; an earlier one and RBAC do not', () => {
  const later = decideAssignment(present(T0 + HOUR), hold('r2', T0 + 3 * HOUR), T0);
  assert.deepEqual(kinds(later), ['tell', 'extend']);
  assert.equal(later!.state.status, 'present', 'the access stays present while it is extended');
  assert.equal(later!.state.holderEnds!.r2, T0 + 3 * HOUR);
  assert.deepEqual(kinds(decideAssignment(present(T0 + HOUR), hold('r2', T0 + HOUR / 2), T0)), ['tell']);
  assert.deepEqual(kinds(decideAssignment(present(undefined), hold('r2', T0 + 3 * HOUR), T0)), ['tell']);
  assert.deepEqual(
    kinds(decideAssignment({ ...present(T0 + HOUR), preexisting: true }, hold('r2', T0 + 3 * HOUR), T0)),
    ['tell'],
  );
});

test('extend_done records the end read back and tells the holders; a stale one is ignored', () => {
  const s = { ...present(T0 + HOUR), holders: ['r1', 'r2'], holderEnds: { r1: T0 + HOUR, r2: T0 + 3 * HOUR } };
  const done = decideAssignment(s, { type: 'extend_done', generation: 1, endsAt: T0 + 3 * HOUR }, T0);
  assert.equal(done!.state.endsAt, T0 + 3 * HOUR);
  assert.deepEqual(
    done!.effects!.map((e) => [e.kind, (e.payload as any).request, (e.payload as any).event.type]),
    [
      ['tell', 'r1', 'provider_end'],
      ['tell', 'r2', 'provider_end'],
    ],
  );
  assert.equal(decideAssignment(s, { type: 'extend_done', generation: 0, endsAt: T0 + 3 * HOUR }, T0), null);
  const failed = decideAssignment(s, { type: 'extend_failed', generation: 1, error: 'ExpirationRule' }, T0);
  assert.equal(failed!.state.error, 'ExpirationRule');
  assert.equal((failed!.effects![0].payload as any).event.error, 'ExpirationRule');
});

test('an assignment gone before the extend reached it is granted again for its holders', () => {
  const gone = decideAssignment(present(T0 + HOUR), { type: 'extend_done', generation: 1, gone: true }, T0);
  assert.equal(gone!.state.status, 'granting');
  assert.equal(gone!.state.generation, 2);
  assert.deepEqual(kinds(gone), ['grant']);
});

test('a prolonged holder past the provider end gets an extend; a release drops its end', () => {
  const p = decideAssignment(present(T0 + HOUR), { type: 'prolong', request: 'r1', expiresAt: T0 + 2 * HOUR }, T0);
  assert.deepEqual(kinds(p), ['extend']);
  assert.equal(
    decideAssignment(present(T0 + HOUR), { type: 'prolong', request: 'rX', expiresAt: T0 + 2 * HOUR }, T0),
    null,
  );
  const two = decideAssignment(present(T0 + HOUR), hold('r2', T0 + HOUR / 2), T0)!.state;
  const released = decideAssignment(two, { type: 'release', request: 'r1' }, T0)!.state;
  assert.deepEqual(released.holderEnds, { r2: T0 + HOUR / 2 });
  assert.deepEqual(released.holders, ['r2']);
});

test('the holder with the latest end letting go early shortens the schedule; not when the rest end soon, nor RBAC', () => {
  // r2 holds to T0+3h (the provider's end), r1 to T0+1h.
  const shared = (endsAt: number | undefined) => ({
    ...present(endsAt),
    holders: ['r1', 'r2'],
    holderEnds: { r1: T0 + HOUR, r2: T0 + 3 * HOUR },
  });
  const early = decideAssignment(shared(T0 + 3 * HOUR), { type: 'release', request: 'r2' }, T0);
  assert.deepEqual(kinds(early), ['tell', 'extend']);
  assert.equal(early!.state.status, 'present');
  assert.deepEqual(early!.state.holderEnds, { r1: T0 + HOUR });
  // The earlier holder letting go changes nothing at the provider.
  assert.deepEqual(kinds(decideAssignment(shared(T0 + 3 * HOUR), { type: 'release', request: 'r1' }, T0)), ['tell']);
  // Five minutes before r1's own end: its expiry removes it anyway (and PIM refuses schedules that short).
  assert.deepEqual(
    kinds(decideAssignment(shared(T0 + 3 * HOUR), { type: 'release', request: 'r2' }, T0 + HOUR - 5 * 60_000)),
    ['tell'],
  );
  assert.deepEqual(kinds(decideAssignment(shared(undefined), { type: 'release', request: 'r2' }, T0)), ['tell']);
  assert.deepEqual(
    kinds(decideAssignment({ ...shared(T0 + 3 * HOUR), preexisting: true }, { type: 'release', request: 'r2' }, T0)),
    ['tell'],
  );
});
