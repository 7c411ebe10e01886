import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from './helpers.ts';

/**
 * Issue #11 (sandbox fidelity, round two): the 401 body, choice fields that are not strict, and
 * ServiceNow's envelope for unknown paths. Error envelope: wire-format.md §1.5; status codes:
 * ServiceNowDocs markdown/api-reference/rest-api-explorer/r_RESTAPIHTTPResponseCodes.md (§1.1).
 */
describe('ServiceNow sandbox: envelopes and lenient choice fields', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('answers a request without valid credentials with the exact 401 body "User Not Authenticated" (§1.5)', async () => {
    const body =
      '{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}';
    const none = await h.call('GET', '/api/now/table/incident', { auth: null });
    assert.equal(none.status, 401);
    assert.equal(none.text, body);
    const wrongPassword = await h.call('GET', '/api/now/table/incident', {
      auth: h.basic({ username: 'it.support', password: 'not-the-password' }),
    });
    assert.equal(wrongPassword.status, 401);
    assert.equal(wrongPassword.text, body);
    const unknownToken = await h.call('POST', '/api/now/table/incident', { auth: 'Bearer nope', body: {} });
    assert.equal(unknownToken.status, 401);
    assert.equal(unknownToken.text, body);
  });

  it('stores a choice value that is not in sys_choice as given; only the close-out data policy refuses (§1.1: 403 = ACL, business rule or data policy)', async () => {
    const choices = await h.call(
      'GET',
      '/api/now/table/sys_choice?sysparm_query=name=incident^element=category&sysparm_fields=value',
    );
    assert.ok(!choices.json.result.some((c: { value: string }) => c.value === 'quantum'), 'not a sys_choice value');
    const created = await h.call('POST', '/api/now/table/incident', {
      body: { short_description: 'Odd category', category: 'quantum', hold_reason: '42' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.result.category, 'quantum');
    assert.equal(created.json.result.hold_reason, '42');
    const id = created.json.result.sys_id;

    // The data policy still refuses a resolve without the close-out fields…
    const missing = await h.call('PATCH', `/api/now/table/incident/${id}`, { body: { state: '6' } });
    assert.equal(missing.status, 403);
    assert.deepEqual(missing.json, {
      error: {
        message: 'Operation Failed',
        detail: 'Data Policy Exception: The following fields are mandatory: Resolution code, Resolution notes',
      },
      status: 'failure',
    });
    // …but not a close code outside the choice list: that is stored, and shown as its own display value.
    const resolved = await h.call('PATCH', `/api/now/table/incident/${id}?sysparm_display_value=all`, {
      body: { state: '6', close_code: 'Fixed it myself', close_notes: 'Rebooted' },
    });
    assert.equal(resolved.status, 200, resolved.text);
    assert.deepEqual(resolved.json.result.close_code, { display_value: 'Fixed it myself', value: 'Fixed it myself' });
    assert.deepEqual(resolved.json.result.state, { display_value: 'Resolved', value: '6' });
    const read = await h.call('GET', `/api/now/table/incident/${id}?sysparm_fields=close_code,category`);
    assert.deepEqual(read.json.result, { close_code: 'Fixed it myself', category: 'quantum' });
  });

  it('answers an unknown table with 400 "Invalid table <x>" and any other unknown path with 404 in the envelope', async () => {
    const invalidTable = (t: string) => `{"error":{"message":"Invalid table ${t}","detail":null},"status":"failure"}`;
    const noResource =
      '{"error":{"message":"Requested URI does not represent any resource","detail":null},"status":"failure"}';
    for (const path of ['/api/now/table/u_nope', '/api/now/v2/table/u_nope', '/api/now/v1/table/u_nope/0123']) {
      const r = await h.call('GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.text, invalidTable('u_nope'), path);
    }
    for (const [method, path] of [
      ['GET', '/api/now/nope'],
      ['GET', '/api/now/v3/table/incident'],
      ['POST', '/api/sn_sc/servicecatalog/cart/submit_order'],
      ['GET', '/api/now/table/incident/abc/extra'],
    ]) {
      const r = await h.call(method, path, method === 'POST' ? { body: {} } : {});
      assert.equal(r.status, 404, path);
      assert.equal(r.text, noResource, path);
      assert.match(String(r.headers['content-type']), /^application\/json/, path);
    }
  });
});
