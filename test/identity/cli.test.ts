/**
 * The identity commands: `ticketloop users add|list|disable|enable|reset-password`,
 * `ticketloop tokens create|list|revoke`, and `ticketloop start` putting the first-admin setup
 * token on stdout when there is no user.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/app/config.ts';
import { systemClock } from '../../src/engine/clock.ts';
import { Identity } from '../../src/identity/identity.ts';
import { openStore } from '../../src/store/db.ts';
import { runCli } from '../helpers/cli.ts';

test('users and tokens from the command line; every change audited as cli:<os user>', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-cli-identity-'));
  const env = { TICKETLOOP_DATA_DIR: dir };
  const cli = (...args: string[]) => runCli(args, env);
  try {
    const added = await cli('users', 'add', 'Dana', '--role', 'operator,auditor', '--display-name', 'Dana Ops');
    assert.equal(added.status, 0, added.err);
    const password = /^password: (\S+)$/m.exec(added.out)?.[1];
    assert.ok(password, added.out);
    const bad = await cli('users', 'add', 'eve', '--role', 'root');
    assert.equal(bad.status, 2);
    assert.match(bad.err, /unknown role root/);

    const tokenOut = await cli('tokens', 'create', 'deploy', '--role', 'operator', '--days', '7');
    assert.equal(tokenOut.status, 0, tokenOut.err);
    const token = /^tlsvc_\S+$/m.exec(tokenOut.out)?.[0];
    assert.ok(token);
    const personal = await cli('tokens', 'create', 'laptop', '--user', 'dana');
    assert.match(personal.out, /personal token dana\/laptop \(operator, auditor\)/);

    const store = await openStore({ dataDir: dir });
    const config = validateConfig({ dataDir: dir }, 'test');
    const identity = new Identity({ db: store.db, keys: store.keys, clock: systemClock, config: config.identity });
    try {
      assert.equal((await identity.users.signIn('dana', password, 'test')).ok, true);
      assert.deepEqual((await identity.fromBearer(token))?.roles, ['operator']);

      const listed = (await cli('tokens', 'list')).out;
      assert.match(listed, /deploy\s+service\s+operator\s+\S+\s+active/);
      assert.ok(!listed.includes(token), 'the list never shows a token');

      assert.equal((await cli('users', 'disable', 'dana')).status, 0);
      assert.equal((await identity.users.signIn('dana', password, 'test')).ok, false);
      assert.match((await cli('users', 'list')).out, /dana\s+local\s+operator,auditor\s+disabled/);
      await identity.users.update((await identity.users.find('dana')).id, { disabled: false }, 'test');
      const reset = await cli('users', 'reset-password', 'dana');
      const fresh = /^password: (\S+)$/m.exec(reset.out)?.[1];
      assert.ok(fresh && fresh !== password);
      assert.equal((await identity.users.signIn('dana', password, 'test')).ok, false, 'the old password is gone');
      assert.equal((await identity.users.signIn('dana', fresh, 'test')).ok, true);

      assert.equal((await cli('tokens', 'revoke', 'deploy')).status, 0);
      assert.equal(await identity.fromBearer(token), undefined);

      const actors = await store.db.selectFrom('audit_log').select('actor').where('kind', '=', 'security').execute();
      assert.ok(actors.filter((a) => a.actor.startsWith('cli:')).length >= 5);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ticketloop start with no user puts the one-time setup token on stdout (a warning; stdout stays JSON lines)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-cli-start-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--port', '0'], {
    env: { ...process.env, TICKETLOOP_CONFIG: '', DATABASE_URL: '', TICKETLOOP_DATA_DIR: dir, LOG_LEVEL: 'warn' },
  });
  try {
    const warning = await new Promise<{ level: number; msg: string }>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (/tlsetup_/.test(entry.msg)) resolve(entry);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before logging a setup token`)));
    });
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /No user exists yet/);
    assert.match(
      warning.msg,
      /curl -X POST http:\/\/127\.0\.0\.1:\d+\/api\/setup\/first-admin .*"token":"tlsetup_[\w-]{43}"/,
    );
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
