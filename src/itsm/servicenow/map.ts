import { str, type SnRecord } from './client.ts';
import { parseSnDate } from './query.ts';
import type { Ticket, TicketRef, TicketStatus } from '../port.ts';

/**
 * ServiceNow ↔ port mapping in one place: the state codes per table (wire-format §1.7) and the
 * record → Ticket conversion shared by the adapter, the webhook receiver and the poller.
 */

export type CloseAction = 'resolve' | 'close' | 'cancel';

export interface TableStates {
  /** Raw state → normalised status; anything not listed is 'open'. */
  status: Record<string, TicketStatus>;
  /** Raw state → the base instance's state label in lower snake case (`Ticket.state`). */
  names?: Record<string, string>;
  /** The state written for each action (a table without a Resolved state resolves by closing). */
  write: Record<CloseAction | 'reopen', string>;
  /** Field holding the close code ('close_code', or 'resolution_code' for problems). */
  codeField: string;
  /** Fields that must be non-empty for each action (besides the notes field). */
  mandatory: Partial<Record<CloseAction, string[]>>;
  /** Values written for an action unless config or the caller sets them. */
  defaults?: Partial<Record<CloseAction, Record<string, string>>>;
}

const CATALOG: TableStates = {
  // 3 Closed Complete, 4 Closed Incomplete (what cancelling an item sets), 7 Closed Skipped;
  // 1 Open / 2 Work in Progress. No Resolved state: resolve = close.
  status: { '3': 'closed', '4': 'canceled', '7': 'canceled' },
  names: {
    '-5': 'pending',
    '1': 'open',
    '2': 'work_in_progress',
    '3': 'closed_complete',
    '4': 'closed_incomplete',
    '7': 'closed_skipped',
  },
  write: { resolve: '3', close: '3', cancel: '4', reopen: '1' },
  codeField: 'close_code',
  mandatory: {},
};

export const STATES: Record<string, TableStates> = {
  incident: {
    status: { '6': 'resolved', '7': 'closed', '8': 'canceled' },
    names: { '1': 'new', '2': 'in_progress', '3': 'on_hold', '6': 'resolved', '7': 'closed', '8': 'canceled' },
    write: { resolve: '6', close: '7', cancel: '8', reopen: '2' },
    codeField: 'close_code',
    mandatory: { resolve: ['close_code'], close: ['close_code'] },
  },
  change_request: {
    status: { '3': 'closed', '4': 'canceled' },
    write: { resolve: '3', close: '3', cancel: '4', reopen: '-1' },
    codeField: 'close_code',
    mandatory: { resolve: ['close_code'], close: ['close_code'] },
  },
  problem: {
    status: { '106': 'resolved', '107': 'closed' },
    write: { resolve: '106', close: '107', cancel: '107', reopen: '102' },
    codeField: 'resolution_code',
    mandatory: { resolve: ['resolution_code'], close: ['resolution_code'], cancel: ['resolution_code'] },
    defaults: { cancel: { resolution_code: 'canceled' } },
  },
  sc_req_item: CATALOG,
  sc_task: CATALOG,
};

/**
 * The reference field that names the person a ticket is for, per table: incidents have a caller,
 * changes a requester, problems only the opener. A caller for a table not listed needs the mapping
 * to name the field (`OpenTicketInput.callerField`).
 */
export const CALLER_FIELDS: Record<string, string> = {
  incident: 'caller_id',
  change_request: 'requested_by',
  problem: 'opened_by',
  sc_req_item: 'requested_for',
};

/** The notes field written on close-out for every table. */
export const NOTES_FIELD = 'close_notes';

export function statesFor(table: string, overrides?: Record<string, TableStates>): TableStates {
  const s = overrides?.[table] ?? STATES[table];
  if (!s)
    throw new Error(
      `no state mapping for ServiceNow table '${table}' (known: ${Object.keys({ ...STATES, ...overrides }).join(', ')})`,
    );
  return s;
}

export function toStatus(table: string, rawState: string, overrides?: Record<string, TableStates>): TicketStatus {
  const s = overrides?.[table] ?? STATES[table];
  return s?.status[rawState] ?? 'open';
}

/** The fields the adapter reads back on every call. */
export const TICKET_FIELDS = [
  'sys_id',
  'number',
  'state',
  'correlation_id',
  'correlation_display',
  'sys_updated_on',
  'sys_updated_by',
  'sys_mod_count',
  'sys_class_name',
  'active',
  'short_description',
  'closed_by',
  'resolved_by',
  'close_notes',
  'close_code',
  'resolution_code',
];

export interface MapContext {
  /** The connection's name: every ref carries it as `system`. */
  system: string;
  instanceUrl: string;
  states?: Record<string, TableStates>;
}

export function ticketLink(instanceUrl: string, table: string, sysId: string): string {
  return `${instanceUrl.replace(/\/+$/, '')}/nav_to.do?uri=${encodeURIComponent(`${table}.do?sys_id=${sysId}`)}`;
}

export function toRef(ctx: MapContext, table: string, record: SnRecord): TicketRef {
  const sysId = str(record.sys_id);
  return {
    system: ctx.system,
    kind: table,
    id: sysId,
    key: str(record.number),
    link: ticketLink(ctx.instanceUrl, table, sysId),
  };
}

/** A Table API record (display_value=false) as a port Ticket; its version is `sys_mod_count`. */
export function toTicket(ctx: MapContext, table: string, record: SnRecord): Ticket {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) fields[k] = str(v);
  const status = toStatus(table, fields.state ?? '', ctx.states);
  const updated = parseSnDate(fields.sys_updated_on);
  const states = ctx.states?.[table] ?? STATES[table];
  const codeField = states?.codeField ?? 'close_code';
  const state = states?.names?.[fields.state ?? ''];
  const opt = (v: string | undefined) => (v ? v : undefined);
  return {
    ref: toRef(ctx, table, record),
    status,
    ...(state ? { state } : {}),
    version: fields.sys_mod_count || fields.sys_updated_on || '',
    updatedAt: updated === undefined ? '' : new Date(updated).toISOString(),
    correlation: fields.correlation_id ?? '',
    // The user who made the closing update (closed_by / resolved_by are sys_user references).
    closedBy:
      status === 'open' ? undefined : (opt(fields.sys_updated_by) ?? opt(fields.closed_by) ?? opt(fields.resolved_by)),
    updatedBy: opt(fields.sys_updated_by),
    closeNotes: opt(fields.close_notes),
    closeCode: opt(fields[codeField]),
    fields,
  };
}
