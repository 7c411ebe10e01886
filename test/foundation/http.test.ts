import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { validateConfig } from '../../src/app/config.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import { ADMIN_DATABASE_URL, createTestDatabase, postgresSkip, type TestDatabase } from '../helpers/dialects.ts';
import { authFor } from '../helpers/identity.ts';

async function build(
  tdb: TestDatabase,
  extra: Record<string, unknown> = {},
): Promise<{ app: Ticketloop; url: string }> {
  const config = validateConfig(
    {
      dataDir: tdb.dataDir,
      server: { host: '127.0.0.1', port: 0, bodyLimitBytes: 64 * 1024 },
      database: tdb.url ? { url: tdb.url } : {},
      engine: { pollIntervalMs: 20, backoffBaseMs: 50 },
      ...extra,
    },
    'test',
  );
  const app = await buildTicketloop(config, { logger: createLogger('silent'), itsm: ITSM_MODULES, flows: [] });
  const url = await app.start();
  return { app, url };
}

describe('HTTP surface', () => {
  let tdb: TestDatabase;
  let app: Ticketloop;
  let url: string;
  let headers: { authorization: string };
  before(async () => {
    tdb = await createTestDatabase('sqlite');
    ({ app, url } = await build(tdb));
    headers = await authFor(app, 'operator');
  });
  after(async () => {
    await app.stop();
    await tdb.drop();
  });

  test('health, readiness, metrics and OpenAPI', async () => {
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
    await fetch(`${url}/api/jobs`, { headers });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'ticketloop_jobs{state="ready"}',
      'ticketloop_http_request_duration_seconds_bucket',
      'ticketloop_job_latency_seconds',
      'ticketloop_outbound_requests_total',
    ])
      assert.ok(metrics.includes(name.split('{')[0]), `metrics expose ${name}`);
    const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.equal(openapi.openapi, '3.1.0');
    assert.ok(openapi.paths['/api/jobs'], 'routes with zod schemas appear in OpenAPI');
  });

  test('one error envelope with the request id: validation, not found, bad JSON, oversized body', async () => {
    const bad = await fetch(`${url}/api/jobs?limit=5000`, { headers: { ...headers, 'x-request-id': 'req-123' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('x-request-id'), 'req-123');
    const body = (await bad.json()) as { error: { code: string; requestId: string; details: { path: string }[] } };
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.requestId, 'req-123');
    assert.equal(body.error.details[0].path, 'querystring.limit', 'the error names the field');

    const missing = await fetch(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');

    const notFoundJob = await fetch(`${url}/api/jobs/00000000-0000-4000-8000-000000000000/retry`, {
      method: 'POST',
      headers,
    });
    assert.equal(notFoundJob.status, 404);

    const badJson = await fetch(`${url}/api/jobs/retry-dead`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: '{"a":',
    });
    assert.equal(badJson.status, 400);
    const bj = (await badJson.json()) as { error: { code: string; requestId: string } };
    assert.equal(bj.error.code, 'invalid_json');
    assert.ok(bj.error.requestId);

    const big = await fetch(`${url}/api/jobs/retry-dead`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(100_000) }),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'payload_too_large');
  });

  test('dead-lettered jobs are visible and retryable through the API', async () => {
    let fail = true;
    app.engine.register('api.flaky', async () => {
      if (fail) throw new Error('upstream said no');
    });
    await app.engine.enqueue({ kind: 'api.flaky', key: 'api-flaky-1', maxAttempts: 1 });
    let dead: { jobs: { id: string; lastError: string }[] } = { jobs: [] };
    for (let i = 0; i < 100 && dead.jobs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      dead = (await (await fetch(`${url}/api/jobs?state=dead`, { headers })).json()) as typeof dead;
    }
    assert.equal(dead.jobs.length, 1);
    assert.equal(dead.jobs[0].lastError, 'Error: upstream said no');
    fail = false;
    const r = await fetch(`${url}/api/jobs/${dead.jobs[0].id}/retry`, { method: 'POST', headers });
    assert.deepEqual(await r.json(), { retried: 1 });
    for (let i = 0; i < 100; i++) {
      const [job] = await listJobs(app.store.db, { kind: 'api.flaky' });
      if (job.state === 'done') return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('retried job did not complete');
  });
});

describe('the deprecated server.apiToken', () => {
  test('still works as an admin service token; /api needs a credential, other routes do not', async () => {
    const tdb = await createTestDatabase('sqlite');
    process.env.TL_TEST_API_TOKEN = 's3cret-operator-token'; // the secret comes from the environment
    const { app, url } = await build(tdb, {
      server: { host: '127.0.0.1', port: 0, apiToken: { env: 'TL_TEST_API_TOKEN' } },
    });
    try {
      const get = (token?: string) =>
        fetch(`${url}/api/jobs`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const none = await get();
      assert.equal(none.status, 401);
      const body = (await none.json()) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, 'unauthorized');
      assert.ok(body.error.requestId);
      assert.equal((await get('wrong-token')).status, 401);
      assert.equal((await get('s3cret-operator-token')).status, 200);
      const me = await fetch(`${url}/api/auth/me`, { headers: { authorization: 'Bearer s3cret-operator-token' } });
      assert.deepEqual(
        ((await me.json()) as { actor: string; roles: string[] }).roles,
        ['admin'],
        'it acts as token:server.apiToken with the admin role',
      );
      assert.equal(
        (await fetch(`${url}/%61pi/jobs`)).status,
        401,
        'a percent-encoded path reaches the same route and needs the token',
      );
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      await app.stop();
      await tdb.drop();
    }
  });

  test('listening beyond loopback needs no shared token any more: /api always asks for a credential', () => {
    assert.doesNotThrow(() => validateConfig({ server: { host: '0.0.0.0' } }, 'test'));
  });
});

describe('PostgreSQL lost while running', { skip: await postgresSkip() }, () => {
  test('requests answer 503, the engine keeps going, and queued work runs once the database is back', async () => {
    const tdb = await createTestDatabase('postgres');
    // The shared token is checked without the database: the request reaches the route and its 503.
    const { app, url } = await build(tdb, { server: { host: '127.0.0.1', port: 0, apiToken: 'pg-outage-test-token' } });
    const dbName = new URL(tdb.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    let ran = 0;
    try {
      app.engine.register('outage.job', async () => {
        ran++;
      });
      await app.engine.enqueue({ kind: 'outage.job', key: 'outage-1', runAt: Date.now() + 1_500 });
      // Cut the database off: no new connections, existing ones killed.
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);
      const r = await fetch(`${url}/api/jobs`, { headers: { authorization: 'Bearer pg-outage-test-token' } });
      assert.equal(r.status, 503);
      const body = (await r.json()) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, 'unavailable');
      assert.ok(body.error.requestId);
      assert.equal((await fetch(`${url}/readyz`)).status, 503);
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(ran, 0);
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      for (let i = 0; i < 150 && ran === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(ran, 1, 'the job accepted before the outage ran after it');
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
    } finally {
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      await app.stop();
      await tdb.drop();
    }
  });
});
