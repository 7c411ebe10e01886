import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Engine } from '../../src/engine/engine.ts';
import { openStore } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';
import { appendAudit } from '../../src/store/audit.ts';

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TICKETLOOP_CONFIG: '', DATABASE_URL: '', ...env },
  });
}

test('jobs dead / retry and audit verify from the command line', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-cli-'));
  const env = { TICKETLOOP_DATA_DIR: dataDir };
  const store = await openStore({ dataDir });
  await migrateToLatest(store);
  const engine = new Engine({ store });
  engine.register('cli.fails', async () => {
    throw new Error('ServiceNow said 400: close_code is mandatory');
  });
  await engine.enqueue({ kind: 'cli.fails', key: 'cli-1', maxAttempts: 1 });
  await engine.drain();
  await store.db.transaction().execute((trx) =>
    appendAudit(
      trx,
      [
        { kind: 'admin', actor: 'test', subject: 'x', detail: { a: 1 } },
        { kind: 'admin', actor: 'test', subject: 'y', detail: { b: 2 } },
      ],
      Date.now(),
    ),
  );
  await store.close();

  const dead = cli(['jobs', 'dead'], env);
  assert.equal(dead.status, 0, dead.stderr);
  assert.match(dead.stdout, /cli\.fails\s+dead\s+1\/1/);
  assert.match(dead.stdout, /close_code is mandatory/);

  const retry = cli(['jobs', 'retry', '--all'], env);
  assert.equal(retry.status, 0, retry.stderr);
  assert.match(retry.stdout, /re-queued 1 job/);
  assert.match(cli(['jobs', 'list', '--state', 'ready'], env).stdout, /cli\.fails\s+ready\s+0\/1/);
  assert.equal(cli(['jobs', 'retry', '--all'], env).status, 1, 'nothing left to retry');

  const ok = cli(['audit', 'verify'], env);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /audit log OK: \d+ rows/);

  const s2 = await openStore({ dataDir });
  await sql`DROP TRIGGER audit_log_no_update`.execute(s2.db);
  await sql`UPDATE audit_log SET subject = 'tampered' WHERE seq = 1`.execute(s2.db);
  await s2.close();
  const bad = cli(['audit', 'verify'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /row 1 was edited/);
});

test('an unreachable database at start is a clear error and a non-zero exit', () => {
  const r = cli(['start'], {
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/ticketloop',
    TICKETLOOP_DATA_DIR: mkdtempSync(join(tmpdir(), 'tl-cli-')),
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot start: database unreachable \(postgres 127\.0\.0\.1:1\/ticketloop\)/);
});

test('an invalid configuration starts nothing', () => {
  const r = cli(['start'], {
    TICKETLOOP__server__port: '"not a port"',
    TICKETLOOP_DATA_DIR: mkdtempSync(join(tmpdir(), 'tl-cli-')),
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /server\.port: /);
});
