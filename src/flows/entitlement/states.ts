import { z } from 'zod';
import type { Ticket } from '../../itsm/port.ts';

/**
 * What a ticket's state does to the waiting Entra request: resume it (the work is done), deny it, or
 * keep waiting. The defaults follow the tables' meaning (a catalog item "Closed Incomplete" or
 * "Closed Skipped" was not fulfilled, so the request is denied); `states:` in the integration moves
 * any state to another list. Keys are the ITSM's state names (`Ticket.state`, lower snake case).
 */

export const STATE_ACTIONS = ['resume', 'deny', 'wait'] as const;
export type StateAction = (typeof STATE_ACTIONS)[number];
export type StateMap = Record<string, StateAction>;

const CATALOG_STATES: StateMap = {
  pending: 'wait',
  open: 'wait',
  work_in_progress: 'wait',
  closed_complete: 'resume',
  closed_incomplete: 'deny',
  closed_skipped: 'deny',
};

/** The default mapping per ticket table (the base instance's states). */
export const DEFAULT_STATES: Record<string, StateMap> = {
  sc_req_item: CATALOG_STATES,
  sc_task: CATALOG_STATES,
  incident: {
    new: 'wait',
    in_progress: 'wait',
    on_hold: 'wait',
    resolved: 'resume',
    closed: 'resume',
    canceled: 'deny',
  },
};

const KNOWN = [...new Set(Object.values(DEFAULT_STATES).flatMap((m) => Object.keys(m)))];

const stateList = z.array(
  z.string().refine((v) => KNOWN.includes(v), {
    error: (i) => `unknown ticket state '${String(i.input)}' (known: ${KNOWN.join(', ')})`,
  }),
);

/** `states: { resume: [...], deny: [...], wait: [...] }` — each list optional; a state may be in one list only. */
export const statesSchema = z
  .object({ resume: stateList.optional(), deny: stateList.optional(), wait: stateList.optional() })
  .strict()
  .superRefine((v, ctx) => {
    const seen = new Map<string, StateAction>();
    for (const action of STATE_ACTIONS) {
      (v[action] ?? []).forEach((state, n) => {
        const first = seen.get(state);
        if (first)
          ctx.addIssue({
            code: 'custom',
            path: [action, n],
            message: `'${state}' is already in states.${first}: a state can be in one list only`,
          });
        seen.set(state, action);
      });
    }
  })
  .optional();
export type StatesConfig = z.infer<typeof statesSchema>;

/** States of the configuration that the table does not have (`states.resume[0]` → 'closed'), for a clear error. */
export function statesNotInTable(table: string, config: StatesConfig): { path: string; state: string }[] {
  const table_ = DEFAULT_STATES[table] ?? {};
  return STATE_ACTIONS.flatMap((action) =>
    (config?.[action] ?? []).flatMap((state, n) =>
      state in table_ ? [] : [{ path: `states.${action}[${n}]`, state }],
    ),
  );
}

/** The table's defaults with the configuration's lists applied. */
export function resolveStates(table: string, config: StatesConfig): StateMap {
  const out: StateMap = { ...DEFAULT_STATES[table] };
  for (const action of STATE_ACTIONS) for (const state of config?.[action] ?? []) out[state] = action;
  return out;
}

/**
 * The action for a ticket: by its ITSM state when the mapping names it, otherwise by the neutral
 * status (resolved/closed resume, canceled denies, open waits) — an adapter without state names,
 * or an item stored before the mapping existed, behaves as before.
 */
export function actionFor(ticket: Pick<Ticket, 'status' | 'state'>, states: StateMap | undefined): StateAction {
  const mapped = ticket.state !== undefined ? states?.[ticket.state] : undefined;
  if (mapped) return mapped;
  if (ticket.status === 'resolved' || ticket.status === 'closed') return 'resume';
  return ticket.status === 'canceled' ? 'deny' : 'wait';
}
