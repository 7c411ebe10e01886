import type { Decision, Effect } from '../../engine/flow.ts';
import type { DefenderEvent, ItemState } from './flow.ts';
import { ACTIVE, firstReminder, startSweep } from './flow-steps.ts';

/**
 * A person's edit or delete of a manual assignment, decided as purely as the rest of the flow:
 * the new settings go into the item, and the effects carry them to the ticket (its people and a work
 * note), to every member's governance assignment, and to the due-date and reminder timers. The same
 * edit twice changes nothing the second time.
 */

/** What an edit sets; absent fields stay as they are. */
export interface ManualEdit {
  owner?: string;
  caller?: string;
  dueAt?: number;
  grace?: boolean;
  notifyOwner?: boolean;
  notifyManager?: boolean;
}

/** The fields an edit changed, for the audit, the ticket's work note and the effects. */
export type EditedField = keyof ManualEdit;

function applyEdit(s: ItemState, edit: ManualEdit): { state: ItemState; changed: EditedField[] } {
  const m = s.manual!;
  const now = {
    owner: s.owner,
    caller: m.caller,
    dueAt: s.dueAt,
    grace: s.grace,
    notifyOwner: m.notifyOwner,
    notifyManager: m.notifyManager,
  };
  const changed = (Object.keys(edit) as EditedField[]).filter((k) => edit[k] !== undefined && edit[k] !== now[k]);
  const next = { ...now, ...Object.fromEntries(changed.map((k) => [k, edit[k]])) };
  const state: ItemState = {
    ...s,
    owner: next.owner,
    dueAt: next.dueAt,
    grace: next.grace,
    manual: {
      ...m,
      ...(next.caller ? { caller: next.caller } : {}),
      notifyOwner: next.notifyOwner,
      notifyManager: next.notifyManager,
    },
    policy: { ...s.policy, remind: next.notifyOwner || next.notifyManager },
  };
  return { state, changed };
}

export function onManualEdited(
  s: ItemState,
  e: Extract<DefenderEvent, { type: 'manual_edited' }>,
  now: number,
): Decision<ItemState> | null {
  if (!s.manual || s.status === 'deleted') return null;
  const { state: edited, changed } = applyEdit(s, e.edit);
  if (!changed.length) return null;
  const edits = (s.edits ?? 0) + 1;
  let state: ItemState = { ...edited, edits };
  const effects: Effect[] = [];
  const active = ACTIVE.includes(s.status);

  if (changed.includes('dueAt')) {
    // The earlier due timer still fires, and finds the date moved (the flow checks `now < dueAt`).
    if (state.dueAt > now) state = { ...state, overdue: false };
    if (active && !state.overdue)
      effects.push({ kind: 'due', key: `due:${s.gen}:e${edits}`, runAt: state.dueAt, payload: { gen: s.gen } });
  }
  if (active && s.ticket && s.ticket.status === 'open')
    effects.push({ kind: 'retarget', key: `edit:${s.gen}:${edits}`, payload: { gen: s.gen, changed, by: e.by } });

  // Every member's governance assignment says owner, due date, grace and e-mails: all rewritten.
  if (s.status === 'ticket_open' && changed.some((k) => k !== 'caller')) {
    if (s.sweeping) state = { ...state, sweepAgain: true, sweepAll: true };
    else {
      const sweep = startSweep(state, true);
      state = sweep.state;
      effects.push(...sweep.effects);
    }
  }
  const timing = changed.some((k) => k === 'dueAt' || k === 'notifyOwner' || k === 'notifyManager');
  if (s.status === 'ticket_open' && timing) effects.push(...firstReminder(state, now));

  const detail: Record<string, unknown> = { changed, by: e.by };
  for (const k of changed) detail[k] = k === 'dueAt' ? new Date(state.dueAt).toISOString() : e.edit[k];
  return { state, effects, audit: { action: 'edited', detail } };
}

/**
 * Deleted by a person: its governance assignments removed and its rows released (cleanup.ts
 * `unassign`), so the next pass takes the resources back into the automatic path; its open ticket
 * gets a work note, as when an integration is deleted.
 */
export function onManualDeleted(
  s: ItemState,
  e: Extract<DefenderEvent, { type: 'manual_deleted' }>,
): Decision<ItemState> | null {
  if (!s.manual || s.status === 'deleted') return null;
  // A sweep under way could write an assignment the clean-up just removed: the clean-up waits for its end.
  const effects: Effect[] = s.sweeping ? [] : [unassign(s)];
  if (s.ticket && s.ticket.status === 'open')
    effects.push({ kind: 'note', key: `unassigned:${s.gen}`, payload: { gen: s.gen, what: 'unassigned', by: e.by } });
  return {
    state: { ...s, status: 'deleted', sweepAgain: false, ...(s.sweeping ? { unassignAfterSweep: true } : {}) },
    effects,
    audit: { action: 'manual_deleted', detail: { by: e.by, ticket: s.ticket?.key ?? null } },
  };
}

const unassign = (s: ItemState): Effect => ({
  kind: 'unassign',
  key: 'unassign',
  payload: { integration: s.integration },
});

/** The sweep a delete waited for is over (its job saw the item deleted, or finished): now the clean-up. */
export function onSweepEndedAfterDelete(
  s: ItemState,
  e: Extract<DefenderEvent, { type: 'governed' }>,
): Decision<ItemState> | null {
  if (!s.unassignAfterSweep || e.gen !== s.gen || e.sweep !== s.sweeps) return null;
  return {
    state: { ...s, sweeping: false, unassignAfterSweep: false },
    effects: [unassign(s)],
    audit: { action: 'governed', detail: { then: 'unassign' } },
  };
}
