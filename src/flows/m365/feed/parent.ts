import type { Ticketloop } from '../../../app/build.ts';
import type { TicketRef } from '../../../itsm/port.ts';
import type { M365Integration } from '../config.ts';

/**
 * The ITSM incident Ticketloop opened for a health issue ("one incident per health issue"), when
 * there is one: matched incidents become its children. That feature is not built yet, so there is
 * never a parent; this is the one place to wire it to when it is.
 */
export async function parentIncidentOf(
  _app: Ticketloop,
  _integration: M365Integration,
  _issueId: string,
): Promise<TicketRef | undefined> {
  return undefined;
}
