import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { graphCaller, startHarness, tokenWithRoles, type Harness } from './helpers.ts';

/**
 * JSON batching, https://learn.microsoft.com/graph/json-batching (concepts/json-batching.md in
 * microsoftgraph/microsoft-graph-docs-contrib). @microsoft/microsoft-graph-client is not a dependency
 * of this repository, so the batches are the plain JSON its BatchRequestContent sends.
 * Batch-level error messages are those Graph answered in bradleymarques/microslop_one_drive's
 * recorded fixtures (test/fixtures/batch/*.json).
 */

const EM = '/identityGovernance/entitlementManagement';

async function withSandbox(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('$batch: each request runs through the same routes, answers {id, status, headers, body} in request order; dependsOn orders them and a failed dependency is 424', () =>
  withSandbox(async (h) => {
    const g = graphCaller(h, await h.token());
    const missing = randomUUID();
    const r = await g('POST', '/v1.0/$batch', {
      requests: [
        {
          id: '1',
          method: 'POST',
          url: `${EM}/catalogs`,
          headers: { 'Content-Type': 'application/json' },
          body: { displayName: 'Batched catalog' },
        },
        // Runs after 1, so it sees the catalog 1 created.
        {
          id: '2',
          method: 'GET',
          url: `${EM}/catalogs?$filter=displayName eq 'Batched catalog'&$select=displayName`,
          dependsOn: ['1'],
        },
        { id: '3', method: 'GET', url: `identityGovernance/entitlementManagement/accessPackages/${missing}` },
        { id: '4', method: 'GET', url: `${EM}/catalogs`, dependsOn: ['3'] },
        { id: '5', method: 'GET', url: '/users' }, // the Ticketloop app has no User.Read.All
        { id: '6', method: 'GET', url: '/nope' },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [created, listed, notFound, failedDep, forbidden, unknown] = r.body.responses;
    assert.deepEqual(
      r.body.responses.map((x: { id: string; status: number }) => [x.id, x.status]),
      [
        ['1', 201],
        ['2', 200],
        ['3', 404],
        ['4', 424],
        ['5', 403],
        ['6', 400],
      ],
    );
    assert.equal(created.body.displayName, 'Batched catalog');
    assert.match(created.headers['Content-Type'], /^application\/json/);
    assert.deepEqual(listed.body.value, [{ id: created.body.id, displayName: 'Batched catalog' }]);
    assert.match(
      listed.body['@odata.context'],
      /\/v1\.0\/\$metadata#identityGovernance\/entitlementManagement\/catalogs\(displayName\)$/,
    );
    assert.equal(notFound.body.error.code, 'ResourceNotFound');
    assert.equal(failedDep.body.error.code, 'FailedDependency');
    assert.equal(forbidden.body.error.code, 'Authorization_RequestDenied');
    assert.equal(unknown.body.error.message, "Resource not found for the segment 'nope'.");

    // The same on beta, with the beta context.
    const beta = await g('POST', '/beta/$batch', { requests: [{ id: 'a', method: 'GET', url: `${EM}/catalogs` }] });
    assert.equal(beta.body.responses[0].status, 200);
    assert.match(beta.body.responses[0].body['@odata.context'], /\/beta\/\$metadata#/);

    // Inner requests are authorized one by one with the batch's token.
    const reader = graphCaller(h, await tokenWithRoles(h, ['User.Read.All']));
    const users = await reader('POST', '/v1.0/$batch', {
      requests: [
        { id: '1', method: 'GET', url: "/users?$filter=startswith(displayName,'A')&$select=displayName" },
        { id: '2', method: 'GET', url: `${EM}/catalogs` },
      ],
    });
    assert.deepEqual(
      users.body.responses[0].body.value.map((u: { displayName: string }) => u.displayName),
      ['Adele Vance', 'Alex Wilber'],
    );
    assert.equal(users.body.responses[1].status, 403);
  }));

test('$batch itself: a valid token, at most 20 requests, unique ids, a well-formed payload — else 401/400', () =>
  withSandbox(async (h) => {
    const g = graphCaller(h, await h.token());
    const get = (id: string) => ({ id, method: 'GET', url: `${EM}/catalogs` });

    const anonymous = await h.call('POST', '/v1.0/$batch', { json: { requests: [get('1')] } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'InvalidAuthenticationToken');

    const twenty = await g('POST', '/v1.0/$batch', { requests: Array.from({ length: 20 }, (_, i) => get(`${i}`)) });
    assert.equal(twenty.status, 200);
    assert.equal(twenty.body.responses.length, 20);

    const bad = async (body: unknown, message: string) => {
      const r = await g('POST', '/v1.0/$batch', body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(r.body.error.code, 'BadRequest');
      assert.equal(r.body.error.message, message);
      assert.equal(r.body.error.innerError['request-id'], r.headers['request-id']);
    };
    await bad(
      { requests: Array.from({ length: 21 }, (_, i) => get(`${i}`)) },
      'Number of requests inside batch exceed the limit.',
    );
    await bad({ requests: [get('1'), get('1')] }, 'Request Id 1 has to be unique in a batch.');
    await bad({ requests: [] }, 'Invalid batch payload format.');
    await bad({ nope: true }, 'Invalid batch payload format.');
    await bad({ requests: [{ id: '1', url: '/users' }] }, 'Invalid batch payload format.');

    // A body needs its Content-Type (json-batching.md), per request.
    const noType = await g('POST', '/v1.0/$batch', {
      requests: [{ id: '1', method: 'POST', url: `${EM}/catalogs`, body: { displayName: 'x' } }],
    });
    assert.equal(noType.body.responses[0].status, 400);
  }));
