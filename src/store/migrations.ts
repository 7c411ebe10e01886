import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect, Store } from './db.ts';

/**
 * Versioned migrations, in code so they ship with the build. Run on start and by
 * `ticketloop migrate`. Never edit a released migration: add the next one.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0001_core': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull().unique())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('run_at', bigint, (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', bigint)
          .addColumn('last_error', 'text')
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addColumn('finished_at', bigint)
          .execute();
        // The claim query walks this index: due ready jobs, and running jobs whose lease expired.
        await db.schema.createIndex('jobs_claim').on('jobs').columns(['state', 'run_at']).execute();
        await db.schema.createIndex('jobs_lease').on('jobs').columns(['state', 'lease_until']).execute();

        await db.schema
          .createTable('schedules')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('interval_ms', bigint, (c) => c.notNull())
          .addColumn('next_run_at', bigint, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('flow_state')
          .addColumn('flow', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('flow_state_pk', ['flow', 'id'])
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('seq', bigint, (c) => c.primaryKey())
          .addColumn('at', bigint, (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('detail', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_subject').on('audit_log').columns(['subject', 'seq']).execute();
        await db.schema
          .createTable('audit_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', bigint, (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: 'genesis' }).execute();

        // Append-only: the database itself refuses to edit or delete audit rows.
        if (dialect === 'postgres') {
          await sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`.execute(db);
          await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
        } else {
          await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
          await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
        }

        await db.schema
          .createTable('secrets')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('ciphertext', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('kv')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    // Defender for Cloud: one compact row per unhealthy assessment being tracked (healthy ones
    // have no row), so a reconcile pass diffs each page against stored rows in one query.
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
        await db.schema.createIndex('defender_assessment_item').on('defender_assessment').columns(['integration', 'item']).execute();
      },
    },
    '0003_schedule_last_job': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('schedules').addColumn('last_job_key', 'text').execute();
      },
    },
    // Urgent jobs (a closed ticket's change, a resume) are claimed before a backlog of older normal
    // ones. A partial index keeps that lookup cheap: it holds only ready urgent jobs.
    '0004_job_priority': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('jobs').addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await sql`CREATE INDEX jobs_claim_urgent ON jobs (run_at) WHERE state = 'ready' AND priority > 0`.execute(db);
      },
    },
  };
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations() {
    return migrations(this.dialect);
  }
}

export const LATEST_MIGRATION = Object.keys(migrations('sqlite')).sort().at(-1)!;

function migrator(store: Store) {
  return new Migrator({ db: store.db, provider: new CodeMigrations(store.dialect) });
}

export async function migrateToLatest(store: Store): Promise<string[]> {
  const { error, results } = await migrator(store).migrateToLatest();
  if (error) throw new Error(`migration failed: ${(error as Error).message ?? error}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Pending migration names ([] = up to date). Used by /readyz. */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const all = await migrator(store).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
