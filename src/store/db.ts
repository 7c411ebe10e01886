import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { ensurePrivateDir, ensurePrivateFile, restrictExisting } from './files.ts';
import { loadKeyring, type Keyring } from './keys.ts';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it lives, without credentials (for logs and errors). */
  description: string;
  /** The secret key(s): stored secrets are encrypted and audit rows MAC'd with them (keys.ts). */
  keys: Keyring;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… — when set, PostgreSQL; otherwise SQLite in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** SQLite file name inside dataDir (default ticketloop.db); ':memory:' for tests. */
  sqliteFile?: string;
  poolSize?: number;
  /** Default: TICKETLOOP_SECRET_KEY, or dataDir/secret.key (created if absent). */
  keys?: Keyring;
}

// pg returns BIGINT (int8) as strings; our bigints are epoch-ms times that fit a double.
pg.types.setTypeParser(20, (v) => Number(v));

export class StoreUnavailableError extends Error {
  constructor(description: string, cause: unknown) {
    super(`database unreachable (${description}): ${(cause as Error)?.message ?? cause}`);
    this.name = 'StoreUnavailableError';
  }
}

export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres ${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'postgres (unparseable DATABASE_URL)';
  }
}

export async function openStore(o: StoreOptions): Promise<Store> {
  const keys = o.keys ?? loadKeyring(o.dataDir);
  if (o.databaseUrl) {
    const description = describeDatabaseUrl(o.databaseUrl);
    const pool = new pg.Pool({
      connectionString: o.databaseUrl,
      max: o.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    // A client losing its connection (idle in the pool, or checked out between two queries of a
    // transaction) must not crash the process: the query in flight fails, the pool drops the client.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      await sql`select 1`.execute(db);
    } catch (e) {
      await db.destroy().catch(() => {});
      throw new StoreUnavailableError(description, e);
    }
    return { db, dialect: 'postgres', description, keys, close: () => db.destroy() };
  }
  const file = o.sqliteFile === ':memory:' ? ':memory:' : join(o.dataDir, o.sqliteFile ?? 'ticketloop.db');
  let database: SQLite.Database;
  try {
    // The file exists 0600 before SQLite opens it; SQLite gives its -wal and -shm the database's mode.
    if (file !== ':memory:') {
      ensurePrivateDir(o.dataDir);
      ensurePrivateFile(file);
    }
    database = new SQLite(file);
  } catch (e) {
    throw new StoreUnavailableError(`sqlite ${file}`, e);
  }
  database.pragma('journal_mode = WAL');
  // Left by an older version (or another tool) with wider modes: narrowed too.
  if (file !== ':memory:') restrictExisting([`${file}-wal`, `${file}-shm`]);
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  // 16 MiB of page cache (default 2 MiB): the job and state indexes stay in memory under load.
  database.pragma('cache_size = -16384');
  database.pragma('temp_store = MEMORY');
  cacheStatements(database);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', description: `sqlite ${file}`, keys, close: () => db.destroy() };
}

/**
 * Kysely prepares every query afresh; on SQLite, preparing costs about as much as running the
 * statement. Reuse prepared statements by SQL text (bounded: multi-row inserts vary in shape).
 * A statement still being iterated is busy and cannot be reused, so that caller gets a new one.
 */
function cacheStatements(database: SQLite.Database, max = 256): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, SQLite.Statement>();
  database.prepare = ((sql: string) => {
    const hit = cache.get(sql);
    if (hit && !hit.busy) {
      cache.delete(sql); // re-insert: the Map's order is the LRU order
      cache.set(sql, hit);
      return hit;
    }
    const stmt = prepare(sql);
    if (!hit) {
      cache.set(sql, stmt);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
    }
    return stmt;
  }) as typeof database.prepare;
}

/**
 * True when the error means the database itself is gone (not a constraint or syntax error).
 * Socket codes count only with a `syscall` — the database socket's own connect/read/write: an
 * HTTP client hanging up raises ECONNRESET ("aborted") too, without one, and is not a database error.
 */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof StoreUnavailableError) return true;
  const err = e as { code?: string; message?: string; syscall?: string };
  const code = err?.code ?? '';
  return (
    (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) && !!err.syscall) ||
    ['53300', '57P01', '57P02', '57P03'].includes(code) ||
    code.startsWith('08') ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|not currently accepting connections|terminating connection/i.test(
      err?.message ?? '',
    )
  );
}
