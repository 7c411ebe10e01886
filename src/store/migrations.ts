import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { appendAudit } from './audit.ts';
import type { Dialect, Store } from './db.ts';
import type { Keyring } from './keys.ts';

/**
 * Versioned migrations, in code so they ship with the build: the core's here, each module's in its
 * folder. Run on start and by `ticketloop migrate`. Never edit a released migration: add the next one.
 */
function coreMigrations(dialect: Dialect, keys: Keyring): Record<string, Migration> {
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
    '0003_schedule_last_job': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('schedules').addColumn('last_job_key', 'text').execute();
      },
    },
    // Urgent jobs (a closed ticket's change, a resume) are claimed before a backlog of older normal
    // ones. A partial index keeps that lookup cheap: it holds only ready urgent jobs.
    '0004_job_priority': {
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable('jobs')
          .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await sql`CREATE INDEX jobs_claim_urgent ON jobs (run_at) WHERE state = 'ready' AND priority > 0`.execute(db);
      },
    },
    // The ITSM watch's state in tables of its own (it was kept in `kv` under string prefixes):
    // a watermark per connection and kind, and every ticket Ticketloop tracks with its last version.
    '0005_itsm_state': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('itsm_watermark')
          .addColumn('system', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('watermark', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('itsm_watermark_pk', ['system', 'kind'])
          .execute();
        await db.schema
          .createTable('itsm_ticket')
          .addColumn('system', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('correlation', 'text', (c) => c.notNull())
          .addColumn('version', 'text')
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('itsm_ticket_pk', ['system', 'kind', 'id'])
          .execute();
        await moveKvRows(db, 'watermark:servicenow:', async (rest, value, at) => {
          // watermark:servicenow:<instance>/<table> → {"ts": "YYYY-MM-DD HH:MM:SS"}
          const slash = rest.lastIndexOf('/');
          const row = { system: rest.slice(0, slash), kind: rest.slice(slash + 1), watermark: value, updated_at: at };
          await db.insertInto('itsm_watermark').values(row).execute();
        });
        await moveKvRows(db, 'ticket:', async (rest, value, at) => {
          // ticket:<instance>:<table>:<sys_id> → {"correlationId", "modCount"}
          const [id, kind, ...system] = rest.split(':').reverse();
          const known = JSON.parse(value) as { correlationId: string; modCount?: string };
          const row = {
            system: system.reverse().join(':'),
            kind,
            id,
            correlation: known.correlationId,
            version: known.modCount ?? null,
            updated_at: at,
          };
          await db.insertInto('itsm_ticket').values(row).execute();
        });
      },
    },
    // The audit chain keyed (store/audit.ts): a MAC per row, and one keyed row now, whose hash
    // chains up over every row written before, so those are vouched for too. And the id of the key
    // secrets are written with, so a process holding another key refuses to write (config/secrets.ts).
    '0006_audit_mac': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('audit_log').addColumn('mac', 'text').execute();
        await db.schema
          .createTable('secret_key_state')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('kid', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db
          .insertInto('secret_key_state')
          .values({ id: 1, kid: keys.current.kid, updated_at: Date.now() })
          .execute();
        const head = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
        const legacyRows = Number(head?.seq ?? 0);
        if (legacyRows > 0) {
          const detail = { action: 'audit-chain-keyed', legacyRows, algorithm: 'HMAC-SHA256', key: keys.current.kid };
          await appendAudit(
            db,
            [{ kind: 'security', actor: 'ticketloop', subject: 'audit', detail }],
            Date.now(),
            keys,
          );
        }
      },
    },
    // Identity (src/identity/): users with roles, browser sessions, API tokens (stored as SHA-256),
    // pending OpenID Connect sign-ins and first-admin setup tokens. No secret is stored in clear.
    '0007_identity': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('identity_user')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.unique())
          .addColumn('password_hash', 'text')
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('locked_until', bigint)
          .addColumn('last_sign_in_at', bigint)
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('identity_session')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('csrf', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('seen_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('identity_session_user').on('identity_session').column('user_id').execute();
        await db.schema
          .createTable('identity_token')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text')
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .addColumn('last_used_at', bigint)
          .addColumn('revoked_at', bigint)
          .execute();
        await db.schema.createIndex('identity_token_user').on('identity_token').column('user_id').execute();
        await db.schema
          .createTable('identity_oidc_flow')
          .addColumn('state_hash', 'text', (c) => c.primaryKey())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('verifier', 'text', (c) => c.notNull())
          .addColumn('return_to', 'text', (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('identity_setup')
          .addColumn('hash', 'text', (c) => c.primaryKey())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
  };
}

/**
 * A module's migrations (flows and adapters bring their own). Names sort globally — `NNNN_<module>_<what>`
 * — and run together with the core's, in name order; a module may add one numbered below a core
 * migration already applied (unordered migrations are allowed), so modules never renumber.
 */
export type Migrations = (dialect: Dialect) => Record<string, Migration>;

class CodeMigrations implements MigrationProvider {
  constructor(
    private readonly dialect: Dialect,
    private readonly keys: Keyring,
    private readonly extra: Migrations[],
  ) {}
  async getMigrations() {
    const all: Record<string, Migration> = { ...coreMigrations(this.dialect, this.keys) };
    for (const more of this.extra) {
      for (const [name, m] of Object.entries(more(this.dialect))) {
        if (all[name]) throw new Error(`two migrations are named ${name}`);
        all[name] = m;
      }
    }
    return all;
  }
}

function migrator(store: Store, extra: Migrations[]) {
  return new Migrator({
    db: store.db,
    provider: new CodeMigrations(store.dialect, store.keys, extra),
    allowUnorderedMigrations: true,
  });
}

export async function migrateToLatest(store: Store, extra: Migrations[] = []): Promise<string[]> {
  const { error, results } = await migrator(store, extra).migrateToLatest();
  if (error) throw new Error(`migration failed: ${(error as Error).message ?? error}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Apply migrations up to and including `name` (upgrade tests start from an older schema this way). */
export async function migrateTo(store: Store, extra: Migrations[], name: string): Promise<void> {
  const { error } = await migrator(store, extra).migrateTo(name);
  if (error) throw new Error(`migration failed: ${(error as Error).message ?? error}`);
}

/** Pending migration names ([] = up to date). Used by /readyz. */
export async function pendingMigrations(store: Store, extra: Migrations[] = []): Promise<string[]> {
  const all = await migrator(store, extra).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}

/** Move the `kv` rows under `prefix` (the old catch-all table, left in place) to a table of their own. */
export async function moveKvRows(
  db: Kysely<any>,
  prefix: string,
  insert: (rest: string, value: string, updatedAt: number) => Promise<void>,
): Promise<void> {
  const rows = await db
    .selectFrom('kv')
    .select(['key', 'value', 'updated_at'])
    .where('key', 'like', `${prefix}%`)
    .execute();
  for (const r of rows)
    if (r.key.startsWith(prefix)) await insert(r.key.slice(prefix.length), r.value, Number(r.updated_at));
  await db.deleteFrom('kv').where('key', 'like', `${prefix}%`).execute();
}
