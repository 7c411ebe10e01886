import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { CheckResult, SetupStep } from '../app/checks.ts';
import type { OutboundRecorder } from '../connectors/http.ts';
import type { Clock } from '../engine/clock.ts';
import type { App } from '../http/server.ts';

/**
 * The ITSM port: what flows know of a ticketing system. Nothing here names a vendor: a ticket is a
 * reference (system, kind, id, key, link), a normalised status and a version; how an adapter
 * stores them (ServiceNow's sys_id, tables, sys_mod_count, correlation_id) stays in its folder.
 * A second ITSM is a new adapter that passes test/itsm/contract.ts, with no change in any flow.
 */

export type TicketStatus = 'open' | 'resolved' | 'closed' | 'canceled';

/**
 * Every text an adapter writes is bounded by its system's field sizes (the adapter knows them and
 * applies them on every write); what does not fit ends with this note, so a reader knows it was
 * cut and by how much, instead of meeting silent truncation or a refused write.
 */
export function truncationNote(omitted: number): string {
  return `… (truncated by Ticketloop: ${omitted.toLocaleString('en-US')} more characters not sent)`;
}

/** `text` cut to at most `max` characters: with the note on long fields, a bare `…` on short ones. */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = (n: number) => (max >= 500 ? truncationNote(n) : '…');
  let keep = Math.max(0, max - note(text.length).length);
  // Never split a surrogate pair: a lone half is invalid UTF-16 and may be refused.
  if (keep > 0 && /[\uD800-\uDBFF]/.test(text[keep - 1])) keep--;
  return text.slice(0, keep) + note(text.length - keep);
}

export interface TicketRef {
  /** The ITSM connection's configured name, e.g. "prod" or "sandbox". */
  system: string;
  /** What sort of ticket, in the adapter's terms (ServiceNow: its table, e.g. "incident"). */
  kind: string;
  /** The adapter's stable id of the record. */
  id: string;
  /** What people call it: "INC0010001", "ITSM-42". */
  key: string;
  /** A link a person can open. */
  link: string;
}

/**
 * The same record: system, kind and id. A flow acts only on changes to the ticket it recorded when it
 * opened it; anyone who can edit tickets can give another record the same correlation key.
 */
export function sameTicket(a: Pick<TicketRef, 'system' | 'kind' | 'id'>, b: Pick<TicketRef, 'system' | 'kind' | 'id'>) {
  return a.system === b.system && a.kind === b.kind && a.id === b.id;
}

export interface Ticket {
  ref: TicketRef;
  status: TicketStatus;
  /**
   * The ITSM's own name of the record's state in lower snake case, when the adapter knows it
   * (ServiceNow catalog items: `closed_complete`, `closed_incomplete`, `closed_skipped`): finer than `status`.
   */
  state?: string;
  /** Changes with every update of the record; one change event per version. */
  version: string;
  /** ISO 8601 UTC. */
  updatedAt: string;
  /** Ticketloop's correlation key (`tl:<flow>:<item>`), empty for tickets Ticketloop did not open. */
  correlation: string;
  /** Who closed (resolved, canceled) it, when it is not open. */
  closedBy?: string;
  /**
   * Who made the latest change (the ITSM's user name), where the adapter knows it: a flow compares it
   * with the name Ticketloop's own writes leave, to tell a person's change from its own.
   */
  updatedBy?: string;
  closeNotes?: string;
  closeCode?: string;
  /** The adapter's raw fields as strings, for templates and display. */
  fields: Record<string, string>;
}

export interface OpenTicketInput {
  kind: string;
  /** The idempotency key: a ticket with this correlation is found, never created twice. */
  correlation: string;
  /** A short label of what the ticket belongs to, shown where the ITSM has a place for it. */
  origin?: string;
  title?: string;
  description?: string;
  /** Person ids from `findPerson`. */
  assignee?: string;
  /** Whom the ticket is for; each adapter writes it where its kind keeps it (ServiceNow: caller_id, requested_by…). */
  caller?: string;
  /** The adapter's own name of the caller's field, where a customized mapping overrides the adapter's default. */
  callerField?: string;
  /** Further fields in the adapter's own names (from a customized mapping in the configuration). */
  fields?: Record<string, string>;
}

export interface CloseOutInput {
  notes: string;
  code?: string;
  fields?: Record<string, string>;
}

export interface Person {
  id: string;
  email: string;
  managerEmail?: string;
}

/** A ticket changed, or vanished (seen by a full reconcile), as an adapter reports it. */
export interface TicketChange {
  ref: TicketRef;
  ticket?: Ticket;
  source: 'webhook' | 'poll' | 'reconcile';
  deleted?: boolean;
}

export type OnTicketChange = (change: TicketChange) => Promise<void>;

/** A ticket the watch already knows, for the full reconcile. */
export interface KnownTicket {
  id: string;
  version?: string;
}

// ---- Access requests (optional sub-port) ----------------------------------------------------------
//
// A person asks for access through the ITSM's own request form (ServiceNow: a catalog item's
// requested item; Jira Service Management: a request type's request), people approve it there
// (ServiceNow: sysapproval_approver rows; JSM: the request's approval step with its approvers), and
// the request follows what happens to the access. The words below are the ones both use: a request
// with answers, approvers identified by e-mail, a decision with a comment, a phase and a public note.

/** What a requester answered on the form, by the form field's name (ServiceNow: variable names). */
export type FormAnswers = Record<string, string>;

/** A new request for an offering (catalog item, request type), as the ITSM has it. */
export interface IncomingAccessRequest {
  ref: TicketRef;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** Whom it is for: their e-mail and, where the ITSM person carries it, their directory (Entra) object id. */
  requestedFor: { email: string; directoryId?: string };
  answers: FormAnswers;
}

export type ApprovalState = 'requested' | 'approved' | 'rejected' | 'not_required' | 'other';

/** One approver's approval of a request. */
export interface ApprovalRecord {
  id: string;
  approverEmail: string;
  state: ApprovalState;
  /** ISO 8601 UTC of its last change. */
  updatedAt: string;
}

/** An approval decided in the ITSM. */
export interface ApprovalDecision extends ApprovalRecord {
  state: 'approved' | 'rejected';
  /** The request it decides, and the correlation Ticketloop gave that request. */
  request: TicketRef;
  correlation: string;
  comment: string;
  /** Changes with every update of the approval: one decision event per version. */
  version: string;
}

/**
 * Where a request stands. ServiceNow: the RITM's stage and state; JSM: the request's status.
 * `completed` and `incomplete` close it (complete: the access was given and has ended; incomplete:
 * refused, rejected, canceled or failed).
 */
export type AccessRequestPhase = 'awaiting_approval' | 'approved' | 'fulfilled' | 'completed' | 'incomplete';

export interface AccessRequestUpdate {
  phase?: AccessRequestPhase;
  /** The approval outcome shown on the request. */
  approval?: 'requested' | 'approved' | 'rejected';
  /** A note the requester sees (ServiceNow: additional comments; JSM: a public comment). */
  note?: string;
  /** Ticketloop's correlation key for the request (`tl:<flow>:<item>`), written once it is taken in. */
  correlation?: string;
}

export interface AccessRequestPort {
  /**
   * Open requests for `offering` (a catalog item's name or id) that Ticketloop has not taken in yet
   * (no correlation key), changed since an opaque watermark; at most a page per call — call again
   * with the returned watermark for more.
   */
  pollNew(
    offering: string,
    watermark: string | undefined,
    o?: { directoryIdAttribute?: string; pageSize?: number },
  ): Promise<{ requests: IncomingAccessRequest[]; watermark: string; more: boolean }>;
  /** Ask these approvers (by e-mail) for their approval; existing approvals are left as they are. */
  requestApprovals(ref: TicketRef, approverEmails: string[]): Promise<{ requested: string[]; unknown: string[] }>;
  listApprovals(ref: TicketRef): Promise<ApprovalRecord[]>;
  /**
   * Record an approver's decision made in Ticketloop: `unchanged` if the ITSM already shows it,
   * `no_approver` if the ITSM has no person with that e-mail.
   */
  decideApproval(
    ref: TicketRef,
    approverEmail: string,
    decision: 'approved' | 'rejected',
    comment: string,
  ): Promise<'written' | 'unchanged' | 'no_approver'>;
  /** The approvals still requested become no longer required (the request was decided); returns how many. */
  closeLeftoverApprovals(ref: TicketRef): Promise<number>;
  /** Approvals decided in the ITSM on requests whose correlation starts with `prefix`, since a watermark. */
  pollDecisions(
    prefix: string,
    watermark: string | undefined,
    o?: { pageSize?: number },
  ): Promise<{ decisions: ApprovalDecision[]; watermark: string; more: boolean }>;
  updateRequest(ref: TicketRef, u: AccessRequestUpdate): Promise<void>;
  /**
   * Whether a note with this text is on the request, written at or after `since` (epoch ms): asked
   * before writing a note again whose first write may have landed unanswered. Optional.
   */
  hasNote?(ref: TicketRef, note: string, since: number): Promise<boolean>;
}

/** One knowledge article found for a text (recommended solutions). */
export interface KnowledgeHit {
  /** The adapter's id of the article (ServiceNow: the kb_knowledge sys_id). */
  id: string;
  /** What people call it: "KB0010001". */
  number: string;
  title: string;
  /** A short plain-text excerpt. */
  snippet: string;
  /** A link a person can open. */
  url: string;
  /** The system's relevance score (higher is better; only comparable within one answer). */
  score: number;
  /** Where it came from: the knowledge API, or the table search it falls back to. */
  source: 'km_api' | 'table';
}

/** The customer's own knowledge base, searched by free text. */
export interface KnowledgePort {
  searchKnowledge(query: string, o?: { limit?: number }): Promise<KnowledgeHit[]>;
  /** Search once and say which search answered (Test setup). */
  probe(): Promise<KnowledgeHit['source']>;
}

// ---- Incident feed (optional sub-port) -------------------------------------------------------------
//
// Incidents people report, read as they arrive or change (not only the tickets Ticketloop opened), so
// a flow can relate them to something it knows (Microsoft 365 service health) and link the related
// ones to a parent incident, where the ITSM has parent and child incidents.

/** A work note on a reported incident. */
export interface IncidentNote {
  /** The adapter's id of the entry. */
  id: string;
  /** Who wrote it, as the ITSM names its users. */
  author: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  text: string;
}

/** An incident as reported: its text and times. */
export interface ReportedIncident {
  ref: TicketRef;
  /** What people call it ("INC0010001"), as in `ref.key`. */
  key: string;
  /** The one-line summary (ServiceNow: short description). */
  title: string;
  description: string;
  /** ISO 8601 UTC. */
  openedAt: string;
  /** ISO 8601 UTC of its last change. */
  updatedAt: string;
  /** Ticketloop's correlation key, empty for incidents Ticketloop did not open. */
  correlation: string;
  /** The id of its parent incident, when it has one. */
  parent?: string;
  /** Its work notes containing `notesContaining` (when asked for), oldest first. */
  notes?: IncidentNote[];
}

export interface IncidentFeedPort {
  /**
   * Open `kind` incidents created or changed since an opaque watermark, oldest change first; at most
   * a page per call — call again with the returned watermark while `more`. Without a watermark the
   * feed starts at `since` (epoch ms; default: the beginning). With `notesContaining`, each incident
   * carries its work notes that contain that text (case-insensitively), for commands agents write there.
   */
  pollIncidents(
    kind: string,
    watermark: string | undefined,
    o?: { pageSize?: number; since?: number; notesContaining?: string },
  ): Promise<{ incidents: ReportedIncident[]; watermark: string; more: boolean }>;
  /** Make `child` a child of `parent` (ServiceNow: parent_incident), so the ITSM's own parent/child sync applies. */
  linkToParent(child: TicketRef, parent: TicketRef): Promise<void>;
}

/** What `writeAccess` found: who the account is, and whether its roles let it write. */
export interface WriteAccess {
  allowed: boolean | undefined;
  /** The account's name in the system. */
  account?: string;
  /** What was found ("user 'x' has the roles itil"), or why it could not be told. */
  detail: string;
  /** What to grant, when not allowed (or unknown). */
  fix?: string;
}

export interface ItsmPort {
  /** The connection's name (every ref it returns carries it as `system`). */
  readonly system: string;
  /** Looks up by correlation first (exact, non-empty) and creates only if absent. */
  openTicket(i: OpenTicketInput): Promise<{ ticket: Ticket; created: boolean }>;
  /** The ticket Ticketloop opened with this key: a record someone else created with it does not count. */
  findByCorrelation(kind: string, correlation: string): Promise<Ticket | undefined>;
  getTicket(ref: Pick<TicketRef, 'kind' | 'id'>): Promise<Ticket | undefined>;
  /** The ticket people call `key` ("INC0010001"), exactly; where the adapter can look keys up. */
  findByKey?(kind: string, key: string): Promise<Ticket | undefined>;
  updateTicket(ref: TicketRef, fields: Record<string, string>): Promise<Ticket>;
  /** Rewrite whom an existing ticket names: its assignee and caller (person ids from `findPerson`). */
  setTicketPeople(ref: TicketRef, p: Pick<OpenTicketInput, 'assignee' | 'caller' | 'callerField'>): Promise<Ticket>;
  addWorkNote(ref: TicketRef, text: string): Promise<void>;
  addComment(ref: TicketRef, text: string): Promise<void>;
  resolveTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  closeTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  cancelTicket(ref: TicketRef, c: CloseOutInput): Promise<Ticket>;
  reopenTicket(ref: TicketRef, note: string): Promise<Ticket>;
  /** The person with this e-mail address (and their manager's), or undefined. */
  findPerson(email: string): Promise<Person | undefined>;
  /**
   * Sign-in works, kinds reachable, close-out configuration valid: one result per thing checked
   * (passing ones too), each failure with its fix. Reads only; never writes to the system.
   */
  checkSetup(): Promise<CheckResult[]>;
  /**
   * Whether the account may write tickets of `kind`, found without writing anything (Test setup):
   * `allowed` undefined when the system would not say. Where the adapter can tell.
   */
  writeAccess?(kind: string): Promise<WriteAccess>;

  // The change feed. The watch (itsm/watch.ts) stores watermarks and known tickets and turns each
  // reported change into one durable job; the adapter only reads its system.

  /** Changes to `kind` tickets whose correlation starts with `prefix`, since an opaque watermark. */
  pollChanges(kind: string, prefix: string, watermark: string | undefined, onChange: OnTicketChange): Promise<string>;
  /**
   * Compare known tickets with the system: changed ones are reported, vanished ones reported
   * `deleted`, and tickets carrying `prefix` that are not known are reported too.
   */
  reconcile(kind: string, prefix: string, known: KnownTicket[], onChange: OnTicketChange): Promise<void>;
  /** Register the push endpoint, if the adapter has one; `kinds()` says what is watched now. */
  registerPush?(http: App, kinds: () => ReadonlySet<string>, onChange: OnTicketChange): Promise<void>;
  /** Access requests made and approved in the ITSM (permissions on demand), where the adapter has them. */
  readonly accessRequests?: AccessRequestPort;
  /** Knowledge-base search (recommended solutions), where the adapter has one. */
  readonly knowledge?: KnowledgePort;
  /** Incidents as they are reported (matching them to what a flow knows), where the adapter has them. */
  readonly incidentFeed?: IncidentFeedPort;
  /** How often the watch polls and fully reconciles this connection. */
  readonly pollIntervalMs: number;
  readonly reconcileIntervalMs: number;
  close(): Promise<void>;
}

export interface ItsmAdapterDeps {
  recorder: OutboundRecorder;
  clock: Clock;
  /** The app's metrics registry. */
  registry: Registry;
}

/** What `ticketloop setup <vendor>` asks of a module's `setup`. */
export interface ItsmSetupOptions {
  /** Ticket kinds (ServiceNow: tables) the enabled flows watch. */
  kinds: string[];
  /** Ticketloop's public URL (server.publicUrl): the adapter adds its push path to it. */
  publicUrl?: string;
  /** The correlation prefix of the tickets Ticketloop opens (default 'tl:'). */
  correlationPrefix?: string;
  /** Change nothing: report what would be done as `manual` steps. */
  dryRun?: boolean;
}

/**
 * An ITSM adapter module (`src/itsm/<vendor>/module.ts`), registered in app/registry.ts: the
 * configuration key it owns (a list of named connections) and how to build a connection.
 */
export interface ItsmModule<C extends { name: string } = any> {
  /** Top-level configuration key, e.g. "servicenow". */
  configKey: string;
  /** One named connection. */
  connectionSchema: z.ZodObject<any>;
  connect(config: C, deps: ItsmAdapterDeps): ItsmPort;
  /**
   * Prepare the system for Ticketloop (verify access, install the push), idempotently: a second
   * run reports every step `unchanged` and writes nothing. Never prints secrets.
   */
  setup?(config: C, deps: ItsmAdapterDeps, o: ItsmSetupOptions): Promise<SetupStep[]>;
}
