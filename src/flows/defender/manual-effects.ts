import { RetryableError } from '../../engine/errors.ts';
import { loadFlowState } from '../../engine/flow.ts';
import type { JobHandler } from '../../engine/engine.ts';
import type { Deps } from './effects.ts';
import { FLOW, type ItemState } from './flow.ts';
import type { EditedField } from './manual-decide.ts';
import { mappingFor } from './overrides.ts';
import { resolvePeople } from './people.ts';

/**
 * `defender.retarget`: an edited manual assignment carried to its open ticket — the new owner and
 * caller written where the adapter keeps them, and a work note saying what changed and who changed
 * it. Reads the item first, so a late or repeated job writes the item's current settings.
 */

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function describe(s: ItemState, changed: EditedField[]): string[] {
  const onOff = (b: boolean | undefined) => (b ? 'on' : 'off');
  const say: Record<EditedField, () => string> = {
    owner: () => `owner (assigned to) ${s.owner}`,
    caller: () => `caller ${s.manual?.caller}`,
    dueAt: () => `remediation due date ${day(s.dueAt)}`,
    grace: () => `grace period ${onOff(s.grace)}`,
    notifyOwner: () => `e-mail reminders to the owner ${onOff(s.manual?.notifyOwner)}`,
    notifyManager: () => `e-mail reminders to the manager ${onOff(s.manual?.notifyManager)}`,
  };
  return changed.map((k) => say[k]());
}

export function manualEffectHandlers(d: Deps): Record<string, JobHandler> {
  return {
    async retarget(p: { flowId: string; gen: number; changed: EditedField[]; by: string }) {
      const s = await loadFlowState<ItemState>(d.app.store.db, FLOW, p.flowId);
      if (!s?.manual || s.gen !== p.gen || !s.ticket || s.ticket.status !== 'open' || s.status === 'deleted') return {};
      const i = d.integrations.get(s.integration);
      if (!i) return {};
      const port = d.app.connections.itsm(i.itsm);
      const peopleChanged = p.changed.some((k) => k === 'owner' || k === 'caller');
      if (peopleChanged) {
        const map = mappingFor(i, s);
        const people = await resolvePeople(port, { ...i, mapping: map });
        if (people.problems.length) throw new RetryableError(people.problems.map((x) => x.message).join('; '));
        await port.setTicketPeople(s.ticket, {
          assignee: people.assignee?.id,
          caller: people.caller?.id,
          ...(map.mode === 'customized' && map.callerField ? { callerField: map.callerField } : {}),
        });
      }
      await port.addWorkNote(
        s.ticket,
        `The assignment was edited in Ticketloop by ${p.by}: ${describe(s, p.changed).join('; ')}.`,
      );
      return {};
    },
  };
}
