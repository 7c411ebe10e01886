import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startHarness, type Harness } from './helpers.ts';

const UNAUTH = {
  error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
  status: 'failure',
};

describe('ServiceNow sandbox: auth, rate limits, webhooks, persistence', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const token = async (form: Record<string, string>, json = false) => {
    const body = json ? JSON.stringify(form) : new URLSearchParams(form).toString();
    const r = await request(`${h.sn.baseUrl}/oauth_token.do`, {
      method: 'POST',
      body,
      headers: {
        'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      dispatcher: h.agent,
    });
    return { status: r.statusCode, json: (await r.body.json()) as any };
  };

  it('OAuth: password grant (form only), refresh, client credentials, expiry', async () => {
    const { oauth, itil } = h.sn.credentials;
    const form = {
      grant_type: 'password',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
      username: itil.username,
      password: itil.password,
    };
    const asJson = await token(form, true);
    assert.equal(asJson.status, 401);
    assert.equal(asJson.json.error, 'server_error');
    const bad = await token({ ...form, password: 'wrong' });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json, { error: 'server_error', error_description: 'access_denied' });

    const t = await token(form);
    assert.equal(t.status, 200);
    assert.deepEqual(Object.keys(t.json).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(t.json.scope, 'useraccount');
    assert.equal(t.json.token_type, 'Bearer');
    assert.equal(t.json.expires_in, 1799);
    const me = await h.call('GET', '/api/now/table/incident?sysparm_limit=1', {
      auth: `Bearer ${t.json.access_token}`,
    });
    assert.equal(me.status, 200);

    const r = await token({
      grant_type: 'refresh_token',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
      refresh_token: t.json.refresh_token,
    });
    assert.equal(r.status, 200);
    assert.notEqual(r.json.access_token, t.json.access_token);

    const cc = await token({
      grant_type: 'client_credentials',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
    });
    assert.equal(cc.status, 200);
    assert.equal(cc.json.refresh_token, undefined);
    const created = await h.call('POST', '/api/now/table/incident', {
      auth: `Bearer ${cc.json.access_token}`,
      body: { short_description: 'via app' },
    });
    assert.equal(created.json.result.sys_created_by, 'ticketloop.integration');

    // Short-lived tokens: expiry follows the sandbox clock.
    await h.admin('PUT', '/_sandbox/servicenow/oauth', { accessTokenTtlSeconds: 60 });
    const short = await token(form);
    assert.equal(short.json.expires_in, 59);
    await h.admin('POST', '/_sandbox/clock', { advanceMs: 61_000 });
    const expired = await h.call('GET', '/api/now/table/incident?sysparm_limit=1', {
      auth: `Bearer ${short.json.access_token}`,
    });
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.json, UNAUTH);
    const again = await token({
      grant_type: 'refresh_token',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
      refresh_token: short.json.refresh_token,
    });
    assert.equal(
      (await h.call('GET', '/api/now/table/incident?sysparm_limit=1', { auth: `Bearer ${again.json.access_token}` }))
        .status,
      200,
    );
  });

  it('Basic, API key, 401 / 403 / 404 bodies and ACL-filtered reads', async () => {
    assert.deepEqual((await h.call('GET', '/api/now/table/incident', { auth: null })).json, UNAUTH);
    const wrong = await h.call('GET', '/api/now/table/incident', {
      auth: h.basic({ username: 'admin', password: 'nope' }),
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, UNAUTH);
    const key = await h.call('GET', '/api/now/table/incident?sysparm_limit=1', {
      auth: null,
      headers: { 'x-sn-apikey': h.sn.credentials.apiKey },
    });
    assert.equal(key.status, 200);

    // A user without any role fails the API-level ACL on every table, reads and writes alike.
    const ro = h.basic(h.sn.credentials.readonly);
    const FORBIDDEN = {
      error: { message: 'User Not Authorized', detail: 'Failed API level ACL Validation' },
      status: 'failure',
    };
    for (const [method, path, body] of [
      ['GET', '/api/now/table/incident?sysparm_limit=1', undefined],
      ['GET', '/api/now/table/sys_choice?sysparm_limit=1', undefined],
      ['POST', '/api/now/table/incident', { short_description: 'x' }],
    ] as const) {
      const r = await h.call(method, path, { auth: ro, body });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.deepEqual(r.json, FORBIDDEN);
    }
    // With snc_internal (an internal user) the table ACLs decide: no inserts, only one's own tickets.
    const me = (await h.call('GET', '/api/now/table/sys_user?user_name=read.only')).json.result[0].sys_id;
    const internal = (await h.call('GET', '/api/now/table/sys_user_role?name=snc_internal')).json.result[0].sys_id;
    const adminAuth = h.basic(h.sn.credentials.admin);
    const grant = await h.call('POST', '/api/now/table/sys_user_has_role', {
      auth: adminAuth,
      body: { user: me, role: internal },
    });
    assert.equal(grant.status, 201, grant.text);
    assert.equal(grant.json.result.state, 'active');
    const ins = await h.call('POST', '/api/now/table/incident', { auth: ro, body: { short_description: 'x' } });
    assert.equal(ins.status, 403);
    assert.deepEqual(ins.json, {
      error: { message: 'Operation Failed', detail: 'ACL Exception Insert Failed due to security constraints' },
      status: 'failure',
    });
    const other = (await h.call('POST', '/api/now/table/incident', { body: { short_description: 'not yours' } })).json
      .result.sys_id;
    const upd = await h.call(
      'PATCH',
      `/api/now/table/sys_user/${(await h.call('GET', '/api/now/table/sys_user?user_name=admin')).json.result[0].sys_id}`,
      { body: { title: 'x' } },
    );
    assert.equal(upd.status, 403);
    assert.equal(upd.json.error.detail, 'ACL Exception Update Failed due to security constraints');
    assert.equal((await h.call('GET', `/api/now/table/incident/${other}`, { auth: ro })).status, 404);
    // limit is applied before ACLs: the page comes back short, the count is unfiltered
    await h.call('POST', '/api/now/table/incident', { body: { short_description: 'mine', caller_id: me } });
    const list = await h.call('GET', '/api/now/table/incident?sysparm_limit=100', { auth: ro });
    assert.equal(list.json.result.length, 1);
    assert.ok(Number(list.headers['x-total-count']) > 1);
    // sys_user.roles is the computed copy of the grants
    assert.equal(
      (await h.call('GET', `/api/now/table/sys_user/${me}?sysparm_fields=roles`)).json.result.roles,
      'snc_internal',
    );
    await h.call('DELETE', `/api/now/table/sys_user_has_role/${grant.json.result.sys_id}`, { auth: adminAuth });
    assert.equal((await h.call('GET', '/api/now/table/incident?sysparm_limit=1', { auth: ro })).status, 403);
  });

  it('rate limits with 429, Retry-After and X-RateLimit-* headers', async () => {
    await h.admin('PUT', '/_sandbox/servicenow/rate-limit', { requestsPerHour: 2 });
    const a = await h.call('GET', '/api/now/table/incident?sysparm_limit=1');
    assert.equal(a.headers['x-ratelimit-limit'], '2');
    assert.match(String(a.headers['x-ratelimit-reset']), /^\d{10}$/);
    assert.match(String(a.headers['x-ratelimit-rule']), /^[0-9a-f]{32}$/);
    await h.call('GET', '/api/now/table/incident?sysparm_limit=1');
    const c = await h.call('GET', '/api/now/table/incident?sysparm_limit=1');
    assert.equal(c.status, 429);
    assert.ok(Number(c.headers['retry-after']) > 0);
    assert.deepEqual(c.json, {
      error: { message: 'Rate limit exceeded', detail: 'Rate limit of 2 requests per hour for Table API exceeded' },
      status: 'failure',
    });
    await h.admin('PUT', '/_sandbox/servicenow/rate-limit', { requestsPerHour: 0 });
    assert.equal((await h.call('GET', '/api/now/table/incident?sysparm_limit=1')).status, 200);
  });

  it('delivers signed business-rule webhooks, retrying a failed attempt', async () => {
    const got: { headers: IncomingHttpHeaders; body: string }[] = [];
    let failFirst = true;
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        got.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`;
    try {
      const secret = 's3cret';
      const put = await h.admin('PUT', '/_sandbox/servicenow/webhooks', [
        { table: 'incident', url, events: ['insert', 'update', 'delete'], auth: { type: 'hmac', secret } },
      ]);
      assert.equal(put.status, 200, put.text);
      const rec = (
        await h.call('POST', '/api/now/table/incident', {
          body: { short_description: 'hooked', caller_id: 'Abel Tuter' },
        })
      ).json.result;
      await h.call('PATCH', `/api/now/table/incident/${rec.sys_id}`, { body: { work_notes: 'n' } });
      await h.call('DELETE', `/api/now/table/incident/${rec.sys_id}`);
      const deadline = Date.now() + 8000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 3);
      const ops = got.map((g) => JSON.parse(g.body));
      assert.deepEqual(ops.map((o) => o.operation).sort(), ['delete', 'insert', 'update']);
      for (const g of got) {
        assert.match(String(g.headers['x-sn-timestamp']), /^\d{10}$/);
        // Signed: the timestamp, a dot, the raw body (WEBHOOKS.md).
        const expected =
          'sha256=' + createHmac('sha256', secret).update(`${g.headers['x-sn-timestamp']}.${g.body}`).digest('hex');
        assert.equal(g.headers['x-sn-signature'], expected);
        assert.equal(g.headers['user-agent'], 'ServiceNow/1.0');
        assert.match(String(g.headers['x-sn-delivery']), /^[0-9a-f-]{36}$/);
      }
      const ins = ops.find((o) => o.operation === 'insert');
      assert.equal(ins.table, 'incident');
      assert.equal(ins.sys_id, rec.sys_id);
      assert.equal(typeof ins.record.caller_id, 'string');
      assert.equal(ins.record.number, rec.number);
      const upd = ops.find((o) => o.operation === 'update');
      assert.equal(upd.record.sys_mod_count, '1');
      const log = (await h.admin('GET', '/_sandbox/servicenow/webhooks/deliveries')).json;
      assert.ok(log.some((d: any) => d.attempts === 2 && d.state === 'delivered'));
    } finally {
      await h.admin('PUT', '/_sandbox/servicenow/webhooks', []);
      srv.close();
    }
  });

  it('keeps records, counters, users and settings across a restart', async () => {
    const before = (await h.call('POST', '/api/now/table/incident', { body: { short_description: 'persist me' } })).json
      .result;
    await h.admin('PUT', '/_sandbox/servicenow/oauth', { accessTokenTtlSeconds: 42 });
    await h.restart();
    const got = await h.call('GET', `/api/now/table/incident/${before.sys_id}`);
    assert.equal(got.json.result.short_description, 'persist me');
    const next = (await h.call('POST', '/api/now/table/incident', { body: { short_description: 'after' } })).json
      .result;
    assert.equal(Number(next.number.slice(3)), Number(before.number.slice(3)) + 1);
    assert.equal((await h.admin('GET', '/_sandbox/servicenow/oauth')).json.accessTokenTtlSeconds, 42);
    const users = await h.call('GET', '/api/now/table/sys_user?user_name=abel.tuter');
    assert.equal(users.json.result.length, 1);
  });
});
