import { DAY_MS } from '../../engine/clock.ts';
import type { Decision, Effect, Flow } from '../../engine/flow.ts';
import { sameTicket, type TicketRef, type TicketStatus } from '../../itsm/port.ts';
import { parseCorrelationKey, type TicketChangedEvent } from '../../itsm/watch.ts';
import type { Severity } from './config.ts';
import { ACTIVE, firstReminder, nextReminder, startSweep } from './flow-steps.ts';
import { onManualDeleted, onManualEdited, onSweepEndedAfterDelete, type ManualEdit } from './manual-decide.ts';

export { ACTIVE, nextReminder } from './flow-steps.ts';

/**
 * The Defender flow, pure: one item per ticket-to-be — a recommendation (all its unhealthy
 * resources) or one resource's recommendation, by the integration's grouping. Reconcile feeds it
 * member counts; it decides when to open, resolve, reopen or re-ticket, when the due date passes
 * and when to remind. No I/O and no clock but `now`.
 *
 *   open ──ticket_opened──► ticket_open ──members→0──► resolving ──ticket_resolved──► resolved
 *     closed by someone while unhealthy: reopen (a Resolved ticket; a Closed one is final, so a
 *     new ticket) | new ticket (next generation) | comment
 *     a member unhealthy again after resolve: the next generation, a new ticket
 *   only the ticket `open` recorded counts: another record with the item's correlation key is
 *   audited `foreign-ticket-ignored` and changes nothing
 *   a manual assignment (manual-decide.ts): edited in any live state (owner, caller, due date,
 *   grace, e-mails: ticket and governance rewritten); deleted ──manual_deleted──► deleted
 */

export const FLOW = 'defender';

/** The item's ticket as last seen. */
export interface TicketInfo extends TicketRef {
  status: TicketStatus;
}

export interface Policy {
  closedWhileUnhealthy: 'reopen' | 'new_ticket' | 'comment';
  /** Reminders go out at all (owner or manager switched on). */
  remind: boolean;
  daysBefore: number;
  weekly: boolean;
}

/**
 * A person's "Create assignment" (manual.ts): its own item with the owner, ticket type, caller,
 * due date and notification switches chosen for it. Reconcile never overrides them.
 */
export interface ManualSettings {
  /** The assignment's id (part of the item id). */
  id: string;
  ticketType: 'incident' | 'change_request' | 'problem';
  caller?: string;
  notifyOwner: boolean;
  notifyManager: boolean;
  createdBy: string;
}

/** What reconcile knows about the item, sent with every member change. */
export interface ItemInfo {
  integration: string;
  assessmentKey: string;
  resourceId?: string;
  title: string;
  severity: Severity;
  timeframeDays: number;
  grace: boolean;
  owner?: string;
  policy: Policy;
  /** Set only by a manual assignment's first event. */
  manual?: ManualSettings;
}

export type ItemStatus = 'open' | 'ticket_open' | 'resolving' | 'resolved' | 'closed_unhealthy' | 'deleted';

export interface ItemState extends Omit<ItemInfo, 'timeframeDays'> {
  status: ItemStatus;
  /** Unhealthy resources in this item. */
  members: number;
  /** Ticket generation: a new ticket (policy or regression) is the next generation. */
  gen: number;
  ticket?: TicketInfo;
  openedAt: number;
  dueAt: number;
  overdue: boolean;
  /** Counters that keep repeatable effect keys unique. */
  sweeps: number;
  /** A governance sweep is running; members added meanwhile ask for one more when it ends. */
  sweeping?: boolean;
  sweepAgain?: boolean;
  /** The next sweep rewrites every member's assignment (an edit changed what they say). */
  sweepAll?: boolean;
  reopens: number;
  /** Edits of a manual assignment (keeps their effect keys unique). */
  edits?: number;
  /** Deleted while a sweep ran: the clean-up starts when it ends. */
  unassignAfterSweep?: boolean;
  reminders: number;
}

export type DefenderEvent =
  /** From reconcile: members attached/healed on this page, and the item's member count after it. */
  | { type: 'members'; added: number; removed: number; members: number; info: ItemInfo }
  | { type: 'ticket_opened'; gen: number; ticket: TicketInfo }
  | { type: 'ticket_resolved'; gen: number; ticket: TicketInfo }
  | TicketChangedEvent
  | { type: 'due'; gen: number }
  | { type: 'reminded'; gen: number; n: number; at: number }
  | { type: 'governed'; gen: number; sweep: number }
  | { type: 'integration_deleted' }
  /** A person edits or deletes a manual assignment (manual-edit.ts). */
  | { type: 'manual_edited'; edit: ManualEdit; by: string }
  | { type: 'manual_deleted'; by: string };

/** Ticket generation 1 carries `tl:defender:<item>`, later ones `…/<gen>` (routed back by itemOf). */
export function ticketCorrelationItem(item: string, gen: number): string {
  return gen <= 1 ? item : `${item}/${gen}`;
}

export function itemOf(correlationItem: string): string {
  return correlationItem.replace(/\/\d+$/, '');
}

/** The ticket generation a correlation key names (1 without a `/<gen>` suffix). */
export function generationOf(correlation: string): number {
  const m = /\/(\d+)$/.exec(parseCorrelationKey(correlation)?.id ?? '');
  return m ? Number(m[1]) : 1;
}

function newGeneration(
  s: ItemState,
  now: number,
  keepDue: boolean,
  timeframeDays?: number,
): { state: ItemState; effects: Effect[] } {
  const gen = s.gen + 1;
  const dueAt = keepDue ? s.dueAt : now + (timeframeDays ?? 30) * DAY_MS;
  const state: ItemState = {
    ...s,
    gen,
    status: 'open',
    ticket: undefined,
    openedAt: now,
    dueAt,
    overdue: keepDue ? s.overdue : false,
    reminders: 0,
  };
  const effects: Effect[] = [{ kind: 'open', key: `open:${gen}`, payload: { gen } }];
  if (!state.overdue) effects.push({ kind: 'due', key: `due:${gen}`, runAt: dueAt, payload: { gen } });
  return { state, effects };
}

function onMembers(
  s: ItemState | undefined,
  e: Extract<DefenderEvent, { type: 'members' }>,
  now: number,
): Decision<ItemState> | null {
  const { timeframeDays, ...info } = e.info;
  if (!s) {
    if (e.added <= 0 || e.members <= 0) return null;
    const dueAt = now + timeframeDays * DAY_MS;
    const state: ItemState = {
      ...info,
      status: 'open',
      members: e.members,
      gen: 1,
      openedAt: now,
      dueAt,
      overdue: false,
      sweeps: 0,
      reopens: 0,
      reminders: 0,
    };
    return {
      state,
      effects: [
        { kind: 'open', key: 'open:1', payload: { gen: 1 } },
        { kind: 'due', key: 'due:1', runAt: dueAt, payload: { gen: 1 } },
      ],
      audit: {
        action: info.manual ? 'assigned' : 'opened',
        detail: {
          members: state.members,
          severity: info.severity,
          dueAt: new Date(dueAt).toISOString(),
          ...(info.manual ? { owner: info.owner, ticketType: info.manual.ticketType, by: info.manual.createdBy } : {}),
        },
      },
    };
  }
  // A deleted integration's item comes back only if an integration of the same name is created again.
  if (s.status === 'deleted' && e.added <= 0) return null;
  const members = e.members;
  // A manual assignment keeps the owner, dates and settings it was made with; a pass only counts members.
  const base: ItemState = s.manual ? { ...s, members } : { ...s, ...info, members };
  const detail = { added: e.added, removed: e.removed, members };

  if ((s.status === 'resolving' || s.status === 'resolved' || s.status === 'deleted') && e.added > 0 && members > 0) {
    const next = newGeneration(base, now, !!s.manual, timeframeDays);
    return { ...next, audit: { action: 'unhealthy_again', detail: { ...detail, gen: next.state.gen } } };
  }
  if (members === 0 && ACTIVE.includes(s.status)) {
    if (s.status === 'ticket_open') {
      return {
        state: { ...base, status: 'resolving' },
        effects: [{ kind: 'resolve', key: `resolve:${s.gen}`, payload: { gen: s.gen } }],
        audit: { action: 'healthy', detail },
      };
    }
    // No ticket yet: resolve once it exists. A ticket closed by hand (comment policy): nothing to close.
    return {
      state: { ...base, status: s.status === 'open' ? 'resolving' : 'resolved' },
      audit: { action: 'healthy', detail },
    };
  }
  if (e.added > 0 && s.status === 'ticket_open') {
    // One sweep at a time per item: concurrent sweeps would write the same assignments twice.
    if (s.sweeping) return { state: { ...base, sweepAgain: true }, audit: { action: 'members', detail } };
    const next = startSweep(base);
    return { ...next, audit: { action: 'members', detail } };
  }
  if (e.added === 0 && e.removed === 0 && members === s.members) return null;
  return { state: base, audit: { action: 'members', detail } };
}

function onTicketChanged(s: ItemState, e: TicketChangedEvent, now: number): Decision<ItemState> | null {
  if (!s.ticket) return null; // the open effect records the ticket (and its status) when it is ours
  if (!sameTicket(s.ticket, e.ticket.ref)) {
    // An earlier generation's ticket, replaced by ours: its news no longer matter.
    if (generationOf(e.ticket.correlation) < s.gen) return null;
    const { system, kind, id, key } = e.ticket.ref;
    return {
      state: s,
      audit: {
        action: 'foreign-ticket-ignored',
        detail: { ticket: key, system, kind, id, status: e.ticket.status, source: e.source, ours: s.ticket.key },
      },
    };
  }
  if (e.ticket.status === s.ticket.status) return null;
  const ticket: TicketInfo = { ...s.ticket, status: e.ticket.status };
  const base: ItemState = { ...s, ticket };
  const detail = { ticket: ticket.key, status: ticket.status, source: e.source };
  if (s.status === 'ticket_open' && ticket.status !== 'open' && s.members > 0) {
    const policy = s.policy.closedWhileUnhealthy;
    // A Closed (or Canceled) record is final in ServiceNow — only Resolved ones can be reopened —
    // so "reopen" falls back to a new ticket there.
    if (policy === 'reopen' && ticket.status === 'resolved') {
      const reopens = s.reopens + 1;
      return {
        state: { ...base, reopens },
        effects: [{ kind: 'reopen', key: `reopen:${s.gen}:${reopens}`, payload: { gen: s.gen } }],
        audit: { action: 'closed_while_unhealthy', detail: { ...detail, policy } },
      };
    }
    if (policy !== 'comment') {
      const next = newGeneration(base, now, true);
      return {
        ...next,
        audit: {
          action: 'closed_while_unhealthy',
          detail: { ...detail, policy, outcome: 'new_ticket', gen: next.state.gen },
        },
      };
    }
    return {
      state: { ...base, status: 'closed_unhealthy' },
      effects: [{ kind: 'comment', key: `comment:${s.gen}`, payload: { gen: s.gen } }],
      audit: { action: 'closed_while_unhealthy', detail: { ...detail, policy } },
    };
  }
  if (s.status === 'closed_unhealthy' && ticket.status === 'open')
    return { state: { ...base, status: 'ticket_open' }, audit: { action: 'ticket_reopened', detail } };
  return { state: base, audit: { action: 'ticket_changed', detail } };
}

export const defenderFlow: Flow<ItemState, DefenderEvent> = {
  name: FLOW,
  decide(s, e, now) {
    if (e.type === 'members') return onMembers(s, e, now);
    if (s?.status === 'deleted' && e.type === 'governed') return onSweepEndedAfterDelete(s, e);
    if (!s || s.status === 'deleted') return null;
    switch (e.type) {
      case 'ticket_opened': {
        if (e.gen !== s.gen || s.ticket) return null;
        const state: ItemState = { ...s, ticket: e.ticket };
        const detail = { ticket: e.ticket.key, gen: e.gen };
        if (s.status === 'resolving') {
          return {
            state,
            effects: [{ kind: 'resolve', key: `resolve:${s.gen}`, payload: { gen: s.gen } }],
            audit: { action: 'ticket_opened', detail },
          };
        }
        if (s.status !== 'open') return { state, audit: { action: 'ticket_opened', detail } };
        const open = startSweep({ ...state, status: 'ticket_open' });
        return {
          state: open.state,
          effects: [...open.effects, ...firstReminder(open.state, now)],
          audit: { action: 'ticket_opened', detail },
        };
      }
      case 'ticket_resolved':
        if (e.gen !== s.gen || s.status !== 'resolving') return null;
        return {
          state: { ...s, status: 'resolved', ticket: e.ticket },
          audit: { action: 'resolved', detail: { ticket: e.ticket.key } },
        };
      case 'ticket_changed':
        return onTicketChanged(s, e, now);
      case 'due':
        if (e.gen !== s.gen || s.overdue || !ACTIVE.includes(s.status) || now < s.dueAt) return null;
        return {
          state: { ...s, overdue: true },
          effects: s.ticket
            ? [{ kind: 'note', key: `overdue:${s.gen}`, payload: { gen: s.gen, what: 'overdue' } }]
            : [],
          audit: { action: 'overdue', detail: { dueAt: new Date(s.dueAt).toISOString() } },
        };
      case 'governed': {
        if (e.gen !== s.gen || e.sweep !== s.sweeps || !s.sweeping) return null;
        if (s.sweepAgain && s.status === 'ticket_open') {
          const next = startSweep(s, s.sweepAll);
          return { ...next, audit: { action: 'governed', detail: { again: true } } };
        }
        return { state: { ...s, sweeping: false, sweepAgain: false }, audit: { action: 'governed' } };
      }
      case 'reminded': {
        if (e.gen !== s.gen || !ACTIVE.includes(s.status) || e.n <= s.reminders) return null;
        const state: ItemState = { ...s, reminders: e.n };
        const at = nextReminder(state, e.at);
        const effects: Effect[] =
          at === undefined
            ? []
            : [
                {
                  kind: 'remind',
                  key: `remind:${s.gen}:${e.n + 1}`,
                  runAt: at,
                  payload: { gen: s.gen, n: e.n + 1, at },
                },
              ];
        return { state, effects, audit: { action: 'reminded', detail: { n: e.n } } };
      }
      case 'manual_edited':
        return onManualEdited(s, e, now);
      case 'manual_deleted':
        return onManualDeleted(s, e);
      case 'integration_deleted':
        return {
          state: { ...s, status: 'deleted' },
          effects:
            s.ticket && s.ticket.status === 'open'
              ? [{ kind: 'note', key: `deleted:${s.gen}`, payload: { gen: s.gen, what: 'deleted' } }]
              : [],
          audit: { action: 'integration_deleted' },
        };
    }
    return null;
  },
};
