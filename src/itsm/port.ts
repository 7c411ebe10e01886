/**
 * The ITSM port the flows use. Nothing here is ServiceNow-specific: a ticket is a reference
 * (system, table, id, number, link), a normalised status, and its raw fields as strings.
 */

export type TicketStatus = 'open' | 'resolved' | 'closed' | 'canceled';

export interface TicketRef {
  system: string;
  table: string;
  sysId: string;
  number: string;
  link: string;
}

export interface Ticket extends TicketRef {
  status: TicketStatus;
  rawState: string;
  correlationId: string;
  /** ISO 8601 UTC. */
  updatedAt: string;
  closedBy?: string;
  closeNotes?: string;
  closeCode?: string;
  fields: Record<string, string>;
}

export interface OpenTicketInput {
  table: string;
  correlationId: string;
  correlationDisplay?: string;
  fields: Record<string, string>;
}

export interface CloseOutInput {
  notes: string;
  code?: string;
  fields?: Record<string, string>;
}

export interface ItsmPort {
  /** Looks up by correlation id first (non-empty, exact) and creates only if absent. */
  openTicket(i: OpenTicketInput): Promise<{ ticket: Ticket; created: boolean }>;
  findByCorrelationId(table: string, correlationId: string): Promise<Ticket | undefined>;
  getTicket(table: string, sysId: string): Promise<Ticket | undefined>;
  updateTicket(ref: TicketRef, fields: Record<string, string>): Promise<Ticket>;
  addWorkNote(ref: TicketRef, text: string): Promise<void>;
  addComment(ref: TicketRef, text: string): Promise<void>;
  resolveTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  closeTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  cancelTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  reopenTicket(ref: TicketRef, note: string): Promise<Ticket>;
  /** Auth works, tables reachable, close-out config valid. */
  checkSetup(): Promise<{ ok: boolean; problems: string[] }>;
}

export interface TicketChange {
  ticket?: Ticket;
  ref: TicketRef;
  source: 'webhook' | 'poll' | 'reconcile';
  deleted?: boolean;
}
