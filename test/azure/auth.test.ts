import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { signToken, startHarness, type Harness } from './helpers.ts';

/**
 * ARM's answers to a bad or missing bearer token (issue #11, items 1 and 2). Codes and messages are
 * ARM's own, as quoted in Azure SDK issues (e.g. Azure-Samples/active-directory-dotnetcore-daemon-v2#145
 * for the audience, azure-sdk-for-python#4124 for the header format, microsoft/vscode-azureappservice#2483
 * for expiry, Azure/azure-sdk-for-java#1714 for a token without oid); the WWW-Authenticate challenge
 * is the one azure-sdk-for-python's and -go's ARM challenge tests quote.
 */

const LIST = `/subscriptions/${DEMO.prodSubscription}/providers/Microsoft.Security/assessments?api-version=2025-05-04`;
const ALLOWED =
  "'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'";

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** A 401 with exactly ARM's body and challenge. */
function assertChallenge(
  r: { status: number; body: any; headers: Record<string, unknown> },
  code: string,
  message: string | RegExp,
  description?: string,
) {
  assert.equal(r.status, 401);
  assert.deepEqual(Object.keys(r.body.error), ['code', 'message']);
  assert.equal(r.body.error.code, code);
  if (typeof message === 'string') assert.equal(r.body.error.message, message);
  else assert.match(r.body.error.message, message);
  const text = description ?? r.body.error.message;
  assert.equal(
    r.headers['www-authenticate'],
    `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="${text}"`,
  );
}

test('every ARM audience is accepted: management.azure.com and management.core.windows.net, with and without slash', () =>
  withHarness(async (h) => {
    for (const aud of [
      'https://management.core.windows.net/',
      'https://management.core.windows.net',
      'https://management.azure.com/',
      'https://management.azure.com',
    ]) {
      const r = await h.call('GET', LIST, { token: await signToken({ aud, now: h.clock.now() }) });
      assert.equal(r.status, 200, aud);
    }
  }));

test('no Authorization header: 401 AuthenticationFailed', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', LIST, { token: null });
    assertChallenge(
      r,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
      "The authentication failed because of missing 'Authorization' header.",
    );
  }));

test('an Authorization header that is not "Bearer <token>": 401 AuthenticationFailedInvalidHeader', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', LIST, { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assertChallenge(
      r,
      'AuthenticationFailedInvalidHeader',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
    );
  }));

test('a malformed token: 401 InvalidAuthenticationToken', () =>
  withHarness(async (h) => {
    for (const token of ['not.a.jwt', 'abc', `${Buffer.from('{}').toString('base64url')}.e30`]) {
      assertChallenge(
        await h.call('GET', LIST, { token }),
        'InvalidAuthenticationToken',
        'The access token is invalid.',
      );
    }
  }));

test('a token signed by a key ARM does not trust: 401 InvalidAuthenticationToken', () =>
  withHarness(async (h) => {
    const token = await signToken({ foreignKey: true, now: h.clock.now() });
    assertChallenge(await h.call('GET', LIST, { token }), 'InvalidAuthenticationToken', 'The access token is invalid.');
  }));

test('a token for another resource (Graph): 401 InvalidAuthenticationTokenAudience naming it and the allowed ones', () =>
  withHarness(async (h) => {
    const token = await signToken({ aud: 'https://graph.microsoft.com', now: h.clock.now() });
    assertChallenge(
      await h.call('GET', LIST, { token }),
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource 'https://graph.microsoft.com'. It should exactly match with one of the allowed audiences ${ALLOWED}.`,
    );
  }));

test('an expired token (judged on sandbox time): 401 ExpiredAuthenticationToken with both UTC times', () =>
  withHarness(async (h) => {
    // Sandbox time is real time plus an offset: put "now" at 2030-05-14 16:20 UTC.
    h.clock.offsetMs = Date.parse('2030-05-14T16:20:00Z') - Date.now();
    const token = await signToken({ now: Date.parse('2030-05-14T15:00:00Z'), expiresInSec: 3600 });
    assertChallenge(
      await h.call('GET', LIST, { token }),
      'ExpiredAuthenticationToken',
      /^The access token expiry UTC time '5\/14\/2030 4:00:00 PM' is earlier than current UTC time '5\/14\/2030 4:2\d:\d\d PM'\.$/,
    );
  }));

test('a genuine token without oid (no service principal): 401 InvalidAuthenticationToken', () =>
  withHarness(async (h) => {
    const token = await signToken({ claims: { oid: undefined }, now: h.clock.now() });
    assertChallenge(
      await h.call('GET', LIST, { token }),
      'InvalidAuthenticationToken',
      "The received access token is not valid: at least one of the claims 'puid' or 'altsecid' or 'oid' should be present. If you are accessing as application please make sure service principal is properly created in the tenant.",
    );
  }));

test('auth comes before routing: an unknown path without a token is 401, not 404', () =>
  withHarness(async (h) => {
    const r = await h.call('GET', '/nothing/here?api-version=2021-04-01', { token: null });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'AuthenticationFailed');
  }));
