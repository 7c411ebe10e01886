import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../../store/db.ts';
import { moveKvRows } from '../../store/migrations.ts';
import type { Database } from '../../store/schema.ts';

/** The Defender flow's own tables, and the migrations that make them. */

/** An unhealthy assessment being tracked (healthy ones have no row). */
export interface DefenderAssessmentTable {
  integration: string;
  /** Hash of the assessment's ARM id. */
  id: string;
  /** The flow item (ticket) it belongs to; null while held back by the daily cap. */
  item: string | null;
  /** Assessment key (recommendation GUID). */
  name: string;
  resource_id: string;
  severity: string;
  /** The ticket key its governance assignment carries; null = none written yet. */
  governed_ticket: string | null;
  /** Reconcile pass that last saw it. */
  seen: number;
}

/** An integration created over the API (those in the configuration file are not stored). */
export interface DefenderIntegrationTable {
  name: string;
  /** The validated integration, as JSON. */
  config: string;
  /** Set when deleted: the row stays as a tombstone while the clean-up jobs still need its settings. */
  deleted_at: number | null;
  updated_at: number;
}

/** Per integration: the last reconcile pass, the daily ticket cap, and the last pass's figures. */
export interface DefenderPassTable {
  integration: string;
  pass: number;
  cap_day: string | null;
  cap_opened: number;
  last_stats: string | null;
  /** JSON list of the mapping's people the ITSM does not know (people.ts); null while all are known. */
  blocked: string | null;
  updated_at: number;
}

/** An integration of the configuration file as last seen there: removal.ts notices when it goes. */
export interface DefenderConfigIntegrationTable {
  name: string;
  /** The integration as JSON, without secrets: the jobs cleaning up after it need its settings. */
  config: string;
  /** When a start found it missing from the file; null while it is there. */
  gone_at: number | null;
  updated_at: number;
}

/** A "Create assignment" made by a person: its item carries the settings; this row says who and which ticket kind. */
export interface DefenderManualAssignmentTable {
  id: string;
  integration: string;
  /** The flow item it opened. */
  item: string;
  assessment_key: string;
  ticket_type: string;
  /** Resources it was made for. */
  resources: number;
  created_by: string;
  created_at: number;
}

export interface DefenderTables {
  defender_assessment: DefenderAssessmentTable;
  defender_config_integration: DefenderConfigIntegrationTable;
  defender_integration: DefenderIntegrationTable;
  defender_pass: DefenderPassTable;
  defender_manual_assignment: DefenderManualAssignmentTable;
}

export type DefenderDb = Kysely<Database & DefenderTables>;

/** The app's database, seen with this module's tables too. */
export const defenderDb = (db: Kysely<Database>) => db as unknown as DefenderDb;

/** The same database (or transaction) handed back to the core's functions. */
export const coreDb = (db: DefenderDb) => db as unknown as Kysely<Database>;

export function defenderMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    // One compact row per unhealthy assessment being tracked, so a reconcile pass diffs each page
    // against stored rows in one query. (Its name predates per-module migrations: kept as applied.)
    '0002_defender': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('defender_assessment')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('item', 'text')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('resource_id', 'text', (c) => c.notNull())
          .addColumn('severity', 'text', (c) => c.notNull())
          .addColumn('gov', 'text')
          .addColumn('seen', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('defender_assessment_pk', ['integration', 'id'])
          .execute();
        await db.schema
          .createIndex('defender_assessment_item')
          .on('defender_assessment')
          .columns(['integration', 'item'])
          .execute();
      },
    },
    // API integrations, their tombstones and each integration's pass state, out of `kv`.
    '0005_defender_state': {
      async up(db: Kysely<any>) {
        await sql`ALTER TABLE defender_assessment RENAME COLUMN gov TO governed_ticket`.execute(db);
        await db.schema
          .createTable('defender_integration')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('deleted_at', bigint)
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('defender_pass')
          .addColumn('integration', 'text', (c) => c.primaryKey())
          .addColumn('pass', bigint, (c) => c.notNull())
          .addColumn('cap_day', 'text')
          .addColumn('cap_opened', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_stats', 'text')
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await moveKvRows(db, 'defender:integration:', (name, config, at) =>
          db
            .insertInto('defender_integration')
            .values({ name, config, deleted_at: null, updated_at: at })
            .execute()
            .then(() => {}),
        );
        await moveKvRows(db, 'defender:deleted:', (name, config, at) =>
          db
            .insertInto('defender_integration')
            .values({ name, config, deleted_at: at, updated_at: at })
            .onConflict((oc) => oc.column('name').doNothing())
            .execute()
            .then(() => {}),
        );
        const passRow = (integration: string, at: number) =>
          db
            .insertInto('defender_pass')
            .values({ integration, pass: 0, cap_opened: 0, updated_at: at })
            .onConflict((oc) => oc.column('integration').doNothing())
            .execute();
        await moveKvRows(db, 'defender:pass:', async (integration, value, at) => {
          await passRow(integration, at);
          await db
            .updateTable('defender_pass')
            .set({ pass: Number(value) })
            .where('integration', '=', integration)
            .execute();
        });
        await moveKvRows(db, 'defender:cap:', async (integration, value, at) => {
          await passRow(integration, at);
          const cap = JSON.parse(value) as { day?: string; opened?: number };
          await db
            .updateTable('defender_pass')
            .set({ cap_day: cap.day ?? null, cap_opened: cap.opened ?? 0 })
            .where('integration', '=', integration)
            .execute();
        });
        await moveKvRows(db, 'defender:last:', async (integration, value, at) => {
          await passRow(integration, at);
          await db
            .updateTable('defender_pass')
            .set({ last_stats: value })
            .where('integration', '=', integration)
            .execute();
        });
      },
    },
    // Manual assignments ("Create assignment" in the console or API), so the watch follows their ticket kinds.
    '0011_defender_manual': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('defender_manual_assignment')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('item', 'text', (c) => c.notNull())
          .addColumn('assessment_key', 'text', (c) => c.notNull())
          .addColumn('ticket_type', 'text', (c) => c.notNull())
          .addColumn('resources', 'integer', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('defender_manual_assignment_integration')
          .on('defender_manual_assignment')
          .column('integration')
          .execute();
      },
    },
    // Reconcile stopped by unknown people (issue #16 item 2); config-file integrations as last seen (item 4).
    '0012_defender_people_removal': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('defender_pass').addColumn('blocked', 'text').execute();
        await db.schema
          .createTable('defender_config_integration')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('gone_at', bigint)
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
  };
}
