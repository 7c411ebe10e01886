import type { Decision, Effect } from '../../engine/flow.ts';
import { createHash } from 'node:crypto';
import type { ActualAssignment, AssignmentTarget } from './providers/port.ts';

/**
 * One provider assignment (principal × permission × scope on a system), shared by every request that
 * holds it: reference counting, so the first of two overlapping grants to end does not take away the
 * access the second still grants. Pure decisions; its diagram:
 *
 *   absent ──hold──► granting ──grant_done──► present ──last release──► revoking ──revoke_done──► absent
 *     ▲                 │                      │  ▲                        │
 *     └──grant_failed───┘          hold/release (others still hold)    revoke_failed ──► present (retried later)
 *
 * Access that was there before Ticketloop granted it (`preexisting`) is never revoked: the last
 * release only forgets it. A hold that arrives while a revoke is in flight re-grants after it.
 *
 * Providers that end an assignment by themselves (PIM) are granted until the latest end among the
 * holders. A holder that arrives (or is extended) with an end after the provider's `endsAt` gets an
 * `extend` effect, staying `present`: the job moves the provider's end and reports the end it reads
 * back (`extend_done`), so a second, still-valid request does not lose access at the first one's end.
 * The same job shortens the schedule when the holder with the latest end lets go early (revoked):
 * the remaining holders' latest end becomes the provider's, so the access does not outlive them.
 */

export type AssignmentStatus = 'absent' | 'granting' | 'present' | 'revoking';

export interface AssignmentState {
  kind: 'assignment';
  status: AssignmentStatus;
  integration: string;
  system: string;
  target: AssignmentTarget;
  /** Requests holding it now. */
  holders: string[];
  /** Requests that let go and wait for the revoke to finish. */
  releasing: string[];
  /** When each holder's grant ends (the provider is asked to keep the assignment until the latest). */
  holderEnds?: Record<string, number>;
  /** When the provider ends the assignment by itself, as last read back (PIM); undefined: never. */
  endsAt?: number;
  /** Bumped for every provider write, so a retried job and a stale one are told apart. */
  generation: number;
  preexisting: boolean;
  ref?: string;
  /** The key of the grant write that made it (a provider may name its assignment by it). */
  grantKey?: string;
  error?: string;
  /** Why the last grant or revoke was made: justification and ticket of the request that caused it. */
  cause?: { request: string; justification: string; ticketNumber?: string; expiresAt: number };
}

export type AssignmentEvent =
  | {
      type: 'hold';
      request: string;
      integration: string;
      system: string;
      target: AssignmentTarget;
      justification: string;
      ticketNumber?: string;
      expiresAt: number;
    }
  | { type: 'release'; request: string }
  /** A holder's grant was extended to `expiresAt`. */
  | { type: 'prolong'; request: string; expiresAt: number }
  /** The provider's end after an extend, as read back; `gone`: the assignment was no longer there. */
  | { type: 'extend_done'; generation: number; endsAt?: number; gone?: boolean }
  | { type: 'extend_failed'; generation: number; error: string }
  | { type: 'grant_done'; generation: number; preexisting: boolean; readBack: ActualAssignment; grantKey: string }
  | { type: 'grant_failed'; generation: number; error: string }
  | { type: 'revoke_done'; generation: number; readBack: string }
  | { type: 'revoke_failed'; generation: number; error: string; retryAt: number }
  /** The reconcile found drift on this assignment and its policy says fix it (`fixDrift`). */
  | { type: 'fix_drift'; generation: number; drift: 'missing' | 'leftover'; ref?: string };

/** The shared assignment item of a principal × permission × scope on a system. */
export function assignmentItem(
  integration: string,
  system: string,
  r: { identity: AssignmentTarget['principal']; scope: string },
  permissionId: string,
): string {
  const key = [
    integration,
    system,
    r.identity.type,
    r.identity.id.toLowerCase(),
    permissionId.toLowerCase(),
    r.scope.toLowerCase(),
  ].join('|');
  return `a:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** A request item is told something: `tell` is a job that applies `event` to request `request`. */
const tell = (request: string, event: Record<string, unknown>, key: string): Effect => ({
  kind: 'tell',
  key: `tell:${request}:${key}`,
  payload: { request, event },
});

/** The latest end among the holders: what a provider that expires by itself is asked to keep the assignment until. */
export function wantedEnd(s: Pick<AssignmentState, 'holders' | 'holderEnds'>): number | undefined {
  const ends = s.holders.map((h) => s.holderEnds?.[h]).filter((x): x is number => x !== undefined);
  return ends.length ? Math.max(...ends) : undefined;
}

/** Not shortened when the remaining end is this close (see moveEnd). */
export const SHORTEN_FLOOR_MS = 10 * 60_000;
/** Ends this close to the provider's count as the same (its end is read back in whole seconds). */
const SAME_END_MS = 60_000;

/**
 * An `extend` job when the provider's end is not the holders' latest: later, when a holder needs it
 * longer; earlier (`now` given), when the holder with the latest end let go early — unless that end is
 * under SHORTEN_FLOOR_MS away: the last holder's expiry removes it then, and PIM refuses schedules
 * shorter than 5 minutes (ActiveDurationTooShort).
 */
function moveEnd(s: AssignmentState, now?: number): Effect[] {
  const want = wantedEnd(s);
  if (s.status !== 'present' || s.preexisting || s.endsAt === undefined || want === undefined) return [];
  const earlier = now !== undefined && want < s.endsAt - SAME_END_MS && want - now >= SHORTEN_FLOOR_MS;
  if (want <= s.endsAt && !earlier) return [];
  // Urgent: an extension must land before the provider's current end.
  return [
    {
      kind: 'extend',
      key: `extend:${s.generation}:${want}`,
      payload: { generation: s.generation },
      priority: 'urgent',
    },
  ];
}

const providerWrite = (kind: 'grant' | 'revoke', generation: number, runAt?: number): Effect => ({
  kind,
  key: `${kind}:${generation}`,
  payload: { generation },
  runAt,
  priority: 'urgent',
});

export function decideAssignment(
  s: AssignmentState | undefined,
  e: AssignmentEvent,
  now: number,
): Decision<AssignmentState> | null {
  if (e.type === 'hold') {
    const base: AssignmentState = s ?? {
      kind: 'assignment',
      status: 'absent',
      integration: e.integration,
      system: e.system,
      target: e.target,
      holders: [],
      releasing: [],
      generation: 0,
      preexisting: false,
    };
    if (base.holders.includes(e.request)) return null;
    const cause = {
      request: e.request,
      justification: e.justification,
      ticketNumber: e.ticketNumber,
      expiresAt: e.expiresAt,
    };
    const held = {
      ...base,
      holders: [...base.holders, e.request],
      holderEnds: { ...base.holderEnds, [e.request]: e.expiresAt },
    };
    const audit = { action: 'held', detail: { request: e.request, holders: held.holders.length } };
    switch (base.status) {
      case 'absent': {
        const generation = base.generation + 1;
        return {
          state: { ...held, status: 'granting', generation, cause, error: undefined },
          effects: [providerWrite('grant', generation)],
          audit: { ...audit, action: 'granting' },
        };
      }
      case 'present':
        return {
          state: held,
          effects: [tell(e.request, grantedEvent(base), `granted:${base.generation}`), ...moveEnd(held)],
          audit: { ...audit, action: 'held (already assigned)' },
        };
      default:
        // granting: told when the grant answers; revoking: granted again when the revoke is done.
        return { state: { ...held, cause: held.cause ?? cause }, audit };
    }
  }
  if (!s) return null;
  switch (e.type) {
    case 'release': {
      if (!s.holders.includes(e.request)) return null;
      return release(s, e.request, now);
    }
    case 'grant_done': {
      if (s.status !== 'granting' || e.generation !== s.generation) return null;
      const present: AssignmentState = {
        ...s,
        status: 'present',
        preexisting: e.preexisting,
        ref: e.readBack.ref,
        grantKey: e.grantKey,
        endsAt: e.readBack.endsAt,
        error: undefined,
      };
      const told = s.holders.map((r) => tell(r, grantedEvent(present, e.readBack), `granted:${s.generation}`));
      const audit = {
        action: e.preexisting ? 'found assigned before (pre-existing)' : 'assigned',
        detail: { ref: e.readBack.ref },
      };
      // Everyone let go while the grant was in flight: revoke right away (unless it was never ours).
      if (s.holders.length === 0) return releaseUnheld(present, audit);
      return {
        state: { ...present, releasing: [] },
        effects: [...told, ...releasedTold(present), ...moveEnd(present)],
        audit,
      };
    }
    case 'grant_failed': {
      if (s.status !== 'granting' || e.generation !== s.generation) return null;
      const told = [...s.holders, ...s.releasing].map((r) =>
        tell(r, { type: 'grant_failed', error: e.error }, `failed:${s.generation}`),
      );
      return {
        state: { ...s, status: 'absent', holders: [], holderEnds: {}, releasing: [], error: e.error },
        effects: told,
        audit: { action: 'grant failed', detail: { error: e.error } },
      };
    }
    case 'revoke_done': {
      if (s.status !== 'revoking' || e.generation !== s.generation) return null;
      const absent: AssignmentState = {
        ...s,
        status: 'absent',
        ref: undefined,
        endsAt: undefined,
        error: undefined,
        releasing: [],
      };
      const told = releasedTold({ ...s, releasing: s.releasing }, e.readBack);
      if (s.holders.length === 0)
        return { state: absent, effects: told, audit: { action: 'unassigned', detail: { readBack: e.readBack } } };
      const generation = s.generation + 1;
      return {
        state: { ...absent, status: 'granting', generation },
        effects: [...told, providerWrite('grant', generation)],
        audit: { action: 'unassigned, granting again for new holders', detail: { holders: s.holders.length } },
      };
    }
    case 'revoke_failed': {
      if (s.status !== 'revoking' || e.generation !== s.generation) return null;
      const generation = s.generation + 1;
      const told = s.releasing.map((r) =>
        tell(r, { type: 'revoke_failed', error: e.error }, `revoke-failed:${s.generation}`),
      );
      return {
        state: { ...s, generation, error: e.error },
        effects: [...told, providerWrite('revoke', generation, e.retryAt)],
        audit: {
          action: 'revoke failed; retrying',
          detail: { error: e.error, retryAt: new Date(e.retryAt).toISOString() },
        },
      };
    }
    case 'prolong': {
      if (!s.holders.includes(e.request) || (s.holderEnds?.[e.request] ?? 0) >= e.expiresAt) return null;
      const prolonged = { ...s, holderEnds: { ...s.holderEnds, [e.request]: e.expiresAt } };
      return {
        state: prolonged,
        effects: moveEnd(prolonged),
        audit: { action: 'holder extended', detail: { request: e.request, until: iso(e.expiresAt) } },
      };
    }
    case 'extend_done': {
      if (s.status !== 'present' || e.generation !== s.generation) return null;
      if (e.gone) {
        // It ended (or was removed) before the extend reached it: the holders still need it, grant again.
        if (s.holders.length === 0) return null;
        const generation = s.generation + 1;
        return {
          state: { ...s, status: 'granting', generation, ref: undefined, endsAt: undefined },
          effects: [providerWrite('grant', generation)],
          audit: {
            action: 'granting again (ended before it could be extended)',
            detail: { holders: s.holders.length },
          },
        };
      }
      const extended = { ...s, endsAt: e.endsAt, error: undefined };
      return {
        state: extended,
        effects: scheduleTold(extended),
        audit: { action: 'extended', detail: { endsAt: e.endsAt === undefined ? 'never' : iso(e.endsAt) } },
      };
    }
    case 'extend_failed': {
      if (s.status !== 'present' || e.generation !== s.generation) return null;
      return {
        state: { ...s, error: e.error },
        effects: scheduleTold(s, e.error),
        audit: { action: 'extend failed', detail: { error: e.error } },
      };
    }
    case 'fix_drift': {
      // Only the state the finding was made on: a write since then answers it already.
      if (e.generation !== s.generation) return null;
      const generation = s.generation + 1;
      if (e.drift === 'missing' && s.status === 'present' && !s.preexisting && s.holders.length > 0)
        return {
          state: { ...s, status: 'granting', generation },
          effects: [providerWrite('grant', generation)],
          audit: { action: 'granting again (drift: gone from the provider)', detail: { holders: s.holders.length } },
        };
      // Revoked by Ticketloop, still there: delete the very assignment the reconcile saw (its ref is checked).
      if (e.drift === 'leftover' && s.status === 'absent' && s.holders.length === 0 && e.ref)
        return {
          state: { ...s, status: 'revoking', generation, ref: e.ref, grantKey: undefined },
          effects: [providerWrite('revoke', generation)],
          audit: { action: 'revoking again (drift: still assigned after revoke)', detail: { ref: e.ref } },
        };
      return null;
    }
  }
  return null;
}

/** A holder lets go: others still hold it, a write in flight decides, or it is revoked (or forgotten). */
function release(held: AssignmentState, request: string, now: number): Decision<AssignmentState> {
  const holders = held.holders.filter((r) => r !== request);
  const { [request]: _gone, ...holderEnds } = held.holderEnds ?? {};
  const s: AssignmentState = { ...held, holderEnds };
  const e = { request };
  const audit = { action: 'released', detail: { request: e.request, holders: holders.length } };
  if (holders.length > 0 || s.status === 'granting' || s.status === 'revoking') {
    const note = s.preexisting
      ? 'assigned before Ticketloop granted it: left in place'
      : `still held by ${holders.length} other request(s)`;
    // Others still hold it (or a write is in flight and its answer decides): this request is done.
    if (s.status === 'present') {
      const kept = { ...s, holders };
      return {
        state: kept,
        effects: [tell(e.request, { type: 'released', providerState: note }, 'released'), ...moveEnd(kept, now)],
        audit,
      };
    }
    return { state: { ...s, holders, releasing: [...s.releasing, e.request] }, audit };
  }
  if (s.preexisting)
    return {
      state: { ...s, holders, status: 'absent', preexisting: false, ref: undefined },
      effects: [
        tell(
          e.request,
          { type: 'released', providerState: 'assigned before Ticketloop granted it: left in place' },
          'released',
        ),
      ],
      audit: { ...audit, action: 'forgotten (pre-existing access left in place)' },
    };
  const generation = s.generation + 1;
  return {
    state: { ...s, holders, releasing: [...s.releasing, e.request], status: 'revoking', generation },
    effects: [providerWrite('revoke', generation)],
    audit: { ...audit, action: 'revoking' },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Holders are told when the provider will end the assignment (after an extend, or why it could not be moved). */
function scheduleTold(s: AssignmentState, error?: string): Effect[] {
  return s.holders.map((r) =>
    tell(r, { type: 'provider_end', endsAt: s.endsAt ?? null, error }, `end:${s.generation}:${s.endsAt}:${!!error}`),
  );
}

function grantedEvent(s: AssignmentState, readBack?: ActualAssignment): Record<string, unknown> {
  return {
    type: 'granted',
    assignment: readBack ?? { ...s.target, ref: s.ref ?? '', via: 'direct' },
    preexisting: s.preexisting,
  };
}

/** Requests that let go while a write was in flight are told the outcome. */
function releasedTold(s: AssignmentState, readBack?: string): Effect[] {
  const state =
    readBack ??
    (s.preexisting ? 'assigned before Ticketloop granted it: left in place' : 'still held by other requests');
  return s.releasing.map((r) => tell(r, { type: 'released', providerState: state }, `released:${s.generation}`));
}

/** A grant that nobody holds any more: revoke it, or forget it if it was not ours. */
function releaseUnheld(s: AssignmentState, audit: Decision<AssignmentState>['audit']): Decision<AssignmentState> {
  if (s.preexisting)
    return { state: { ...s, status: 'absent', releasing: [], preexisting: false }, effects: releasedTold(s), audit };
  const generation = s.generation + 1;
  return { state: { ...s, status: 'revoking', generation }, effects: [providerWrite('revoke', generation)], audit };
}
