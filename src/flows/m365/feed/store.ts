import type { Kysely, Migration } from 'kysely';
import type { TicketRef } from '../../../itsm/port.ts';
import type { Dialect } from '../../../store/db.ts';
import type { Database } from '../../../store/schema.ts';
import type { Verdict } from '../match/matcher.ts';

/**
 * What the incident feed has seen and suggested: where each integration's feed stands (its
 * watermark), the incidents read (with a hash of the text matched, so an unchanged incident read
 * again writes nothing), and the suggested matches with their reasons and the agents' verdicts.
 * A suggestion's work note and parent link are recorded once written, so retries never repeat them.
 */

export type MatchStatus = 'suggested' | 'confirmed' | 'rejected';
export const MATCH_STATUSES: readonly MatchStatus[] = ['suggested', 'confirmed', 'rejected'];

export interface M365FeedTable {
  integration: string;
  watermark: string;
  updated_at: number;
}

export interface M365MatchIncidentTable {
  integration: string;
  incident_id: string;
  /** JSON TicketRef. */
  incident: string;
  incident_key: string;
  title: string;
  /** The text matched (title and description, bounded): confirmations teach the matcher with it. */
  text: string;
  text_hash: string;
  opened_at: string;
  matched_at: number;
  /** ISO time of the newest work-note command taken from it: older ones are not taken again. */
  commands_at: string | null;
}

export interface M365MatchTable {
  integration: string;
  incident_id: string;
  issue_id: string;
  /** 1–3 while it is among the incident's top matches; null for a verdict on an issue not suggested. */
  rank: number | null;
  score: number | null;
  why: string;
  status: MatchStatus;
  noted_at: number | null;
  linked_at: number | null;
  verdict_by: string | null;
  verdict_at: number | null;
  comment: string | null;
  created_at: number;
  updated_at: number;
}

interface FeedTables {
  m365_feed: M365FeedTable;
  m365_match_incidents: M365MatchIncidentTable;
  m365_matches: M365MatchTable;
}
export type FeedDb = Kysely<Database & FeedTables>;

export function m365MatchMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    '0016_m365_matches': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('m365_feed')
          .addColumn('integration', 'text', (c) => c.primaryKey())
          .addColumn('watermark', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('m365_match_incidents')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('incident_id', 'text', (c) => c.notNull())
          .addColumn('incident', 'text', (c) => c.notNull())
          .addColumn('incident_key', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('text_hash', 'text', (c) => c.notNull())
          .addColumn('opened_at', 'text', (c) => c.notNull())
          .addColumn('matched_at', bigint, (c) => c.notNull())
          .addColumn('commands_at', 'text')
          .addPrimaryKeyConstraint('m365_match_incidents_pk', ['integration', 'incident_id'])
          .execute();
        await db.schema
          .createIndex('m365_match_incidents_key')
          .on('m365_match_incidents')
          .columns(['integration', 'incident_key'])
          .execute();
        await db.schema
          .createTable('m365_matches')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('incident_id', 'text', (c) => c.notNull())
          .addColumn('issue_id', 'text', (c) => c.notNull())
          .addColumn('rank', 'integer')
          .addColumn('score', real)
          .addColumn('why', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('noted_at', bigint)
          .addColumn('linked_at', bigint)
          .addColumn('verdict_by', 'text')
          .addColumn('verdict_at', bigint)
          .addColumn('comment', 'text')
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('m365_matches_pk', ['integration', 'incident_id', 'issue_id'])
          .execute();
        await db.schema
          .createIndex('m365_matches_status')
          .on('m365_matches')
          .columns(['integration', 'status', 'updated_at'])
          .execute();
      },
    },
  };
}

/** A match as the API shows it (a type, so that it is a plain record for the response schema). */
export type MatchView = {
  incident: TicketRef;
  title: string;
  issue: string;
  rank: number | null;
  score: number | null;
  why: string;
  status: MatchStatus;
  noted: boolean;
  linked: boolean;
  verdictBy: string | null;
  verdictAt: string | null;
  comment: string | null;
  updatedAt: string;
};

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export class MatchStore {
  readonly db: FeedDb;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as FeedDb;
  }

  static of(db: Kysely<Database>): FeedDb {
    return db as unknown as FeedDb;
  }

  async watermark(integration: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('m365_feed')
      .select('watermark')
      .where('integration', '=', integration)
      .executeTakeFirst();
    return row?.watermark;
  }

  async setWatermark(trx: Kysely<Database>, integration: string, watermark: string, now: number): Promise<void> {
    await MatchStore.of(trx)
      .insertInto('m365_feed')
      .values({ integration, watermark, updated_at: now })
      .onConflict((oc) => oc.column('integration').doUpdateSet({ watermark, updated_at: now }))
      .execute();
  }

  async incident(integration: string, idOrKey: string): Promise<M365MatchIncidentTable | undefined> {
    return this.db
      .selectFrom('m365_match_incidents')
      .selectAll()
      .where('integration', '=', integration)
      .where((eb) => eb.or([eb('incident_id', '=', idOrKey), eb('incident_key', '=', idOrKey.toUpperCase())]))
      .executeTakeFirst();
  }

  /** What is kept of these incidents: the text hash (to skip unchanged ones) and the last command's time. */
  async marks(integration: string, ids: string[]): Promise<Map<string, { hash: string; commandsAt: string }>> {
    if (!ids.length) return new Map();
    const rows = await this.db
      .selectFrom('m365_match_incidents')
      .select(['incident_id', 'text_hash', 'commands_at'])
      .where('integration', '=', integration)
      .where('incident_id', 'in', ids)
      .execute();
    return new Map(rows.map((r) => [r.incident_id, { hash: r.text_hash, commandsAt: r.commands_at ?? '' }]));
  }

  async matchesOf(db: Kysely<Database>, integration: string, incidentId: string): Promise<M365MatchTable[]> {
    return MatchStore.of(db)
      .selectFrom('m365_matches')
      .selectAll()
      .where('integration', '=', integration)
      .where('incident_id', '=', incidentId)
      .execute();
  }

  async match(integration: string, incidentId: string, issueId: string): Promise<M365MatchTable | undefined> {
    return this.db
      .selectFrom('m365_matches')
      .selectAll()
      .where('integration', '=', integration)
      .where('incident_id', '=', incidentId)
      .where('issue_id', '=', issueId)
      .executeTakeFirst();
  }

  /** Every verdict of the integration, as the matcher takes them (confirmations with their incident's text). */
  async feedback(integration: string): Promise<Verdict[]> {
    const rows = await this.db
      .selectFrom('m365_matches as m')
      .innerJoin('m365_match_incidents as i', (j) =>
        j.onRef('i.integration', '=', 'm.integration').onRef('i.incident_id', '=', 'm.incident_id'),
      )
      .select(['m.incident_id', 'm.issue_id', 'm.status', 'i.text'])
      .where('m.integration', '=', integration)
      .where('m.status', 'in', ['confirmed', 'rejected'])
      .execute();
    return rows.map((r) => ({
      incident: r.incident_id,
      issue: r.issue_id,
      verdict: r.status === 'confirmed' ? 'confirmed' : 'rejected',
      text: r.status === 'confirmed' ? r.text : undefined,
    }));
  }

  async list(
    integration: string,
    o: { incidentId?: string; status?: MatchStatus; limit?: number } = {},
  ): Promise<MatchView[]> {
    let query = this.db
      .selectFrom('m365_matches as m')
      .innerJoin('m365_match_incidents as i', (j) =>
        j.onRef('i.integration', '=', 'm.integration').onRef('i.incident_id', '=', 'm.incident_id'),
      )
      .selectAll('m')
      .select(['i.incident', 'i.title'])
      .where('m.integration', '=', integration)
      // Suggestions that left the top 3 are kept for their notes, not shown.
      .where((eb) => eb.or([eb('m.status', '!=', 'suggested'), eb('m.rank', 'is not', null)]));
    if (o.incidentId) query = query.where('m.incident_id', '=', o.incidentId);
    if (o.status) query = query.where('m.status', '=', o.status);
    const rows = await query
      .orderBy('m.updated_at', 'desc')
      .orderBy('m.incident_id')
      .orderBy('m.rank')
      .limit(o.limit ?? 200)
      .execute();
    return rows.map((r) => ({
      incident: JSON.parse(r.incident) as TicketRef,
      title: r.title,
      issue: r.issue_id,
      rank: r.rank,
      score: r.score === null ? null : Number(r.score),
      why: r.why,
      status: r.status,
      noted: r.noted_at !== null,
      linked: r.linked_at !== null,
      verdictBy: r.verdict_by,
      verdictAt: isoOrNull(r.verdict_at),
      comment: r.comment,
      updatedAt: new Date(Number(r.updated_at)).toISOString(),
    }));
  }

  async markDone(
    integration: string,
    incidentId: string,
    issueId: string,
    what: 'noted_at' | 'linked_at',
    now: number,
  ) {
    await this.db
      .updateTable('m365_matches')
      .set({ [what]: now })
      .where('integration', '=', integration)
      .where('incident_id', '=', incidentId)
      .where('issue_id', '=', issueId)
      .execute();
  }
}
