/**
 * API tokens: shown once and stored as SHA-256, expiry on the app's clock, revocation, personal
 * tokens bounded by their user's roles (now, not only at creation), service tokens for admins only,
 * and a token made with a token expiring no later than it. Each change is audited.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { DAY_MS, ManualClock } from '../../src/engine/clock.ts';
import { tokenFor, userFor } from '../helpers/identity.ts';

describe('API tokens', () => {
  let dir: string;
  let app: Ticketloop;
  const clock = new ManualClock();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-tokens-'));
    const config = validateConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0 } }, 'test');
    app = await buildTicketloop(config, { logger: createLogger('silent'), clock, itsm: ITSM_MODULES, flows: [] });
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (token: string, method: string, url: string, payload?: object) => {
    const r = await app.http.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });
    return { status: r.statusCode, body: r.body ? r.json() : undefined, text: r.body };
  };
  /** A personal token of a new user with these roles (created with the user's own token, as a script would). */
  async function personal(roles: Parameters<typeof userFor>[1]) {
    const u = await userFor(app, roles);
    const owner = (await app.identity.users.get(u.id))!;
    const { token } = await app.identity.tokens.create({ kind: 'personal', name: 'bootstrap', owner }, 'test');
    return { user: u, token };
  }

  test('shown once, stored as its SHA-256, listed without its value; expires on the app clock', async () => {
    const { token: mine } = await personal('operator');
    const created = await call(mine, 'POST', '/api/tokens', { name: 'ci', days: 1 });
    assert.equal(created.status, 201, created.text);
    const { token, id, name, expiresAt } = created.body;
    assert.match(token, /^tlp_[\w-]{43}$/);
    assert.match(name, /^user-operator-\d+\/ci$/, 'personal tokens are named <user>/<name>');
    const row = await app.store.db
      .selectFrom('identity_token')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(row.hash, createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify(row).includes(token), 'the token itself is stored nowhere');
    const listed = await call(mine, 'GET', '/api/tokens');
    assert.ok(listed.body.tokens.some((t: { id: string }) => t.id === id));
    assert.ok(!listed.text.includes(token), 'the list never shows a token value');
    assert.equal(Date.parse(expiresAt), clock.now() + DAY_MS);

    assert.equal((await call(token, 'GET', '/api/jobs')).status, 200);
    clock.advance(DAY_MS - 1);
    assert.equal((await call(token, 'GET', '/api/jobs')).status, 200, 'valid until the last millisecond');
    clock.advance(1);
    const expired = await call(token, 'GET', '/api/jobs');
    assert.equal(expired.status, 401);
    assert.match(expired.body.error.message, /unknown, revoked or expired/);
  });

  test('revoked at once; someone else cannot see or revoke your token; both audited', async () => {
    const a = await personal('operator');
    const b = await personal('operator');
    const t = (await call(a.token, 'POST', '/api/tokens', { name: 'laptop' })).body;
    assert.equal(
      (await call(b.token, 'DELETE', `/api/tokens/${t.id}`)).status,
      404,
      "another user's token is not found",
    );
    assert.ok(!(await call(b.token, 'GET', '/api/tokens')).text.includes(t.id));
    assert.equal((await call(t.token, 'GET', '/api/auth/me')).status, 200);
    const revoked = await call(a.token, 'DELETE', `/api/tokens/${t.id}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.active, false);
    assert.equal((await call(t.token, 'GET', '/api/auth/me')).status, 401);
    const events = await app.store.db
      .selectFrom('audit_log')
      .select(['actor', 'detail'])
      .where('subject', '=', `token:${t.name}`)
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      events.map((e) => [e.actor, JSON.parse(e.detail).event]),
      [
        [`token:${a.user.name}/bootstrap`, 'token.created'],
        [`token:${a.user.name}/bootstrap`, 'token.revoked'],
      ],
    );
  });

  test('a personal token holds no more than its user, now: a role taken from the user leaves the token', async () => {
    const { user, token } = await personal('operator');
    const tooMuch = await call(token, 'POST', '/api/tokens', { name: 'x', roles: ['admin'] });
    assert.equal(tooMuch.status, 403);
    assert.equal((await call(token, 'POST', '/api/jobs/retry-dead')).status, 200);
    const admin = await tokenFor(app, 'admin');
    assert.equal((await call(admin, 'PATCH', `/api/users/${user.id}`, { roles: ['auditor'] })).status, 200);
    assert.equal((await call(token, 'POST', '/api/jobs/retry-dead')).status, 403, 'operator is gone from the token');
    assert.deepEqual((await call(token, 'GET', '/api/auth/me')).body.roles, []);
  });

  test('service tokens are for admins; a token made with a token expires no later than it', async () => {
    const { token: operator } = await personal('operator');
    assert.equal(
      (await call(operator, 'POST', '/api/tokens', { name: 'svc', kind: 'service', roles: ['auditor'] })).status,
      403,
    );
    const admin = await tokenFor(app, 'admin', 2);
    const svc = await call(admin, 'POST', '/api/tokens', {
      name: 'svc',
      kind: 'service',
      roles: ['auditor'],
      days: 300,
    });
    assert.equal(svc.status, 201, svc.text);
    assert.match(svc.body.token, /^tlsvc_/);
    assert.equal(svc.body.owner, null);
    assert.equal(Date.parse(svc.body.expiresAt), clock.now() + 2 * DAY_MS, 'capped at the creating token');
    assert.equal((await call(svc.body.token, 'GET', '/api/audit')).status, 200, 'an auditor token exports the audit');
    assert.equal((await call(svc.body.token, 'POST', '/api/jobs/retry-dead')).status, 403);
  });
});
