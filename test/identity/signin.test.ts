/**
 * Local sign-in: the first-admin setup token (issued at the first start, good once), lockout after
 * N wrong passwords (audited, lifted on the app's clock), the per-address limit, and that no
 * password reaches a log line, an answer or the audit log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { userFor } from '../helpers/identity.ts';

/** Every log line at trace level, kept in memory. */
function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

async function start(dir: string, o: { clock?: ManualClock; identity?: object; logs?: Writable } = {}) {
  const config = validateConfig(
    { dataDir: dir, server: { host: '127.0.0.1', port: 0 }, identity: o.identity ?? {} },
    'test',
  );
  const app = await buildTicketloop(config, {
    logger: o.logs ? createLogger('trace', o.logs) : createLogger('silent'),
    clock: o.clock,
    itsm: ITSM_MODULES,
    flows: [],
  });
  return { app, url: await app.start() };
}

const login = (url: string, name: string, password: string) =>
  fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });

const securityEvents = async (app: Ticketloop) =>
  (await app.store.db.selectFrom('audit_log').selectAll().where('kind', '=', 'security').orderBy('seq').execute()).map(
    (r): Record<string, unknown> => ({ actor: r.actor, subject: r.subject, ...JSON.parse(r.detail) }),
  );

describe('the first admin', () => {
  test('the first start issues a setup token (logged at warn); it creates one admin, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-setup-'));
    const logs = capture();
    let { app, url } = await start(dir, { logs: logs.stream });
    try {
      const token = app.identity.setupToken!;
      assert.match(token, /^tlsetup_[\w-]{43}$/);
      const warning = logs.lines.map((l) => JSON.parse(l)).find((l) => l.level === 40 && l.msg.includes(token));
      assert.ok(warning, 'the setup token is in a warning');
      assert.match(warning.msg, /\/api\/setup\/first-admin/);

      const setup = (t: string, name: string) =>
        fetch(`${url}/api/setup/first-admin`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: t, name, password: 'first admin password' }),
        });
      assert.equal((await setup('tlsetup_wrong', 'mallory')).status, 403);
      const created = await setup(token, 'root');
      assert.equal(created.status, 201);
      assert.deepEqual(((await created.json()) as { user: { roles: string[] } }).user.roles, ['admin']);
      assert.equal((await setup(token, 'second')).status, 403, 'the token is spent');
      assert.equal((await login(url, 'root', 'first admin password')).status, 200);
      assert.deepEqual(
        (await app.identity.users.list()).map((u) => u.name),
        ['root'],
      );
      const events = await securityEvents(app);
      assert.ok(events.some((e) => e.event === 'setup.first-admin' && e.subject === 'user:root'));
      assert.equal(events.filter((e) => e.event === 'setup.refused').length, 2);

      await app.stop();
      ({ app, url } = await start(dir));
      assert.equal(app.identity.setupToken, undefined, 'with a user in place, no setup token is issued');
    } finally {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sign-in limits', () => {
  let dir: string;
  let app: Ticketloop;
  let url: string;
  const clock = new ManualClock();
  const logs = capture();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-lockout-'));
    ({ app, url } = await start(dir, {
      clock,
      logs: logs.stream,
      identity: { signIn: { maxFailures: 3, lockoutMinutes: 15, perAddressPerMinute: 12 } },
    }));
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('three wrong passwords lock the account for 15 minutes (audited); then the right one works', async () => {
    const u = await userFor(app, 'operator', 'the right password');
    for (let i = 0; i < 3; i++) assert.equal((await login(url, u.name, `wrong ${i}`)).status, 401);
    const locked = await login(url, u.name, 'the right password');
    assert.equal(locked.status, 401, 'locked: even the right password is refused');
    assert.equal(((await locked.json()) as { error: { code: string } }).error.code, 'signin_failed');

    const events = (await securityEvents(app)).filter((e) => e.subject === `user:${u.name}`);
    assert.deepEqual(
      events.filter((e) => e.event !== 'user.created').map((e) => [e.event, e.reason ?? '']),
      [
        ['signin.failed', 'wrong password'],
        ['signin.failed', 'wrong password'],
        ['signin.failed', 'wrong password'],
        ['signin.lockout', ''],
        ['signin.failed', 'locked'],
      ],
    );
    assert.equal(
      (await app.identity.users.list()).find((x) => x.name === u.name)!.lockedUntil,
      new Date(clock.now() + 15 * 60_000).toISOString(),
    );

    clock.advance(15 * 60_000);
    assert.equal((await login(url, u.name, 'the right password')).status, 200, 'the lock is over');
  });

  test('unknown names, wrong passwords and locks all get the same answer', async () => {
    const unknown = await login(url, 'nobody-here', 'whatever password');
    const wrong = await login(url, (await userFor(app, 'auditor')).name, 'not it');
    const a = (await unknown.json()) as { error: { code: string; message: string } };
    const b = (await wrong.json()) as { error: { code: string; message: string } };
    assert.equal(unknown.status, wrong.status);
    assert.deepEqual([a.error.code, a.error.message], [b.error.code, b.error.message]);
  });

  test('no password is ever logged, returned or audited', async () => {
    const secret = 'Tr0ub4dor&3-never-to-be-seen';
    const admin = await userFor(app, 'admin', 'admin password one');
    const r = await login(url, admin.name, 'admin password one');
    const cookie = r.headers.getSetCookie()[0].split(';')[0];
    const { csrfToken } = (await r.json()) as { csrfToken: string };
    const created = await fetch(`${url}/api/users`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'carol', password: secret, roles: ['auditor'] }),
    });
    const answers = [await created.text()];
    answers.push(await (await login(url, 'carol', secret)).text());
    answers.push(await (await login(url, 'carol', `${secret}-wrong`)).text());
    answers.push(await (await fetch(`${url}/api/users`, { headers: { cookie } })).text());
    const audit = JSON.stringify(await app.store.db.selectFrom('audit_log').selectAll().execute());
    for (const [where, text] of [
      ['answers', answers.join('\n')],
      ['logs', logs.lines.join('')],
      ['audit log', audit],
    ])
      assert.ok(!text.includes(secret), `the password is not in the ${where}`);
    const row = await app.store.db
      .selectFrom('identity_user')
      .select('password_hash')
      .where('name', '=', 'carol')
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test('sign-in attempts are limited per client address (429 with the error envelope)', async () => {
    let status = 0;
    let body: { error?: { code: string } } = {};
    // 12 a minute for this address: the earlier tests used some, so the limit is reached within 12 more.
    for (let i = 0; i < 13 && status !== 429; i++) {
      const r = await login(url, 'nobody', 'nothing');
      status = r.status;
      body = (await r.json()) as typeof body;
    }
    assert.equal(status, 429);
    assert.equal(body.error?.code, 'rate_limited');
  });
});

test('behind a trusted proxy the limit and the audit use the forwarded client address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-proxy-'));
  const config = validateConfig(
    {
      dataDir: dir,
      server: { host: '127.0.0.1', port: 0, trustProxy: ['127.0.0.1'] },
      identity: { signIn: { perAddressPerMinute: 2 } },
    },
    'test',
  );
  const app = await buildTicketloop(config, { logger: createLogger('silent'), itsm: ITSM_MODULES, flows: [] });
  try {
    const attempt = async (from: string) =>
      (
        await app.http.inject({
          method: 'POST',
          url: '/api/auth/login',
          headers: { 'x-forwarded-for': from },
          payload: { name: 'nobody', password: 'nothing' },
        })
      ).statusCode;
    assert.deepEqual(
      [await attempt('203.0.113.7'), await attempt('203.0.113.7'), await attempt('203.0.113.7')],
      [401, 401, 429],
    );
    assert.equal(await attempt('198.51.100.9'), 401, 'another client has its own count');
    const froms = (await securityEvents(app)).map((e) => e.from);
    assert.ok(froms.includes('203.0.113.7') && froms.includes('198.51.100.9'), String(froms));
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
