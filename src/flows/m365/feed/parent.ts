import type { Ticketloop } from '../../../app/build.ts';
import { loadFlowState } from '../../../engine/flow.ts';
import type { TicketRef } from '../../../itsm/port.ts';
import type { M365Integration } from '../config.ts';
import { FLOW, itemId, type HealthIncidentState } from '../flow.ts';

/**
 * The ITSM incident Ticketloop opened for a health issue ("one incident per health issue",
 * `incidents.enabled`), when there is one: matched incidents become its children. An incident a
 * person took over is still the parent: linking a child changes nothing on the parent itself.
 */
export async function parentIncidentOf(
  app: Ticketloop,
  integration: M365Integration,
  issueId: string,
  childKind: string,
): Promise<TicketRef | undefined> {
  const item = await loadFlowState<HealthIncidentState>(app.store.db, FLOW, itemId(integration.name, issueId));
  // A parent link joins tickets of one kind (ServiceNow: parent_incident references incident).
  return item?.ticket?.kind === childKind ? item.ticket : undefined;
}
