import { DAY_MS } from '../../engine/clock.ts';
import type { Effect } from '../../engine/flow.ts';
import type { ItemState, ItemStatus } from './flow.ts';

/**
 * Steps the Defender flow takes from more than one place (the automatic decisions in flow.ts and a
 * manual assignment's edit and delete in manual-decide.ts): pure, like the flow.
 */

const WEEK = 7 * DAY_MS;

/** Still someone's work: reminders, overdue and the query API's "open" all mean these. */
export const ACTIVE: ItemStatus[] = ['open', 'ticket_open', 'closed_unhealthy'];

/** The next reminder strictly after `after`: the pre-due one, or the next weekly one. */
export function nextReminder(s: Pick<ItemState, 'policy' | 'dueAt' | 'openedAt'>, after: number): number | undefined {
  if (!s.policy.remind) return undefined;
  const candidates: number[] = [];
  if (s.policy.daysBefore > 0) {
    const pre = s.dueAt - s.policy.daysBefore * DAY_MS;
    if (pre > after) candidates.push(pre);
  }
  if (s.policy.weekly) candidates.push(s.openedAt + (Math.floor(Math.max(0, after - s.openedAt) / WEEK) + 1) * WEEK);
  return candidates.length ? Math.min(...candidates) : undefined;
}

/**
 * A governance sweep: writes the assignment of every member not yet carrying the ticket, or of every
 * member (`all`) when what the assignment says changed (an edit of its owner, dates or e-mails).
 */
export function startSweep(s: ItemState, all = false): { state: ItemState; effects: Effect[] } {
  const sweeps = s.sweeps + 1;
  return {
    state: { ...s, sweeps, sweeping: true, sweepAgain: false, sweepAll: false },
    effects: [
      {
        kind: 'govern',
        key: `govern:${s.gen}:${sweeps}`,
        payload: { gen: s.gen, sweep: sweeps, ...(all ? { all: true } : {}) },
      },
    ],
  };
}

/** The reminder after `now`; its key is the next number, so a chain already waiting for it is not doubled. */
export function firstReminder(s: ItemState, now: number): Effect[] {
  const at = nextReminder(s, now);
  const n = s.reminders + 1;
  return at === undefined
    ? []
    : [{ kind: 'remind', key: `remind:${s.gen}:${n}`, runAt: at, payload: { gen: s.gen, n, at } }];
}
