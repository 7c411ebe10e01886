import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { graphCaller, startHarness, type Harness } from './helpers.ts';

/**
 * Graph's envelope around every answer: the request-id / client-request-id pair (headers and
 * error `innerError`, concepts/errors.md) and the answers for paths no resource serves.
 */

const EM = '/v1.0/identityGovernance/entitlementManagement';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function withSandbox(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Graph's innerError date: UTC, to the second, without a zone suffix. */
const graphDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, '');

test('every Graph answer carries request-id and client-request-id (echoed, else equal to request-id), errors carry the same in innerError', () =>
  withSandbox(async (h) => {
    // Error dates are sandbox time: move it a month on first.
    await h.call('POST', '/_sandbox/clock', { json: { advanceMs: 30 * 86_400_000 } });
    const g = graphCaller(h, await h.token());

    const plain = await g('GET', `${EM}/catalogs`);
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['request-id']), GUID);
    assert.equal(plain.headers['client-request-id'], plain.headers['request-id']);
    assert.ok(JSON.parse(String(plain.headers['x-ms-ags-diagnostic'])).ServerInfo);

    const mine = randomUUID();
    const echoed = await g('GET', `${EM}/catalogs`, undefined, { 'client-request-id': mine });
    assert.equal(echoed.headers['client-request-id'], mine);
    assert.notEqual(echoed.headers['request-id'], mine);
    assert.notEqual(echoed.headers['request-id'], plain.headers['request-id'], 'a new request id per request');

    const before = graphDate(h.sb.clock.now());
    const missing = await g('GET', `${EM}/accessPackages/${randomUUID()}`, undefined, { 'client-request-id': mine });
    const after = graphDate(h.sb.clock.now());
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ResourceNotFound');
    const inner = missing.body.error.innerError;
    assert.equal(inner['request-id'], missing.headers['request-id']);
    assert.equal(inner['client-request-id'], mine);
    assert.ok(inner.date === before || inner.date === after, `${inner.date} is sandbox time`);

    // Before the token is even looked at: 401 has them too.
    const anonymous = await h.call('GET', `${EM}/catalogs`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'InvalidAuthenticationToken');
    assert.equal(anonymous.body.error.innerError['request-id'], anonymous.headers['request-id']);
    assert.equal(anonymous.body.error.innerError['client-request-id'], anonymous.headers['request-id']);

    // Injected faults are Graph answers as well.
    await h.call('PATCH', '/_sandbox/faults', { json: { burst429: 1, retryAfterSeconds: 3 } });
    const throttled = await g('GET', `${EM}/catalogs`, undefined, { 'client-request-id': mine });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.error.innerError['request-id'], throttled.headers['request-id']);
    assert.equal(throttled.headers['client-request-id'], mine);

    // Entra's endpoints keep their own (AADSTS) shape and headers.
    const token = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials' },
    });
    assert.equal(token.status, 400);
    assert.ok(token.body.correlation_id);
    assert.equal(token.headers['request-id'], undefined);
    // Its correlation id is the caller's client-request-id, as MSAL sends it.
    const correlated = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials' },
      headers: { 'client-request-id': mine },
    });
    assert.equal(correlated.body.correlation_id, mine);
    assert.match(correlated.body.error_description, new RegExp(`Correlation ID: ${mine} `));
  }));

test('unknown paths: unknown segment → 400 "Resource not found for the segment", unknown version → 400 "Invalid version.", unknown id → 404', () =>
  withSandbox(async (h) => {
    const g = graphCaller(h, await h.token());
    const segment = async (path: string, seg: string) => {
      const r = await g('GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'BadRequest', path);
      assert.equal(r.body.error.message, `Resource not found for the segment '${seg}'.`, path);
      assert.equal(r.body.error.innerError['request-id'], r.headers['request-id']);
    };
    await segment('/v1.0/foo', 'foo');
    await segment('/beta/foo/bar', 'foo');
    await segment(`${EM}/foo`, 'foo');
    await segment('/v1.0/identityGovernance/entitlementManagment/catalogs', 'entitlementManagment');
    const cat = (await g('POST', `${EM}/catalogs`, { displayName: 'C' })).body;
    await segment(`${EM}/catalogs/${cat.id}/foo`, 'foo');
    await segment(`${EM}/assignmentRequests/${randomUUID()}/resumee`, 'resumee');

    // https://github.com/microsoftgraph/msgraph-sample-blazor-clientside/issues/94: 400 "Invalid version."
    for (const path of ['/v2/users', '/v1/users', '/me']) {
      const r = await g('GET', path);
      assert.equal(r.status, 400, path);
      assert.deepEqual([r.body.error.code, r.body.error.message], ['BadRequest', 'Invalid version.'], path);
      assert.equal(r.body.error.innerError['client-request-id'], r.headers['request-id']);
    }

    const id = randomUUID();
    const pkg = await g('GET', `${EM}/accessPackages/${id}`);
    assert.equal(pkg.status, 404);
    assert.equal(pkg.body.error.code, 'ResourceNotFound');
    assert.equal(pkg.body.error.message, `Access package with id '${id}' was not found.`);

    // A resource the schema has but the sandbox does not serve (documented deviation).
    const devices = await g('GET', '/v1.0/devices');
    assert.equal(devices.status, 501);
    assert.equal(devices.body.error.code, 'NotImplemented');

    // Entra's paths and the control API keep Fastify's 404.
    for (const path of [`/${h.sb.tenantId}/oauth2/v2.0/nope`, '/common/discovery/nope', '/_sandbox/nope']) {
      const r = await h.call('GET', path);
      assert.equal(r.status, 404, path);
      assert.deepEqual(r.body, { message: `Route GET:${path} not found`, error: 'Not Found', statusCode: 404 });
    }
  }));
