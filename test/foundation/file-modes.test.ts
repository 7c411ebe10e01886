import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { openStore } from '../../src/store/db.ts';
import { ensurePrivateDir, ensurePrivateFile } from '../../src/store/files.ts';

// Security review, issue 10, finding 8: the database and its WAL were created 0644 in a 0755
// directory. Now the data directory is 0700 and every file 0600, whatever the umask.

const root = mkdtempSync(join(tmpdir(), 'tl-modes-'));
const mode = (p: string) => statSync(p).mode & 0o777;
const umask = process.umask(0o000); // the most permissive umask: modes must not depend on it
after(() => {
  process.umask(umask);
  rmSync(root, { recursive: true, force: true });
});

const STORE_FILES = ['ticketloop.db', 'ticketloop.db-wal', 'ticketloop.db-shm'];

function assertPrivateStore(dataDir: string) {
  assert.equal(mode(dataDir).toString(8), '700');
  for (const f of STORE_FILES) assert.equal(mode(join(dataDir, f)).toString(8), '600', f);
}

async function openAndWrite(dataDir: string) {
  const store = await openStore({ dataDir });
  await sql`create table if not exists t (x integer)`.execute(store.db);
  await sql`insert into t values (1)`.execute(store.db);
  return store;
}

test('a new SQLite store: data directory 0700; database, -wal and -shm 0600', async () => {
  const dataDir = join(root, 'fresh', 'data');
  const store = await openAndWrite(dataDir);
  try {
    assertPrivateStore(dataDir);
  } finally {
    await store.close();
  }
});

test('an existing world-readable directory and database are narrowed on open', async () => {
  const dataDir = join(root, 'old');
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o755);
  const first = await openAndWrite(dataDir);
  await first.close();
  for (const f of STORE_FILES) {
    try {
      chmodSync(join(dataDir, f), 0o644);
    } catch {
      // -wal and -shm are removed on a clean close
    }
  }
  chmodSync(dataDir, 0o755);
  const store = await openAndWrite(dataDir);
  try {
    assertPrivateStore(dataDir);
  } finally {
    await store.close();
  }
});

test('the log directory and log file (demo) are 0700 / 0600', () => {
  const dir = join(root, 'logs');
  ensurePrivateDir(dir);
  const file = join(dir, 'ticketloop.log');
  writeFileSync(file, 'old line\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  ensurePrivateFile(file);
  assert.equal(mode(dir).toString(8), '700');
  assert.equal(mode(file).toString(8), '600');
  ensurePrivateFile(join(dir, 'new.log'));
  assert.equal(mode(join(dir, 'new.log')).toString(8), '600');
});
