import type { Decision, Effect, Flow } from '../../engine/flow.ts';
import { sameTicket, type Ticket, type TicketRef } from '../../itsm/port.ts';
import type { TicketChangedEvent } from '../../itsm/watch.ts';
import type { CalloutStage } from './config.ts';
import { actionFor, type StateMap } from './states.ts';

/**
 * The entitlement flow's decisions — pure: (state, event, now) → (state, effects, audit).
 *
 *   received ──ticket opened──► ticket_open ──ticket state → resume──► resuming ──204──► resumed
 *       │                           │  └──ticket state → deny (created/approved)──► resuming ──► denied
 *       └───────────────────────────┴──timer (extension timeout)──► expired (a later close never resumes)
 *   resuming ──Graph "not waiting"──► failed
 *
 * Which ticket state resumes, denies or waits is the integration's `states` mapping (states.ts),
 * copied into the item when the callout arrives.
 *
 * One item per custom-extension stage instance (CustomExtensionStageInstanceId). Only the ticket the
 * open-ticket effect recorded counts: a change to any other record carrying the same correlation key
 * (anyone who can edit tickets can make one) is audited `foreign-ticket-ignored` and changes nothing.
 */

export const FLOW = 'entitlement';

export type ItemStatus =
  'received' | 'ticket_open' | 'resuming' | 'resumed' | 'denied' | 'expired' | 'failed' | 'closed';

export interface EntitlementState {
  status: ItemStatus;
  integration: string;
  stage: CalloutStage;
  requestId?: string;
  /** Present for launch-and-wait stages: the request can (and must) be resumed. */
  callbackUriPath?: string;
  table: string;
  opensTicket: boolean;
  receivedAt: number;
  deadline?: number;
  onTimeout: 'annotate' | 'resolve';
  resumeSource: string;
  /** Ticket state → resume / deny / wait; absent on items stored before the mapping existed (neutral status decides). */
  states?: StateMap;
  ticket?: TicketRef;
  /** What the resume said (or will say). */
  resume?: { state?: 'denied'; detail: string };
  /** Why the item ended the way it did (failed, closed, expired). */
  reason?: string;
  /** Ticket version whose cancel / late close was already audited (so each is recorded once). */
  noted?: string;
  /**
   * Records that closed or canceled before the open-ticket effect recorded ours: which one is ours is
   * not known yet, so nothing is decided; once it is, ours is read again (`refresh-ticket`).
   */
  seenEarly?: Pick<TicketRef, 'system' | 'kind' | 'id' | 'key'>[];
}

/** Built by the route from a validated callout and its integration's config (templates rendered there). */
export interface CalloutEvent {
  type: 'callout';
  integration: string;
  stage: CalloutStage;
  requestId?: string;
  callbackUriPath?: string;
  opensTicket: boolean;
  table: string;
  ticket: { fields: Record<string, string>; correlationDisplay: string };
  timeoutMs: number;
  onTimeout: 'annotate' | 'resolve';
  resumeSource: string;
  states: StateMap;
  via: 'entra' | 'logic-app';
}

export type EntitlementEvent =
  | CalloutEvent
  | { type: 'ticket_opened'; ticket: TicketRef; created: boolean }
  | TicketChangedEvent
  | { type: 'timeout' }
  | { type: 'resumed' }
  | { type: 'resume_refused'; reason: string };

/** Stages at which a resume may deny the request (§2.5: the docs allow created and approved). */
export const DENIABLE: readonly string[] = ['assignmentRequestCreated', 'assignmentRequestApproved'];

function resumeEffect(s: EntitlementState, detail: string, state?: 'denied'): Effect {
  return {
    kind: 'resume',
    key: 'resume', // one resume per stage instance, ever
    priority: 'urgent', // the requester waits on it; it must not queue behind new callouts
    payload: {
      integration: s.integration,
      requestId: s.requestId,
      stage: s.stage,
      callbackUriPath: s.callbackUriPath,
      source: s.resumeSource,
      detail,
      ...(state ? { state } : {}),
    },
  };
}

/** "RITM0010001 closed complete by david.miller: Access granted in SAP." — shown to approvers and requestors. */
export function closeDetail(t: Ticket): string {
  return `${t.ref.key} ${t.state ? t.state.replace(/_/g, ' ') : t.status} by ${t.closedBy || 'unknown'}${t.closeNotes ? `: ${t.closeNotes}` : ''}`.slice(
    0,
    1000,
  );
}

function onCallout(s: EntitlementState | undefined, e: CalloutEvent, now: number): Decision<EntitlementState> {
  if (s) return { state: s, audit: { action: 'callout-redelivered', detail: { status: s.status, via: e.via } } };
  const state: EntitlementState = {
    status: 'received',
    integration: e.integration,
    stage: e.stage,
    ...(e.requestId ? { requestId: e.requestId } : {}),
    ...(e.callbackUriPath ? { callbackUriPath: e.callbackUriPath } : {}),
    table: e.table,
    opensTicket: e.opensTicket,
    receivedAt: now,
    onTimeout: e.onTimeout,
    resumeSource: e.resumeSource,
    states: e.states,
  };
  const detail = { stage: e.stage, requestId: e.requestId, via: e.via };
  if (!e.opensTicket) {
    if (!e.callbackUriPath)
      return {
        state: { ...state, status: 'closed', reason: 'stage opens no ticket and waits for nothing' },
        audit: { action: 'callout-ignored', detail },
      };
    const resume = { detail: `No ticket is required at this stage (${e.stage}); continued by ${e.resumeSource}.` };
    return {
      state: { ...state, status: 'resuming', resume },
      effects: [resumeEffect(state, resume.detail)],
      audit: { action: 'callout-passed-through', detail },
    };
  }
  const effects: Effect[] = [
    { kind: 'open-ticket', key: 'open-ticket', payload: { integration: e.integration, table: e.table, ...e.ticket } },
  ];
  if (e.callbackUriPath) {
    // Durable timer at Entra's own deadline: after it no resume can succeed.
    state.deadline = now + e.timeoutMs;
    effects.push({ kind: 'timeout', key: 'timeout', runAt: state.deadline, maxAttempts: 20 });
  }
  return {
    state,
    effects,
    audit: {
      action: 'callout-accepted',
      detail: { ...detail, deadline: state.deadline && new Date(state.deadline).toISOString() },
    },
  };
}

/** At most this many unverified early records are remembered (an attacker could make more). */
const MAX_SEEN_EARLY = 5;

function onTicketChanged(s: EntitlementState, e: TicketChangedEvent): Decision<EntitlementState> | null {
  const t = e.ticket;
  const version = `${t.status}:${t.version}`;
  const base = {
    ticket: t.ref.key,
    ticketStatus: t.status,
    ...(t.state ? { ticketState: t.state } : {}),
    source: e.source,
  };
  if (!s.ticket && s.opensTicket) {
    // Ours is still being opened; a change cannot say which record that is, so it decides nothing.
    const seen = s.seenEarly ?? [];
    if (t.status === 'open' || seen.some((x) => sameTicket(x, t.ref)) || seen.length >= MAX_SEEN_EARLY) return null;
    const { system, kind, id, key } = t.ref;
    return {
      state: { ...s, seenEarly: [...seen, { system, kind, id, key }] },
      audit: { action: 'ticket-change-before-recorded', detail: { ...base, id } },
    };
  }
  if (!s.ticket || !sameTicket(s.ticket, t.ref)) {
    return {
      state: s,
      audit: {
        action: 'foreign-ticket-ignored',
        detail: { ...base, system: t.ref.system, kind: t.ref.kind, id: t.ref.id, ours: s.ticket?.key ?? null },
      },
    };
  }
  if (s.status === 'received' || s.status === 'ticket_open') {
    const open: EntitlementState = { ...s, status: 'ticket_open' };
    const action = actionFor(t, s.states);
    if (action === 'resume') {
      const detail = closeDetail(t);
      if (!s.callbackUriPath)
        return {
          state: { ...open, status: 'closed', reason: 'launch-and-continue stage: nothing to resume' },
          audit: { action: 'ticket-closed', detail: base },
        };
      return {
        state: { ...open, status: 'resuming', resume: { detail } },
        effects: [resumeEffect(s, detail)],
        audit: { action: 'ticket-closed-resuming', detail: { ...base, resumeDetail: detail } },
      };
    }
    if (action === 'deny') {
      const detail = closeDetail(t);
      if (s.callbackUriPath && DENIABLE.includes(s.stage)) {
        return {
          state: { ...open, status: 'resuming', resume: { state: 'denied', detail } },
          effects: [resumeEffect(s, detail, 'denied')],
          audit: { action: 'ticket-canceled-denying', detail: { ...base, resumeDetail: detail } },
        };
      }
      if (s.noted === version) return null;
      const reason = s.callbackUriPath
        ? `a request cannot be denied at stage ${s.stage}; no resume sent. Reopen and close the ticket to continue the request, or Entra fails it at its timeout`
        : 'launch-and-continue stage: nothing to resume';
      return {
        state: { ...open, noted: version },
        audit: { action: 'ticket-canceled-not-resumed', detail: { ...base, reason } },
      };
    }
    if (t.status === 'open' || s.noted === version) return null;
    // Closed in a state the configuration maps to "wait": say so once, keep waiting.
    return {
      state: { ...open, noted: version },
      audit: {
        action: 'ticket-closed-waiting',
        detail: { ...base, reason: `states maps '${t.state}' to wait; no resume sent` },
      },
    };
  }
  if (s.status === 'expired' && t.status !== 'open' && s.noted !== version) {
    const reason = `Entra stopped waiting at ${s.deadline ? new Date(s.deadline).toISOString() : 'its timeout'} (the stage expired); a resume can no longer succeed, so none was sent`;
    return {
      state: { ...s, noted: version },
      audit: { action: 'ticket-closed-after-expiry-not-resumed', detail: { ...base, reason } },
    };
  }
  return null;
}

export const entitlementFlow: Flow<EntitlementState, EntitlementEvent> = {
  name: FLOW,
  decide(s, e, now) {
    if (e.type === 'callout') return onCallout(s, e, now);
    if (!s) return null; // an event for an item we never accepted (e.g. a stray ticket change)
    switch (e.type) {
      case 'ticket_opened': {
        if (s.ticket) return null;
        const status = s.status === 'received' ? 'ticket_open' : s.status;
        const early = s.seenEarly ?? [];
        const foreign = early.filter((x) => !sameTicket(x, e.ticket)).map((x) => x.key || x.id);
        const detail = {
          ticket: e.ticket.key,
          table: e.ticket.kind,
          link: e.ticket.link,
          ...(foreign.length ? { foreignTicketsIgnored: foreign } : {}),
        };
        const { seenEarly: _seen, ...rest } = s;
        return {
          state: { ...rest, status, ticket: e.ticket },
          // A close seen before this may have been ours: read ours once, now that it is known.
          effects: early.length
            ? [
                {
                  kind: 'refresh-ticket',
                  key: 'refresh-ticket',
                  payload: { integration: s.integration, ticket: e.ticket },
                },
              ]
            : undefined,
          audit: { action: e.created ? 'ticket-opened' : 'ticket-found', detail },
        };
      }
      case 'ticket_changed':
        return onTicketChanged(s, e);
      case 'timeout': {
        if (s.status !== 'received' && s.status !== 'ticket_open') return null;
        const reason = `the custom extension's timeout passed at ${new Date(s.deadline ?? now).toISOString()} with the ticket still open; Entra fails the stage ("Process expired")`;
        return {
          state: { ...s, status: 'expired', reason },
          effects: [
            {
              kind: 'expire-ticket',
              key: 'expire-ticket',
              payload: {
                integration: s.integration,
                table: s.table,
                onTimeout: s.onTimeout,
                deadline: s.deadline ?? now,
                requestId: s.requestId,
                stage: s.stage,
                ...(s.ticket ? { ticket: s.ticket } : {}),
              },
            },
          ],
          audit: { action: 'expired', detail: { reason, ticket: s.ticket?.key, onTimeout: s.onTimeout } },
        };
      }
      case 'resumed': {
        if (s.status !== 'resuming') return null;
        const status = s.resume?.state === 'denied' ? 'denied' : 'resumed';
        return {
          state: { ...s, status },
          audit: { action: status, detail: { requestId: s.requestId, stage: s.stage, resumeDetail: s.resume?.detail } },
        };
      }
      case 'resume_refused': {
        if (s.status !== 'resuming') return null;
        return {
          state: { ...s, status: 'failed', reason: e.reason },
          audit: {
            action: 'resume-refused',
            detail: { reason: e.reason, note: 'Graph says the request is no longer waiting; not retried' },
          },
        };
      }
    }
    return null;
  },
};
