import type { DefenderIntegration } from './config.ts';
import type { ItemState } from './flow.ts';

/**
 * What a manual assignment overrides of its integration's settings. The effects ask these instead of
 * reading the integration directly, so an automatic item and a manual one go through the same steps.
 */

export function ticketTypeFor(i: DefenderIntegration, s: ItemState): DefenderIntegration['ticketType'] {
  return s.manual?.ticketType ?? i.ticketType;
}

/** The integration's mapping with the assignment's assigned-to and caller (the integration's caller when none). */
export function mappingFor(i: DefenderIntegration, s: ItemState): DefenderIntegration['mapping'] {
  if (!s.manual) return i.mapping;
  return { ...i.mapping, assignedTo: s.owner, caller: s.manual.caller ?? i.mapping.caller };
}

export function notificationsFor(i: DefenderIntegration, s: ItemState): DefenderIntegration['notifications'] {
  if (!s.manual) return i.notifications;
  return { ...i.notifications, owner: s.manual.notifyOwner, manager: s.manual.notifyManager };
}
