import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';

/**
 * Store and engine tests run on both dialects. PostgreSQL tests create and drop their own
 * database; where no PostgreSQL is reachable they skip and say so — except in CI, where a
 * missing PostgreSQL is a failure.
 */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let pgReachable: Promise<boolean> | undefined;
export function postgresReachable(): Promise<boolean> {
  // A few tries with time to spare: on a loaded 2-core CI machine one slow connect is not "no PostgreSQL".
  pgReachable ??= (async () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 10_000 });
      try {
        await c.connect();
        await c.end();
        return true;
      } catch {
        await c.end().catch(() => {});
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
    return false;
  })();
  return pgReachable;
}

/** A fresh, empty PostgreSQL database (`<prefix>_<pid>_<random>`) and the way to drop it. */
export async function createPgDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(ADMIN_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestDatabase {
  /** DATABASE_URL for child processes; undefined for SQLite. */
  url?: string;
  dataDir: string;
  open(): Promise<Store>;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-test-'));
  if (dialect === 'sqlite') {
    return {
      dataDir,
      open: async () => {
        const s = await openStore({ dataDir });
        await migrateToLatest(s);
        return s;
      },
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const { url, drop } = await createPgDatabase('tl_test');
  return {
    url,
    dataDir,
    open: async () => {
      const s = await openStore({ dataDir, databaseUrl: url, poolSize: 8 });
      await migrateToLatest(s);
      return s;
    },
    drop: async () => {
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `skip` reason for a PostgreSQL suite, or false to run it. CI never skips. */
export async function postgresSkip(): Promise<string | false> {
  if (await postgresReachable()) return false;
  if (process.env.CI)
    throw new Error(`PostgreSQL not reachable at ${ADMIN_DATABASE_URL}; CI must run the PostgreSQL tests`);
  return `PostgreSQL not reachable at ${ADMIN_DATABASE_URL} — skipping the PostgreSQL run`;
}

export const DIALECTS = ['sqlite', 'postgres'] as const;

export interface DialectContext {
  dialect: 'sqlite' | 'postgres';
  tdb: TestDatabase;
  /** Reassignable: a test may close it and reopen (a "restart"). */
  store: Store;
}

/**
 * The same suite on SQLite and on PostgreSQL, each with a fresh database made before and dropped
 * after. Await it at the top level (PostgreSQL's reachability decides whether that run skips).
 */
export async function describeEachDialect(title: string, body: (ctx: DialectContext) => void): Promise<void> {
  const { describe, before, after } = await import('node:test');
  for (const dialect of DIALECTS) {
    describe(`${title} on ${dialect}`, { skip: dialect === 'postgres' ? await postgresSkip() : false }, () => {
      const ctx = { dialect } as DialectContext;
      before(async () => {
        ctx.tdb = await createTestDatabase(dialect);
        ctx.store = await ctx.tdb.open();
      });
      after(async () => {
        await ctx.store.close();
        await ctx.tdb.drop();
      });
      body(ctx);
    });
  }
}
