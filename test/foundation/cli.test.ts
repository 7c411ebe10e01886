import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
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
      store.keys,
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

test('usage errors: one line naming the problem, the command usage, exit 2, no stack trace', () => {
  const env = { TICKETLOOP_DATA_DIR: mkdtempSync(join(tmpdir(), 'tl-cli-')) };
  for (const [args, problem] of [
    [['start', '--bogus'], /^error: unknown option '--bogus'$/m],
    [['nosuch'], /^error: unknown command 'nosuch'$/m],
    [
      ['start', '--port', 'x'],
      /^error: option '--port <port>' argument 'x' is invalid\. --port must be a whole number from 0 to 65535$/m,
    ],
    [['jobs', 'list', '--state', 'later'], /--state must be ready, running, done, dead/],
    [['jobs', 'retry'], /^error: jobs retry needs a job id or --all$/m],
  ] as const) {
    const r = cli([...args], env);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, problem);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.match(r.stderr, /^Usage: ticketloop/m, 'the usage follows');
  }
});

test('--version, help per command, and start --port/--host override the configuration', async () => {
  const version = cli(['--version'], {});
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const help = cli(['start', '--help'], {});
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: ticketloop start \[options\]/);
  assert.match(help.stdout, /--port <port>/);
  assert.match(cli(['jobs', 'list', '--help'], {}).stdout, /--state <state>/);

  const dataDir = mkdtempSync(join(tmpdir(), 'tl-cli-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'start', '--port', '0', '--host', '127.0.0.2'],
    {
      env: { ...process.env, TICKETLOOP_CONFIG: '', DATABASE_URL: '', TICKETLOOP_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const started = await new Promise<{ url: string }>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (l) => {
        const entry = JSON.parse(l) as { msg?: string; url?: string };
        if (entry.msg === 'Ticketloop started') resolve({ url: entry.url! });
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    assert.match(started.url, /^http:\/\/127\.0\.0\.2:\d+$/);
    assert.notEqual(started.url, 'http://127.0.0.2:0');
    assert.equal((await fetch(`${started.url}/healthz`)).status, 200);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});
