import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { HttpError } from '../../src/engine/errors.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { ApiKeyAuth, BasicAuth, OAuthAuth } from '../../src/itsm/servicenow/auth.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { startEnv, type Env } from './helpers.ts';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(async () => {
  await env?.close();
});

const one = { query: q().isNotEmpty('sys_id'), pageSize: 1, fields: ['sys_id'] };
const users = { query: q().eq('active', 'true'), pageSize: 1, fields: ['sys_id'] };
const MIN = 60_000;

test('basic and API key auth; wrong credentials are a 401', async () => {
  const { itil, admin } = env.sn.credentials;
  assert.equal(
    (await env.client({ auth: new BasicAuth(itil.username, itil.password) }).list('sys_user', users)).records.length,
    1,
  );
  assert.equal(
    (await env.client({ auth: new BasicAuth(admin.username, admin.password) }).list('sys_user', users)).records.length,
    1,
  );
  assert.equal(
    (await env.client({ auth: new ApiKeyAuth(env.sn.credentials.apiKey) }).list('sys_user', users)).records.length,
    1,
  );
  for (const auth of [new BasicAuth(itil.username, 'wrong'), new ApiKeyAuth('wrong-key'), undefined]) {
    await assert.rejects(
      env.client({ auth }).list('sys_user', users),
      (e: unknown) => e instanceof HttpError && e.status === 401,
    );
  }
});

test('OAuth client_credentials: 20 parallel calls → one token request', async () => {
  const { clientId, clientSecret } = env.sn.credentials.oauth;
  const auth = new OAuthAuth(
    { type: 'oauth', grant: 'client_credentials', clientId, clientSecret },
    { baseUrl: env.sn.baseUrl, ca: env.ca },
  );
  const c = env.client({ auth });
  const pages = await Promise.all(Array.from({ length: 20 }, () => c.list('incident', one)));
  assert.equal(pages.length, 20);
  assert.equal(auth.tokenRequests, 1);
  await Promise.all(Array.from({ length: 20 }, () => c.list('incident', one)));
  assert.equal(auth.tokenRequests, 1, 'cached token reused');
  await auth.close();
});

test('OAuth password grant: refresh once under concurrency, refresh token before password', async () => {
  const { clientId, clientSecret } = env.sn.credentials.oauth;
  const { itil } = env.sn.credentials;
  const clock = new ManualClock(Date.now());
  const auth = new OAuthAuth(
    { type: 'oauth', grant: 'password', clientId, clientSecret, username: itil.username, password: itil.password },
    { baseUrl: env.sn.baseUrl, ca: env.ca, clock },
  );
  const c = env.client({ auth });
  await Promise.all(Array.from({ length: 20 }, () => c.list('incident', one)));
  assert.deepEqual([auth.tokenRequests, auth.lastGrant], [1, 'password']);

  // 31 minutes later (both clocks): the access token expired; 20 callers share one refresh.
  await env.admin('POST', '/_sandbox/clock', { advanceMs: 31 * MIN });
  clock.advance(31 * MIN);
  await Promise.all(Array.from({ length: 20 }, () => c.list('incident', one)));
  assert.deepEqual([auth.tokenRequests, auth.lastGrant], [2, 'refresh_token']);

  // The instance drops the token early (server clock moves, ours does not): 401 → invalidate → one new token.
  await env.admin('POST', '/_sandbox/clock', { advanceMs: 31 * MIN });
  clock.advance(5_000);
  await Promise.all(Array.from({ length: 20 }, () => c.list('incident', one)));
  assert.equal(auth.tokenRequests, 3);
  assert.equal(auth.lastGrant, 'refresh_token');

  // Refresh token expired too: refused refresh → password grant.
  await env.admin('PUT', '/_sandbox/servicenow/oauth', { refreshTokenTtlSeconds: 60 });
  const auth2 = new OAuthAuth(
    { type: 'oauth', grant: 'password', clientId, clientSecret, username: itil.username, password: itil.password },
    { baseUrl: env.sn.baseUrl, ca: env.ca, clock },
  );
  const c2 = env.client({ auth: auth2 });
  await c2.list('incident', one);
  await env.admin('POST', '/_sandbox/clock', { advanceMs: 31 * MIN });
  clock.advance(31 * MIN);
  await c2.list('incident', one);
  assert.equal(auth2.tokenRequests, 3, 'password, refused refresh, password');
  assert.equal(auth2.lastGrant, 'password');
  await env.admin('PUT', '/_sandbox/servicenow/oauth', { refreshTokenTtlSeconds: 8_640_000 });
  await auth.close();
  await auth2.close();
});

test('OAuth failures are clear errors that never carry secrets', async () => {
  const { clientId } = env.sn.credentials.oauth;
  const secret = 'definitely-wrong-secret-xyz';
  const auth = new OAuthAuth(
    { type: 'oauth', grant: 'client_credentials', clientId, clientSecret: secret },
    { baseUrl: env.sn.baseUrl, ca: env.ca },
  );
  const err = await env
    .client({ auth })
    .list('incident', one)
    .catch((e) => e);
  assert.ok(err instanceof HttpError && err.status === 401, String(err));
  assert.match(err.message, /oauth_token\.do/);
  for (const text of [
    err.message,
    String(err.stack),
    JSON.stringify(auth),
    inspect(auth, { depth: 5 }),
    JSON.stringify(err),
  ]) {
    assert.ok(!text.includes(secret), `secret leaked in: ${text.slice(0, 200)}`);
  }
  const basic = new BasicAuth('u', 'p4ssw0rd-secret');
  assert.ok(!inspect(basic).includes('p4ssw0rd') && !JSON.stringify(basic).includes('p4ssw0rd'));
  const key = new ApiKeyAuth('key-secret-123');
  assert.ok(!inspect(key).includes('key-secret') && !JSON.stringify(key).includes('key-secret'));
  await auth.close();
});
