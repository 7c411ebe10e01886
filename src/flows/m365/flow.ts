import type { Decision, Effect, Flow } from '../../engine/flow.ts';
import { sameTicket, type Ticket, type TicketRef } from '../../itsm/port.ts';
import type { TicketChangedEvent, TicketDeletedEvent } from '../../itsm/watch.ts';

/**
 * One ITSM incident per Microsoft 365 service-health issue — pure: (state, event, now) → (state, effects, audit).
 *
 *   issue seen, not resolved ──► opening ──ticket opened──► open ──Microsoft resolved──► resolving ──► resolved
 *   (first seen resolved: no item)                           │                              │
 *                                 a person changed it ───────┴──► handed_off ◄──────────────┘ (resolve refused)
 *
 * In every state with a ticket, each new post becomes one work note, one at a time and in order (the
 * next is queued when the last is written; its effect key is the post's time, so it is queued once,
 * ever). Hand-off: a change by anyone but the account Ticketloop writes as (`Ticket.updatedBy`), or a
 * state Ticketloop did not set, means a person owns the ticket: from then on Ticketloop only adds work
 * notes — never resolves, reopens or edits it — and stops once the ticket is closed or canceled.
 *
 * An item is `<integration>:<issue id>`; its ticket's correlation key is `tl:m365:<integration>:<issue id>`.
 */

export const FLOW = 'm365';

export type IncidentStatus = 'opening' | 'open' | 'resolving' | 'resolved' | 'handed_off';

export interface HealthIncidentState {
  status: IncidentStatus;
  integration: string;
  issueId: string;
  /** The ticket kind (ServiceNow: the table). */
  kind: string;
  resolveWhenResolved: boolean;
  ticket?: TicketRef;
  /** Who Ticketloop's writes are made by, as the opened ticket said (`updatedBy`). */
  account?: string;
  /** createdDateTime of every post seen, oldest first. */
  posts: string[];
  /** The newest post already on the ticket: in its description when it was opened, or as a work note. */
  notedThrough?: string;
  /** The post whose work note is queued now. */
  noting?: string;
  /** Microsoft says the issue is resolved (isResolved). */
  microsoftResolved: boolean;
  /** The note saying Microsoft resolved it, when Ticketloop does not resolve the ticket itself, is queued. */
  resolvedNoted?: boolean;
  /** Closed, canceled or deleted in the ITSM: nothing more is written. */
  ticketDone?: boolean;
  handedOff?: { by: string; at: string; why: string };
}

/** What the health sync saw of an issue (new, changed, or open without an incident yet). */
export interface IssueSeenEvent {
  type: 'issue_seen';
  integration: string;
  issueId: string;
  kind: string;
  resolveWhenResolved: boolean;
  isResolved: boolean;
  /** createdDateTime of each post, any order. */
  posts: string[];
}

export type HealthIncidentEvent =
  | IssueSeenEvent
  | { type: 'ticket_opened'; ticket: Ticket; created: boolean; describedThrough?: string }
  | { type: 'note_written'; post: string; written: boolean }
  | { type: 'ticket_resolved'; ticket: Ticket }
  | { type: 'resolve_refused'; ticket?: Ticket }
  | TicketChangedEvent
  | TicketDeletedEvent;

export const itemId = (integration: string, issueId: string) => `${integration}:${issueId}`;

const byTime = (a: string, b: string) => Date.parse(a) - Date.parse(b) || a.localeCompare(b);

/** The next write the item is due, if none is under way: a post's note, then the resolution (or its note). */
function nextEffects(s: HealthIncidentState): { state: HealthIncidentState; effects: Effect[] } {
  if (!s.ticket || s.ticketDone || s.noting || s.status === 'resolving') return { state: s, effects: [] };
  const ticket = s.ticket;
  const base = { integration: s.integration, issueId: s.issueId, ticket };
  const post = s.posts.find((p) => !s.notedThrough || byTime(p, s.notedThrough) > 0);
  if (post)
    return {
      state: { ...s, noting: post },
      effects: [{ kind: 'incident-note', key: `note:${post}`, payload: { ...base, post } }],
    };
  if (!s.microsoftResolved || s.status === 'resolved') return { state: s, effects: [] };
  if (s.status === 'open' && s.resolveWhenResolved)
    return {
      state: { ...s, status: 'resolving' },
      effects: [{ kind: 'incident-resolve', key: 'resolve', payload: { ...base, account: s.account } }],
    };
  if (s.resolvedNoted) return { state: s, effects: [] };
  const why = s.handedOff
    ? `${s.handedOff.by} changed it at ${s.handedOff.at}`
    : 'the integration does not resolve incidents (incidents.resolveWhenResolved: false)';
  return {
    state: { ...s, resolvedNoted: true },
    effects: [{ kind: 'incident-note', key: 'microsoft-resolved', payload: { ...base, resolvedNote: why } }],
  };
}

function decided(
  s: HealthIncidentState,
  action: string,
  detail: Record<string, unknown> = {},
): Decision<HealthIncidentState> {
  const next = nextEffects(s);
  return { state: next.state, effects: next.effects, audit: { action, detail: { issue: s.issueId, ...detail } } };
}

function onIssueSeen(s: HealthIncidentState | undefined, e: IssueSeenEvent): Decision<HealthIncidentState> | null {
  const posts = [...new Set([...(s?.posts ?? []), ...e.posts])].sort(byTime);
  if (!s) {
    // Only issues still open when first seen get an incident: a resolved one needs nobody's work.
    if (e.isResolved) return null;
    const state: HealthIncidentState = {
      status: 'opening',
      integration: e.integration,
      issueId: e.issueId,
      kind: e.kind,
      resolveWhenResolved: e.resolveWhenResolved,
      posts,
      microsoftResolved: false,
    };
    return {
      state,
      effects: [
        {
          kind: 'incident-open',
          key: 'open',
          payload: { integration: e.integration, issueId: e.issueId, kind: e.kind },
        },
      ],
      audit: { action: 'incident-opening', detail: { issue: e.issueId, kind: e.kind } },
    };
  }
  const resolvedNow = e.isResolved && !s.microsoftResolved;
  if (posts.length === s.posts.length && e.isResolved === s.microsoftResolved) return null;
  // Microsoft may reopen an issue; Ticketloop never reopens a ticket, it only keeps noting posts.
  const state = { ...s, posts, microsoftResolved: e.isResolved };
  return decided(state, resolvedNow ? 'issue-resolved-by-microsoft' : 'issue-updated', {
    posts: posts.length,
    isResolved: e.isResolved,
  });
}

/** Whether a person (not Ticketloop) made this version of our ticket. */
function personChanged(s: HealthIncidentState, t: Ticket): boolean {
  if (t.updatedBy && s.account) return t.updatedBy !== s.account;
  // Without names, a state Ticketloop did not set is a person's doing.
  const ours = s.status === 'resolved' || s.status === 'resolving' ? ['resolved', 'open'] : ['open'];
  return !ours.includes(t.status);
}

function onTicketSeen(s: HealthIncidentState, t: Ticket, source: string): Decision<HealthIncidentState> | null {
  const done = t.status === 'closed' || t.status === 'canceled';
  if (s.status === 'handed_off') {
    if (done === !!s.ticketDone) return null;
    return decided({ ...s, ticketDone: done }, done ? 'ticket-closed' : 'ticket-reopened', { ticket: t.ref.key });
  }
  if (!personChanged(s, t)) return null;
  const handedOff = {
    by: t.updatedBy ?? t.closedBy ?? 'someone in the ITSM',
    at: t.updatedAt,
    why: `${t.status}${t.state ? ` (${t.state})` : ''}`,
  };
  return decided({ ...s, status: 'handed_off', handedOff, ticketDone: done }, 'handed-off', {
    ticket: t.ref.key,
    by: handedOff.by,
    ticketStatus: t.status,
    source,
  });
}

export const m365Flow: Flow<HealthIncidentState, HealthIncidentEvent> = {
  name: FLOW,
  decide(s, e) {
    if (e.type === 'issue_seen') return onIssueSeen(s, e);
    if (!s) return null; // a ticket change for an item never started (a stray correlation key)
    switch (e.type) {
      case 'ticket_opened': {
        if (s.ticket) return null;
        const { posts } = s;
        const described = e.describedThrough ?? posts[posts.length - 1];
        const opened: HealthIncidentState = {
          ...s,
          status: 'open',
          ticket: e.ticket.ref,
          ...(e.ticket.updatedBy ? { account: e.ticket.updatedBy } : {}),
          ...(described ? { notedThrough: described } : {}),
        };
        // A ticket found (a retried open) may already carry a person's change.
        const seen = e.created ? null : onTicketSeen(opened, e.ticket, 'open');
        if (seen) return seen;
        return decided(opened, e.created ? 'incident-opened' : 'incident-found', {
          ticket: e.ticket.ref.key,
          link: e.ticket.ref.link,
        });
      }
      case 'note_written': {
        if (s.noting !== e.post) return null;
        const notedThrough = !s.notedThrough || byTime(e.post, s.notedThrough) > 0 ? e.post : s.notedThrough;
        const { noting: _n, ...rest } = s;
        return decided({ ...rest, notedThrough }, e.written ? 'post-noted' : 'post-not-noted', { post: e.post });
      }
      case 'ticket_resolved': {
        if (s.status !== 'resolving') return null;
        return decided({ ...s, status: 'resolved' }, 'incident-resolved', { ticket: e.ticket.ref.key });
      }
      case 'resolve_refused': {
        if (s.status !== 'resolving') return null;
        // The ticket is no longer as Ticketloop left it (a person changed it, or it is gone): theirs now.
        const t = e.ticket;
        const handedOff = {
          by: t?.updatedBy ?? t?.closedBy ?? 'someone in the ITSM',
          at: t?.updatedAt ?? '',
          why: t ? t.status : 'deleted',
        };
        const done = !t || t.status === 'closed' || t.status === 'canceled';
        return decided({ ...s, status: 'handed_off', handedOff, ticketDone: done }, 'handed-off', {
          ticket: s.ticket?.key,
          by: handedOff.by,
          ticketStatus: handedOff.why,
          source: 'resolve',
        });
      }
      case 'ticket_changed': {
        if (!s.ticket || !sameTicket(s.ticket, e.ticket.ref)) return null;
        return onTicketSeen(s, e.ticket, e.source);
      }
      case 'ticket_deleted': {
        if (!s.ticket || !sameTicket(s.ticket, e.ref) || s.ticketDone) return null;
        return {
          state: { ...s, status: 'handed_off', ticketDone: true },
          audit: { action: 'ticket-deleted', detail: { issue: s.issueId, ticket: e.ref.key } },
        };
      }
    }
    return null;
  },
};
