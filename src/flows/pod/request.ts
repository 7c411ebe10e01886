import type { Decision, Effect } from '../../engine/flow.ts';
import type { ActualAssignment, Principal } from './providers/port.ts';

/**
 * A permission request's decisions (pure). Its diagram:
 *
 *   submit ──► submitted ──approve × quorum──► approved ──► granting ──► granted ──expire──► revoking ──► expired
 *                 │  ╲                (auto-approve and            │        │  ╲                 │
 *              reject cancel           break-glass skip here)   grant_failed │  revoke ─────────► revoking ──► revoked
 *                 ▼     ▼                                                    extend                  │
 *             rejected canceled                                                             revoke_failed (retried)
 *
 * The provider assignment itself is a separate item (assignment.ts), shared by every request for the
 * same principal, permission and scope: `attach` and `release` effects hold and let go of it, and it
 * tells each request when the provider says granted or gone.
 */

export type RequestStatus =
  | 'submitted'
  | 'approved'
  | 'rejected'
  | 'canceled'
  | 'granting'
  | 'granted'
  | 'grant_failed'
  | 'revoking'
  | 'revoked'
  | 'expired'
  | 'revoke_failed';

export const REQUEST_STATUSES: RequestStatus[] = [
  'submitted',
  'approved',
  'rejected',
  'canceled',
  'granting',
  'granted',
  'grant_failed',
  'revoking',
  'revoked',
  'expired',
  'revoke_failed',
];

/** What the policy said at submission: later policy edits do not change a request under way. */
export interface PolicySnapshot {
  name: string;
  quorum: number;
  /** Actors (`user:<name>`) who may approve. */
  approvers: string[];
  /** Entra groups whose members may approve (checked in Entra when one decides). */
  approverGroups?: { id: string; name: string }[];
  allowSelfApproval: boolean;
  breakGlass: boolean;
  selfExtend: boolean;
  maxDurationMs: number;
  /** How long before expiry the "expiring soon" notice goes out (0: none). */
  expiringSoonMs: number;
  /** Why it needed no approval, when it did not (auto-approve rule, break-glass). */
  autoApproved?: string;
}

export interface Approval {
  actor: string;
  decision: 'approved' | 'rejected';
  comment: string;
  at: number;
  /** Where it was given: here (`ticketloop`) or in the ITSM (`servicenow`). */
  via: string;
  /** The approver group the actor was found a member of (Entra), when not a named approver. */
  group?: string;
}

export interface GrantRecord {
  grantedAt?: number;
  expiresAt: number;
  revokedAt?: number;
  /** The provider's answer on the last read-back (what "granted" and "revoked" rest on). */
  providerState?: string;
  ref?: string;
  /** The access existed before Ticketloop granted it: ending this grant leaves it in place. */
  preexisting?: boolean;
  /** When the provider ends the assignment by itself (PIM), as last read back; null: it does not. */
  providerEndsAt?: number | null;
  /** Why the provider's end could not be moved to this grant's end (an extend that failed). */
  providerEndError?: string;
}

export interface RequestState {
  kind: 'request';
  status: RequestStatus;
  integration: string;
  system: string;
  provider: string;
  permission: { name: string; id: string; displayName: string };
  scope: string;
  identity: Principal;
  /** The shared provider-assignment item (`a:<hash>` of system, principal, permission, scope). */
  assignment: string;
  requester: string;
  justification: string;
  ticketNumber?: string;
  /** The ITSM request item it came from or was mirrored to. */
  ticket?: { system: string; kind: string; id: string; key: string; link: string };
  durationMs: number;
  policy: PolicySnapshot;
  approvals: Approval[];
  submittedAt: number;
  decidedAt?: number;
  grant?: GrantRecord;
  /** Who ended it, and why (expiry, a revoke, a failure). */
  ended?: { by: string; reason: string; at: number };
  error?: string;
  /** What a revoke does not end, from the provider (shown on the request and in the revoke notice). */
  revokeCaveat: string;
}

export type RequestEvent =
  | { type: 'submit'; request: Omit<RequestState, 'kind' | 'status' | 'approvals' | 'submittedAt'> }
  | { type: 'approve'; actor: string; comment: string; via: string; group?: string }
  | { type: 'reject'; actor: string; comment: string; via: string; group?: string }
  | { type: 'cancel'; actor: string }
  | { type: 'granting' }
  | { type: 'granted'; assignment: ActualAssignment | null; preexisting: boolean }
  | { type: 'grant_failed'; error: string }
  | { type: 'expire' }
  | { type: 'revoke'; actor: string; reason: string }
  | { type: 'released'; providerState: string }
  | { type: 'revoke_failed'; error: string }
  | { type: 'extend'; actor: string; durationMs: number }
  /** The shared assignment says when the provider ends it (after an extend), or why it could not move it. */
  | { type: 'provider_end'; endsAt: number | null; error?: string };

const notify = (event: string, at: number, extra: Record<string, unknown> = {}): Effect => ({
  kind: 'notify',
  key: `notify:${event}:${at}`,
  payload: { event, ...extra },
});

const attach: Effect = { kind: 'attach', key: 'attach' };
const release = (at: number): Effect => ({ kind: 'release', key: `release:${at}` });

/**
 * Why `actor` may not decide this request now, or undefined when they may. `group`: an approver
 * group of the policy the actor was found a member of in Entra (the service checks, this trusts it).
 */
export function whyNotDecide(s: RequestState, actor: string, group?: string): string | undefined {
  if (s.status !== 'submitted') return `the request is ${s.status}, not waiting for approval`;
  if (actor === s.requester && !s.policy.allowSelfApproval)
    return `${actor} requested it: policy "${s.policy.name}" does not allow self-approval`;
  const inGroup = !!group && !!s.policy.approverGroups?.some((g) => g.id === group);
  if (!s.policy.approvers.includes(actor) && !inGroup)
    return `${actor} is not an approver of policy "${s.policy.name}"`;
  if (s.approvals.some((a) => a.actor === actor)) return `${actor} has already decided this request`;
  return undefined;
}

/** Why `actor` may not revoke (the requester, an approver of its policy, an admin — the route checks admin). */
export function whyNotRevoke(s: RequestState): string | undefined {
  if (s.status === 'granted' || s.status === 'granting' || s.status === 'approved' || s.status === 'revoke_failed')
    return undefined;
  return `the request is ${s.status}: there is no grant to revoke`;
}

export function decideRequest(
  s: RequestState | undefined,
  e: RequestEvent,
  now: number,
): Decision<RequestState> | null {
  if (e.type === 'submit') {
    if (s) return null; // the same id twice: the first one stands
    const state: RequestState = { ...e.request, kind: 'request', status: 'submitted', approvals: [], submittedAt: now };
    if (state.policy.autoApproved) {
      return {
        state: { ...state, status: 'approved', decidedAt: now },
        effects: [attach, notify('submitted', now, { autoApproved: state.policy.autoApproved })],
        audit: { action: 'submitted and auto-approved', detail: { reason: state.policy.autoApproved } },
      };
    }
    return {
      state,
      effects: [notify('submitted', now)],
      audit: { action: 'submitted', detail: { approvers: state.policy.approvers, quorum: state.policy.quorum } },
    };
  }
  if (!s) return null;
  switch (e.type) {
    case 'approve':
    case 'reject': {
      if (whyNotDecide(s, e.actor, e.group)) return null;
      const approval: Approval = {
        actor: e.actor,
        decision: `${e.type}d` as Approval['decision'],
        comment: e.comment,
        at: now,
        via: e.via,
        ...(e.group ? { group: e.group } : {}),
      };
      const approvals = [...s.approvals, approval];
      const audit = { action: approval.decision, detail: { actor: e.actor, comment: e.comment, via: e.via } };
      if (e.type === 'reject')
        return {
          state: { ...s, status: 'rejected', approvals, decidedAt: now },
          effects: [notify('decided', now, { decision: 'rejected', actor: e.actor })],
          audit,
        };
      const count = approvals.filter((a) => a.decision === 'approved').length;
      if (count < s.policy.quorum)
        return { state: { ...s, approvals }, effects: [notify(`approval:${e.actor}`, now)], audit };
      return {
        state: { ...s, status: 'approved', approvals, decidedAt: now },
        effects: [attach, notify('decided', now, { decision: 'approved', actor: e.actor })],
        audit: { ...audit, action: 'approved (quorum reached)' },
      };
    }
    case 'cancel':
      if (s.status !== 'submitted') return null;
      return {
        state: { ...s, status: 'canceled', ended: { by: e.actor, reason: 'canceled', at: now } },
        effects: [notify('canceled', now)],
        audit: { action: 'canceled', detail: { actor: e.actor } },
      };
    case 'granting':
      if (s.status !== 'approved') return null;
      return {
        state: { ...s, status: 'granting' },
        audit: { action: 'granting', detail: { assignment: s.assignment } },
      };
    case 'granted': {
      if (s.status !== 'granting') return null;
      const expiresAt = now + s.durationMs;
      const grant: GrantRecord = {
        grantedAt: now,
        expiresAt,
        providerState: e.assignment ? `assigned (${e.assignment.ref})` : 'assigned',
        ref: e.assignment?.ref,
        preexisting: e.preexisting,
        ...(e.assignment?.endsAt !== undefined ? { providerEndsAt: e.assignment.endsAt } : {}),
      };
      const detail = { expiresAt: new Date(expiresAt).toISOString(), ref: grant.ref, preexisting: e.preexisting };
      // Revoked while it was being granted: let go at once.
      if (s.ended)
        return {
          state: { ...s, status: 'revoking', grant, error: undefined },
          effects: [release(now)],
          audit: { action: 'granted, then released (revoked while granting)', detail },
        };
      return {
        state: { ...s, status: 'granted', grant, error: undefined },
        effects: grantTimers(expiresAt, now, s.policy.expiringSoonMs),
        audit: { action: 'granted', detail },
      };
    }
    case 'grant_failed':
      // Revoked while granting, and the grant failed: nothing was assigned, so it is over.
      if (s.status === 'revoking')
        return {
          state: { ...s, status: s.ended?.reason === 'expired' ? 'expired' : 'revoked', error: e.error },
          audit: { action: 'ended (the grant had failed)', detail: { error: e.error } },
        };
      if (s.status !== 'granting') return null;
      return {
        state: { ...s, status: 'grant_failed', error: e.error },
        effects: [notify('failed', now, { error: e.error })],
        audit: { action: 'grant failed', detail: { error: e.error } },
      };
    case 'expire':
      if (s.status !== 'granted' || !s.grant || now < s.grant.expiresAt) return null;
      return {
        state: { ...s, status: 'revoking', ended: { by: 'ticketloop', reason: 'expired', at: now } },
        effects: [release(now)],
        audit: { action: 'expired', detail: { expiresAt: new Date(s.grant.expiresAt).toISOString() } },
      };
    case 'revoke': {
      if (whyNotRevoke(s)) return null;
      const ended = { by: e.actor, reason: e.reason, at: now };
      // Still being granted: ending it now would race the grant; the release follows the grant's answer.
      if (s.status === 'granting' || s.status === 'approved')
        return {
          state: { ...s, ended },
          audit: { action: 'revoke requested while granting', detail: { actor: e.actor } },
        };
      return {
        state: { ...s, status: 'revoking', ended },
        effects: [release(now)],
        audit: { action: 'revoke requested', detail: { actor: e.actor, reason: e.reason } },
      };
    }
    case 'released': {
      if (s.status !== 'revoking' && s.status !== 'revoke_failed') return null;
      const status = s.ended?.reason === 'expired' ? 'expired' : 'revoked';
      return {
        state: { ...s, status, grant: s.grant && { ...s.grant, revokedAt: now, providerState: e.providerState } },
        effects: [notify(status, now, { providerState: e.providerState })],
        audit: { action: status, detail: { providerState: e.providerState } },
      };
    }
    case 'revoke_failed':
      if (s.status !== 'revoking' && s.status !== 'revoke_failed') return null;
      return {
        state: { ...s, status: 'revoke_failed', error: e.error },
        effects: [notify('failed', now, { error: e.error })],
        audit: { action: 'revoke failed (retrying)', detail: { error: e.error } },
      };
    case 'extend': {
      if (s.status !== 'granted' || !s.grant) return null;
      const expiresAt = Math.max(s.grant.expiresAt, now) + e.durationMs;
      return {
        state: { ...s, grant: { ...s.grant, expiresAt } },
        // The shared assignment hears of it: a provider that ends it by itself (PIM) is extended too.
        effects: [
          ...grantTimers(expiresAt, now, s.policy.expiringSoonMs),
          { kind: 'prolong', key: `prolong:${expiresAt}`, payload: { expiresAt } },
        ],
        audit: { action: 'extended', detail: { actor: e.actor, expiresAt: new Date(expiresAt).toISOString() } },
      };
    }
    case 'provider_end': {
      if (!s.grant || (s.status !== 'granted' && s.status !== 'granting')) return null;
      const grant = { ...s.grant, providerEndsAt: e.endsAt, providerEndError: e.error };
      return {
        state: { ...s, grant },
        effects: e.error ? [notify('failed', now, { error: e.error })] : [],
        audit: {
          action: e.error ? 'provider end not extended' : 'provider end extended',
          detail: { endsAt: e.endsAt === null ? 'never' : new Date(e.endsAt).toISOString(), error: e.error },
        },
      };
    }
  }
}

/** The expiry timer (durable: a job with runAt) and the "expiring soon" notice, keyed by the expiry they serve. */
function grantTimers(expiresAt: number, now: number, expiringSoonMs: number): Effect[] {
  const effects: Effect[] = [
    { kind: 'expire', key: `expire:${expiresAt}`, runAt: expiresAt, priority: 'urgent' },
    notify('granted', now, { expiresAt }),
  ];
  if (expiringSoonMs > 0 && expiresAt - expiringSoonMs > now)
    effects.push({ ...notify('expiring', expiresAt, { expiresAt }), runAt: expiresAt - expiringSoonMs });
  return effects;
}
