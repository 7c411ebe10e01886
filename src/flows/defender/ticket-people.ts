import type { ItsmPort, OpenTicketInput, Ticket, TicketRef } from '../../itsm/port.ts';

/**
 * Rewriting who an existing ticket names (assignee, caller) — what editing a manual assignment
 * needs. It is not a method of ItsmPort (yet): an adapter offers it by having `setTicketPeople`
 * (the ServiceNow adapter does); with one that does not, the edit is told in a work note only.
 */
export interface TicketPeopleWriter {
  setTicketPeople(ref: TicketRef, p: Pick<OpenTicketInput, 'assignee' | 'caller' | 'callerField'>): Promise<Ticket>;
}

export function peopleWriter(port: ItsmPort): TicketPeopleWriter | undefined {
  const candidate = port as ItsmPort & Partial<TicketPeopleWriter>;
  return typeof candidate.setTicketPeople === 'function' ? (candidate as TicketPeopleWriter) : undefined;
}
