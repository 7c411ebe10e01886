/**
 * Browser sessions over real HTTP: the cookie's attributes, CSRF on state-changing requests (a
 * cookie alone is refused, the synchronizer token lets it through; bearer tokens need none),
 * logout, idle and absolute expiry on the app's clock, and the actor each action is audited with.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { signIn, tokenFor, userFor } from '../helpers/identity.ts';

async function start(dir: string, clock: ManualClock, server: Record<string, unknown> = {}) {
  const config = validateConfig(
    {
      dataDir: dir,
      server: { host: '127.0.0.1', port: 0, ...server },
      identity: { sessions: { ttlHours: 8, idleMinutes: 30 } },
    },
    'test',
  );
  const app = await buildTicketloop(config, { logger: createLogger('silent'), clock, itsm: ITSM_MODULES, flows: [] });
  return { app, url: await app.start() };
}

const lastAudit = async (app: Ticketloop) =>
  app.store.db.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();

describe('sessions and CSRF', () => {
  let dir: string;
  let app: Ticketloop;
  let url: string;
  const clock = new ManualClock();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-session-'));
    ({ app, url } = await start(dir, clock));
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the session cookie is HttpOnly and SameSite=Lax; not Secure on loopback http', async () => {
    const u = await userFor(app, 'operator');
    const r = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: u.name, password: u.password }),
    });
    assert.equal(r.status, 200);
    const [cookie] = r.headers.getSetCookie();
    assert.match(cookie, /^tl_session=tlsess_[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    const body = (await r.json()) as Record<string, any>;
    assert.ok(body.csrfToken);
    assert.equal(body.user.name, u.name);
    assert.equal(JSON.stringify(body).includes(u.password), false, 'the password is not in the answer');
  });

  test('a cookie alone cannot change anything; with the CSRF token it can; reading needs no token', async () => {
    const u = await userFor(app, 'operator');
    const { cookie, csrf } = await signIn(url, u.name, u.password);
    const retry = (headers: Record<string, string>) =>
      fetch(`${url}/api/jobs/retry-dead`, { method: 'POST', headers: { cookie, ...headers } });
    const none = await retry({});
    assert.equal(none.status, 403);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'csrf');
    assert.equal((await retry({ 'x-csrf-token': 'a'.repeat(43) })).status, 403, 'a wrong token is refused');
    assert.equal((await retry({ 'x-csrf-token': csrf })).status, 200);
    const row = await lastAudit(app);
    assert.equal(row.actor, `user:${u.name}`, 'the action is audited with the signed-in user');
    assert.equal(row.subject, 'api:POST /api/jobs/retry-dead');
    assert.equal((await fetch(`${url}/api/jobs`, { headers: { cookie } })).status, 200);

    // GET /api/auth/me gives the same CSRF token back (a console reloaded after the OpenID sign-in).
    const me = (await (await fetch(`${url}/api/auth/me`, { headers: { cookie } })).json()) as { csrfToken: string };
    assert.equal(me.csrfToken, csrf);
  });

  test('a bearer token needs no CSRF token, and its actions carry token:<name>', async () => {
    const token = await tokenFor(app, 'operator');
    const r = await fetch(`${url}/api/jobs/retry-dead`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(r.status, 200);
    assert.match((await lastAudit(app)).actor, /^token:test-operator-\d+$/);
  });

  test('logout ends the session (CSRF needed for it too)', async () => {
    const u = await userFor(app, 'auditor');
    const { cookie, csrf } = await signIn(url, u.name, u.password);
    assert.equal((await fetch(`${url}/api/auth/logout`, { method: 'POST', headers: { cookie } })).status, 403);
    const out = await fetch(`${url}/api/auth/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    assert.deepEqual(await out.json(), { signedOut: true });
    assert.match(out.headers.getSetCookie()[0], /^tl_session=;/);
    assert.equal((await fetch(`${url}/api/auth/me`, { headers: { cookie } })).status, 401);
  });

  test('changing your own password needs the current one and ends your other sessions', async () => {
    const u = await userFor(app, 'auditor', 'old password 12345');
    const phone = await signIn(url, u.name, u.password);
    const web = await signIn(url, u.name, u.password);
    const change = (current: string) =>
      fetch(`${url}/api/auth/password`, {
        method: 'POST',
        headers: { cookie: web.cookie, 'x-csrf-token': web.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ current, password: 'new password 67890' }),
      });
    assert.equal((await change('not the old one')).status, 401);
    const ok = await change('old password 12345');
    assert.equal(ok.status, 200);
    const fresh = ok.headers.getSetCookie()[0].split(';')[0];
    const me = (cookie: string) => fetch(`${url}/api/auth/me`, { headers: { cookie } }).then((r) => r.status);
    assert.equal(await me(phone.cookie), 401, 'the other session ended');
    assert.equal(await me(fresh), 200, 'the browser that changed it gets a new session');
    await assert.rejects(signIn(url, u.name, 'old password 12345'));
    await signIn(url, u.name, 'new password 67890');
  });

  test('idle and absolute expiry follow the app clock; disabling a user ends their sessions', async () => {
    const u = await userFor(app, 'auditor');
    const me = (cookie: string) => fetch(`${url}/api/auth/me`, { headers: { cookie } }).then((r) => r.status);
    const idle = await signIn(url, u.name, u.password);
    clock.advance(29 * 60_000);
    assert.equal(await me(idle.cookie), 200, 'used within the idle time');
    clock.advance(31 * 60_000);
    assert.equal(await me(idle.cookie), 401, 'idle for 31 minutes: gone');

    const busy = await signIn(url, u.name, u.password);
    for (let i = 0; i < 19; i++) {
      clock.advance(25 * 60_000);
      assert.equal(await me(busy.cookie), 200, 'never idle: used every 25 minutes');
    }
    clock.advance(10 * 60_000);
    assert.equal(await me(busy.cookie), 401, '8 h 5 min after sign-in: gone, however active');

    const third = await signIn(url, u.name, u.password);
    const admin = await tokenFor(app, 'admin');
    const off = await fetch(`${url}/api/users/${u.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    });
    assert.equal(off.status, 200);
    assert.equal(await me(third.cookie), 401);
  });
});

test('off loopback (an https public URL) the cookie is Secure with the __Host- prefix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-secure-'));
  const { app } = await start(dir, new ManualClock(), { publicUrl: 'https://ticketloop.example.com' });
  try {
    const u = await userFor(app, 'auditor');
    const r = await app.http.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { name: u.name, password: u.password },
    });
    assert.equal(r.statusCode, 200);
    assert.match(
      String(r.headers['set-cookie']),
      /^__Host-tl_session=tlsess_[\w-]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
