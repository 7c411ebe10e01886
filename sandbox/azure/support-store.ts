import { randomUUID } from 'node:crypto';
import type { DocStore } from '../shared/persist.ts';

/**
 * Microsoft.Support state in the ARM sandbox's database (DocStore collections, so tickets survive a
 * restart like everything else): tickets by (scope, name), their communications, and the
 * long-running operations that create both. Scope is `''` for tenant-level tickets
 * (`/providers/Microsoft.Support/supportTickets/…`) or `/subscriptions/{id}`.
 */

export interface StoredTicket {
  scope: string;
  name: string;
  /** The SupportTicketDetails properties as the API answers them. */
  properties: Record<string, any>;
  /** The create operation; the ticket is visible once it has finished. */
  opId: string;
}

export interface StoredCommunication {
  ticketKey: string;
  name: string;
  properties: Record<string, any>;
  /** Absent for messages the support side added (control API): those exist at once. */
  opId?: string;
}

export interface StoredOperation {
  id: string;
  scope: string;
  startTime: string;
  startMs: number;
  /** Status reads so far: the first answers InProgress, the next Succeeded (or Failed). */
  polls: number;
  /** Set when the control API asked the operation to fail: it ends Failed and creates nothing. */
  error?: { code: string; message: string };
}

const T = 'support_tickets';
const C = 'support_comms';
const O = 'support_ops';

/** An operation is done after its second status read, or 5 s (sandbox time) after it started, whichever comes first. */
const DONE_AFTER_POLLS = 2;
const DONE_AFTER_MS = 5_000;

export const ticketKey = (scope: string, name: string) => `${scope.toLowerCase()}|${name.toLowerCase()}`;

export class SupportStore {
  constructor(private readonly docs: DocStore) {}

  ticket(scope: string, name: string): StoredTicket | undefined {
    return this.docs.get<StoredTicket>(T, ticketKey(scope, name));
  }

  /** Tenant-level and subscription tickets share one name space per caller in Azure; here: any scope. */
  ticketByName(name: string): StoredTicket | undefined {
    for (const t of this.docs.iterate<StoredTicket>(T)) if (t.name.toLowerCase() === name.toLowerCase()) return t;
    return undefined;
  }

  tickets(scope: string): StoredTicket[] {
    return this.docs.list<StoredTicket>(T).filter((t) => t.scope.toLowerCase() === scope.toLowerCase());
  }

  putTicket(t: StoredTicket): StoredTicket {
    return this.docs.put(T, ticketKey(t.scope, t.name), t);
  }

  communication(ticket: StoredTicket, name: string): StoredCommunication | undefined {
    return this.docs.get<StoredCommunication>(C, `${ticketKey(ticket.scope, ticket.name)}|${name.toLowerCase()}`);
  }

  communications(ticket: StoredTicket): StoredCommunication[] {
    const key = ticketKey(ticket.scope, ticket.name);
    return this.docs.list<StoredCommunication>(C).filter((c) => c.ticketKey === key);
  }

  putCommunication(ticket: StoredTicket, c: Omit<StoredCommunication, 'ticketKey'>): StoredCommunication {
    const key = ticketKey(ticket.scope, ticket.name);
    return this.docs.put(C, `${key}|${c.name.toLowerCase()}`, { ...c, ticketKey: key });
  }

  startOperation(scope: string, nowMs: number): StoredOperation {
    const op: StoredOperation = {
      id: randomUUID(),
      scope,
      startTime: new Date(nowMs).toISOString(),
      startMs: nowMs,
      polls: 0,
    };
    const failure = this.docs.get<StoredOperation['error']>('support_config', 'failNext');
    if (failure) {
      op.error = failure;
      this.docs.delete('support_config', 'failNext');
    }
    return this.docs.put(O, op.id, op);
  }

  /** The next operation started ends Failed with this error (control API). */
  failNext(error: { code: string; message: string }): void {
    this.docs.put('support_config', 'failNext', error);
  }

  operation(id: string): StoredOperation | undefined {
    return this.docs.get<StoredOperation>(O, id.toLowerCase());
  }

  /** One status read: counts it and says whether the operation has finished. */
  pollOperation(op: StoredOperation, nowMs: number): boolean {
    op.polls++;
    this.docs.put(O, op.id, op);
    return this.done(op, nowMs);
  }

  done(op: StoredOperation | undefined, nowMs: number): boolean {
    return !op || op.polls >= DONE_AFTER_POLLS || nowMs - op.startMs >= DONE_AFTER_MS;
  }

  /** Is the ticket visible (its create operation finished)? */
  visible(t: StoredTicket | undefined, nowMs: number): t is StoredTicket {
    const op = this.operation(t?.opId ?? '');
    return !!t && !op?.error && this.done(op, nowMs);
  }

  nextTicketNumber(): string {
    // Azure's ids look like 2403010010001234: yymmdd + a running number.
    return String(this.docs.nextCounter('support_ticket_id', 2_612_030_010_000_001));
  }
}
