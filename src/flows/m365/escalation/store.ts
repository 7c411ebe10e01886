import type { Kysely, Migration } from 'kysely';
import type { TicketRef } from '../../../itsm/port.ts';
import type { Dialect } from '../../../store/db.ts';
import type { Database } from '../../../store/schema.ts';
import type { EscalationKind } from './config.ts';

/**
 * Escalations to Microsoft support, one row each, and what was written to their incidents: a
 * communication (or the "ticket created" note) is recorded by name once its work note is written,
 * so a retry or a restart never writes it twice.
 */

export interface M365EscalationTable {
  id: string;
  integration: string;
  kind: EscalationKind;
  /** Azure: the API's status (a free string: Open, Updating, Closed…) or creating / failed; guided: see GUIDED_STATUSES. */
  status: string;
  /** JSON TicketRef of the incident. */
  incident: string;
  incident_key: string;
  title: string;
  severity: string;
  service: string;
  classification: string;
  /** Azure: our resource name (the idempotency key of the create) and Microsoft's ticket number. */
  ticket_name: string | null;
  ticket_number: string | null;
  /** Guided: the case number the administrator recorded. */
  case_number: string | null;
  /** Azure: the create request without the contact (JSON); guided: '{}'. */
  request: string;
  /** Guided: the prepared case summary. */
  summary: string;
  error: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  /** The last update from either side: reminders count from here. */
  activity_at: number;
  reminded_at: number | null;
}

export interface M365EscalationNoteTable {
  escalation_id: string;
  name: string;
  written_at: number;
}

interface EscalationTables {
  m365_escalations: M365EscalationTable;
  m365_escalation_notes: M365EscalationNoteTable;
}
type EscalationDb = Kysely<Database & EscalationTables>;

export function m365EscalationMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0014_m365_escalations': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('m365_escalations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('incident', 'text', (c) => c.notNull())
          .addColumn('incident_key', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('classification', 'text', (c) => c.notNull())
          .addColumn('ticket_name', 'text')
          .addColumn('ticket_number', 'text')
          .addColumn('case_number', 'text')
          .addColumn('request', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addColumn('activity_at', bigint, (c) => c.notNull())
          .addColumn('reminded_at', bigint)
          .execute();
        await db.schema
          .createIndex('m365_escalations_integration')
          .on('m365_escalations')
          .columns(['integration', 'kind', 'created_at'])
          .execute();
        await db.schema
          .createTable('m365_escalation_notes')
          .addColumn('escalation_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('written_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('m365_escalation_notes_pk', ['escalation_id', 'name'])
          .execute();
      },
    },
  };
}

export type EscalationRow = M365EscalationTable;

/** How an escalation is shown over the API. */
export function escalationView(r: EscalationRow) {
  return {
    id: r.id,
    integration: r.integration,
    kind: r.kind,
    label:
      r.kind === 'guided'
        ? 'Guided hand-off: opened by you in the Microsoft 365 admin center, tracked here by hand'
        : 'Azure support ticket, synced with Microsoft',
    status: r.status,
    incident: JSON.parse(r.incident) as TicketRef,
    title: r.title,
    severity: r.severity,
    service: r.service,
    problemClassification: r.classification,
    ticketName: r.ticket_name,
    ticketNumber: r.ticket_number,
    caseNumber: r.case_number,
    summary: r.kind === 'guided' ? r.summary : undefined,
    error: r.error,
    createdBy: r.created_by,
    /** The last update from either side (reminders count from here). */
    activityAt: new Date(Number(r.activity_at)).toISOString(),
    createdAt: new Date(Number(r.created_at)).toISOString(),
    updatedAt: new Date(Number(r.updated_at)).toISOString(),
  };
}

/** Statuses that end the sync (azure, compared case-insensitively) or the reminders (guided). */
export const isFinished = (r: Pick<EscalationRow, 'status'>) => /^(closed|resolved|failed)$/i.test(r.status);

export class EscalationStore {
  private readonly db: EscalationDb;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as EscalationDb;
  }

  static of(db: Kysely<Database>): EscalationDb {
    return db as unknown as EscalationDb;
  }

  async insert(trx: Kysely<Database>, row: EscalationRow): Promise<void> {
    await EscalationStore.of(trx).insertInto('m365_escalations').values(row).execute();
  }

  async update(trx: Kysely<Database>, id: string, patch: Partial<EscalationRow>): Promise<void> {
    await EscalationStore.of(trx).updateTable('m365_escalations').set(patch).where('id', '=', id).execute();
  }

  async get(id: string): Promise<EscalationRow | undefined> {
    return this.db.selectFrom('m365_escalations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(integration: string, o: { kind?: EscalationKind; limit?: number } = {}): Promise<EscalationRow[]> {
    let query = this.db.selectFrom('m365_escalations').selectAll().where('integration', '=', integration);
    if (o.kind) query = query.where('kind', '=', o.kind);
    return query
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(o.limit ?? 200)
      .execute();
  }

  /**
   * When the integration's escalation sync last finished: the job its schedule enqueued last (the
   * engine keeps its key), once done; null while it runs or before the first.
   */
  async lastSync(integration: string): Promise<number | null> {
    const schedule = await this.db
      .selectFrom('schedules')
      .select('last_job_key')
      .where('name', '=', `m365-escalations:${integration}`)
      .executeTakeFirst();
    if (!schedule?.last_job_key) return null;
    const job = await this.db
      .selectFrom('jobs')
      .select(['finished_at'])
      .where('key', '=', schedule.last_job_key)
      .where('state', '=', 'done')
      .executeTakeFirst();
    return job?.finished_at == null ? null : Number(job.finished_at);
  }

  /** Names already written to the incident of this escalation. */
  async written(id: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('m365_escalation_notes')
      .select('name')
      .where('escalation_id', '=', id)
      .execute();
    return new Set(rows.map((r) => r.name));
  }

  async markWritten(id: string, name: string, now: number): Promise<void> {
    await this.db
      .insertInto('m365_escalation_notes')
      .values({ escalation_id: id, name, written_at: now })
      .onConflict((oc) => oc.columns(['escalation_id', 'name']).doNothing())
      .execute();
  }
}
