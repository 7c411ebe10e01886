import type { Kysely, Migration, Transaction } from 'kysely';
import type { HealthIssue, HealthMessage, HealthPost } from '../../../connectors/microsoft/service-health.ts';
import type { Dialect } from '../../../store/db.ts';
import type { Database } from '../../../store/schema.ts';
import type { HealthSummary } from './extract.ts';

/**
 * The service-health store: every issue Ticketloop has seen, per integration (tenant), with all its
 * posts and a history of its changes — Graph's retention is undocumented, so nothing seen is dropped —
 * plus message-center posts and post-incident reports (bytes and Content-Type as Graph sent them).
 * `writes` counts the statements that changed something, so a test or bench can assert that a pass
 * with nothing new wrote nothing.
 */

export interface M365HealthIssueTable {
  integration: string;
  id: string;
  service: string;
  status: string;
  is_resolved: number;
  /** As Graph wrote it: compared as text, never reformatted. */
  last_modified: string;
  /** How many posts Graph listed at the last change (the stored issue may keep more). */
  post_count: number;
  start_at: number;
  end_at: number | null;
  /** The HealthIssue, its posts the union of every post seen. */
  issue: string;
  /** JSON list of HistoryEntry, oldest first. */
  history: string;
  /** JSON HealthSummary from the posts' text. */
  summary: string;
  first_seen: number;
  updated_at: number;
}
export interface M365HealthMessageTable {
  integration: string;
  id: string;
  last_modified: string;
  message: string;
  first_seen: number;
  updated_at: number;
}
export interface M365HealthReportTable {
  integration: string;
  issue_id: string;
  content_type: string;
  body: Buffer;
  size: number;
  fetched_at: number;
}
interface HealthTables {
  m365_health_issues: M365HealthIssueTable;
  m365_health_messages: M365HealthMessageTable;
  m365_health_incident_reports: M365HealthReportTable;
}
type HealthDb = Kysely<Database & HealthTables>;

export function m365HealthMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    '0009_m365_health': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('m365_health_issues')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('is_resolved', 'integer', (c) => c.notNull())
          .addColumn('last_modified', 'text', (c) => c.notNull())
          .addColumn('post_count', 'integer', (c) => c.notNull())
          .addColumn('start_at', bigint, (c) => c.notNull())
          .addColumn('end_at', bigint)
          .addColumn('issue', 'text', (c) => c.notNull())
          .addColumn('history', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('first_seen', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('m365_health_issues_pk', ['integration', 'id'])
          .execute();
        await db.schema
          .createIndex('m365_health_issues_open')
          .on('m365_health_issues')
          .columns(['integration', 'is_resolved', 'start_at'])
          .execute();
        await db.schema
          .createTable('m365_health_messages')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('last_modified', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('first_seen', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('m365_health_messages_pk', ['integration', 'id'])
          .execute();
        await db.schema
          .createTable('m365_health_incident_reports')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('issue_id', 'text', (c) => c.notNull())
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('body', bytes, (c) => c.notNull())
          .addColumn('size', 'integer', (c) => c.notNull())
          .addColumn('fetched_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('m365_health_incident_reports_pk', ['integration', 'issue_id'])
          .execute();
      },
    },
  };
}

/** One change of an issue as a sync saw it. */
export interface HistoryEntry {
  seenAt: string;
  lastModifiedDateTime: string;
  status: string;
  isResolved: boolean;
  postCount: number;
}

/** What a sync compares with Graph's list, per issue id. */
export interface IssueMark {
  lastModified: string;
  postCount: number;
  status: string;
  isResolved: boolean;
}

export interface StoredIssue {
  issue: HealthIssue;
  history: HistoryEntry[];
  summary: HealthSummary;
  firstSeen: number;
  updatedAt: number;
}

/** Every post of both lists once (by time and text), oldest first. */
export function mergePosts(kept: readonly HealthPost[], listed: readonly HealthPost[]): HealthPost[] {
  const byKey = new Map<string, HealthPost>();
  for (const p of [...kept, ...listed]) byKey.set(`${p.createdDateTime}\u0000${p.content}`, p);
  return [...byKey.values()].sort((a, b) => Date.parse(a.createdDateTime) - Date.parse(b.createdDateTime));
}

const time = (iso: string | null) => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
};

export class HealthStore {
  /** Statements that wrote a row since this store was made. */
  writes = 0;
  private readonly db: HealthDb;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as HealthDb;
  }

  async issueMarks(integration: string): Promise<Map<string, IssueMark>> {
    const rows = await this.db
      .selectFrom('m365_health_issues')
      .select(['id', 'last_modified', 'post_count', 'status', 'is_resolved'])
      .where('integration', '=', integration)
      .execute();
    return new Map(
      rows.map((r) => [
        r.id,
        {
          lastModified: r.last_modified,
          postCount: Number(r.post_count),
          status: r.status,
          isResolved: Number(r.is_resolved) === 1,
        },
      ]),
    );
  }

  /** Ids of the issues Microsoft has not resolved. */
  async openIssueIds(integration: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('m365_health_issues')
      .select('id')
      .where('integration', '=', integration)
      .where('is_resolved', '=', 0)
      .execute();
    return rows.map((r) => r.id);
  }

  async messageMarks(integration: string): Promise<Map<string, string>> {
    const rows = await this.db
      .selectFrom('m365_health_messages')
      .select(['id', 'last_modified'])
      .where('integration', '=', integration)
      .execute();
    return new Map(rows.map((r) => [r.id, r.last_modified]));
  }

  async reportIds(integration: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('m365_health_incident_reports')
      .select('issue_id')
      .where('integration', '=', integration)
      .execute();
    return new Set(rows.map((r) => r.issue_id));
  }

  async issue(integration: string, id: string): Promise<StoredIssue | undefined> {
    const r = await this.db
      .selectFrom('m365_health_issues')
      .selectAll()
      .where('integration', '=', integration)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toStored(r) : undefined;
  }

  /** Issues newest first; `openOnly` keeps those Microsoft has not resolved. */
  async issues(integration: string, o: { openOnly?: boolean } = {}): Promise<StoredIssue[]> {
    let q = this.db.selectFrom('m365_health_issues').selectAll().where('integration', '=', integration);
    if (o.openOnly) q = q.where('is_resolved', '=', 0);
    return (await q.orderBy('start_at', 'desc').execute()).map(toStored);
  }

  async messages(integration: string): Promise<HealthMessage[]> {
    const rows = await this.db
      .selectFrom('m365_health_messages')
      .select('message')
      .where('integration', '=', integration)
      .orderBy('last_modified', 'desc')
      .execute();
    return rows.map((r) => JSON.parse(r.message) as HealthMessage);
  }

  async report(integration: string, issueId: string): Promise<{ contentType: string; bytes: Buffer } | undefined> {
    const r = await this.db
      .selectFrom('m365_health_incident_reports')
      .select(['content_type', 'body'])
      .where('integration', '=', integration)
      .where('issue_id', '=', issueId)
      .executeTakeFirst();
    return r ? { contentType: r.content_type, bytes: Buffer.from(r.body) } : undefined;
  }

  /** Run `fn`'s writes atomically; `trx` lets other rows (flow events) commit with them. */
  transaction<R>(fn: (w: HealthWriter, trx: Kysely<Database>) => Promise<R>): Promise<R> {
    return this.db
      .transaction()
      .execute((trx) => fn(new HealthWriter(trx, () => this.writes++), trx as unknown as Kysely<Database>));
  }
}

/** The writes of one sync pass, inside its transaction. */
export class HealthWriter {
  constructor(
    private readonly trx: Transaction<Database & HealthTables>,
    private readonly counted: () => void,
  ) {}

  async putIssue(integration: string, s: StoredIssue, listedPostCount: number): Promise<void> {
    const i = s.issue;
    const row: M365HealthIssueTable = {
      integration,
      id: i.id,
      service: i.service,
      status: i.status,
      is_resolved: i.isResolved ? 1 : 0,
      last_modified: i.lastModifiedDateTime,
      post_count: listedPostCount,
      start_at: time(i.startDateTime) ?? s.firstSeen,
      end_at: time(i.endDateTime),
      issue: JSON.stringify(i),
      history: JSON.stringify(s.history),
      summary: JSON.stringify(s.summary),
      first_seen: s.firstSeen,
      updated_at: s.updatedAt,
    };
    const { integration: _i, id: _id, first_seen: _f, ...changes } = row;
    await this.trx
      .insertInto('m365_health_issues')
      .values(row)
      .onConflict((oc) => oc.columns(['integration', 'id']).doUpdateSet(changes))
      .execute();
    this.counted();
  }

  async putMessage(integration: string, m: HealthMessage, now: number): Promise<void> {
    await this.trx
      .insertInto('m365_health_messages')
      .values({
        integration,
        id: m.id,
        last_modified: m.lastModifiedDateTime,
        message: JSON.stringify(m),
        first_seen: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['integration', 'id'])
          .doUpdateSet({ last_modified: m.lastModifiedDateTime, message: JSON.stringify(m), updated_at: now }),
      )
      .execute();
    this.counted();
  }

  async putReport(integration: string, issueId: string, r: { bytes: Buffer; contentType: string }, now: number) {
    await this.trx
      .insertInto('m365_health_incident_reports')
      .values({
        integration,
        issue_id: issueId,
        content_type: r.contentType,
        body: r.bytes,
        size: r.bytes.length,
        fetched_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['integration', 'issue_id'])
          .doUpdateSet({ content_type: r.contentType, body: r.bytes, size: r.bytes.length, fetched_at: now }),
      )
      .execute();
    this.counted();
  }
}

function toStored(r: M365HealthIssueTable): StoredIssue {
  return {
    issue: JSON.parse(r.issue) as HealthIssue,
    history: JSON.parse(r.history) as HistoryEntry[],
    summary: JSON.parse(r.summary) as HealthSummary,
    firstSeen: Number(r.first_seen),
    updatedAt: Number(r.updated_at),
  };
}
