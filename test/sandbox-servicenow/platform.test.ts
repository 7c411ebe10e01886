import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from './helpers.ts';
import { until } from '../helpers/wait.ts';

/** Role tables, system properties (password2) and the installed Ticketloop business rule. */

interface Got {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(): Promise<{ url: string; got: Got[]; close(): void }> {
  const got: Got[] = [];
  const srv: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`, got, close: () => srv.close() };
}

const SCRIPT = '// Ticketloop business rule v2\n(function executeRule(current, previous) {})(current, previous);';
/** What the v2 script sends: HMAC over "<X-Sn-Timestamp>.<body>". */
const signed = (g: { headers: Record<string, unknown>; body: string }) =>
  'sha256=' + createHmac('sha256', SECRET).update(`${g.headers['x-sn-timestamp']}.${g.body}`).digest('hex');
const SECRET = 'rule-secret-1';

describe('ServiceNow sandbox: roles, properties, business rules', () => {
  let h: Harness;
  let admin: string;
  before(async () => {
    h = await startHarness({ seedDemoData: false });
    admin = h.basic(h.sn.credentials.admin);
  });
  after(() => h.close());

  it('serves roles from sys_user_role / sys_user_has_role, dot-walked, also on a minimal seed', async () => {
    const mine = await h.call(
      'GET',
      '/api/now/table/sys_user_has_role?sysparm_query=user.user_name=it.support%5Estate=active&sysparm_fields=role.name,user.user_name,state',
    );
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.result, [{ 'role.name': 'itil', 'user.user_name': 'it.support', state: 'active' }]);
    // Non-admins see their own grants only; admin sees everyone's.
    const others = await h.call('GET', '/api/now/table/sys_user_has_role?sysparm_query=user.user_name=admin');
    assert.deepEqual(others.json.result, []);
    const adminsView = await h.call(
      'GET',
      '/api/now/table/sys_user_has_role?sysparm_query=user.user_name=admin&sysparm_fields=role.name',
      { auth: admin },
    );
    assert.deepEqual(adminsView.json.result, [{ 'role.name': 'admin' }]);
    const names = (await h.call('GET', '/api/now/table/sys_user_role?sysparm_fields=name')).json.result.map(
      (r: { name: string }) => r.name,
    );
    for (const n of ['admin', 'itil', 'snc_internal']) assert.ok(names.includes(n), n);
  });

  it('sys_properties and sys_script are admin-only; password2 values are never returned in clear', async () => {
    const denied = await h.call('POST', '/api/now/table/sys_properties', { body: { name: 'x.y', value: '1' } });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json, {
      error: { message: 'Operation Failed', detail: 'ACL Exception Insert Failed due to security constraints' },
      status: 'failure',
    });
    const rule = await h.call('POST', '/api/now/table/sys_script', { body: { name: 'r', collection: 'incident' } });
    assert.equal(rule.status, 403);
    const read = await h.call('GET', '/api/now/table/sys_script?sysparm_limit=1');
    assert.equal(read.status, 403);
    assert.equal(read.json.error.message, 'User Not Authorized');

    const created = await h.call('POST', '/api/now/table/sys_properties?sysparm_input_display_value=true', {
      auth: admin,
      body: { name: 'x_test.secret', type: 'password2', value: 'plain-secret-value', description: 'test' },
    });
    assert.equal(created.status, 201, created.text);
    const stored = created.json.result.value as string;
    assert.notEqual(stored, 'plain-secret-value');
    assert.ok(!stored.includes('plain-secret'), stored);
    assert.match(stored, /^[A-Za-z0-9+/]+=*$/, 'an opaque encrypted value');
    const got = await h.call('GET', `/api/now/table/sys_properties/${created.json.result.sys_id}`, { auth: admin });
    assert.equal(got.json.result.value, stored);
    // Writing the same secret again encrypts it afresh: a client cannot compare by reading back.
    const again = await h.call(
      'PATCH',
      `/api/now/table/sys_properties/${created.json.result.sys_id}?sysparm_input_display_value=true`,
      { auth: admin, body: { value: 'plain-secret-value' } },
    );
    assert.notEqual(again.json.result.value, stored);
    const str = await h.call('POST', '/api/now/table/sys_properties', {
      auth: admin,
      body: { name: 'x_test.plain', value: 'v' },
    });
    assert.deepEqual([str.json.result.type, str.json.result.value], ['string', 'v']);
  });

  it('runs the installed Ticketloop rule: HMAC with the property secret, actions and condition honoured, across a restart', async () => {
    const rx = await receiver();
    try {
      const prop = (body: Record<string, string>) =>
        h.call('POST', '/api/now/table/sys_properties?sysparm_input_display_value=true', { auth: admin, body });
      assert.equal((await prop({ name: 'x_ticketloop.webhook_url', value: rx.url })).status, 201);
      assert.equal((await prop({ name: 'x_ticketloop.webhook_secret', type: 'password2', value: SECRET })).status, 201);
      const installed = await h.call('POST', '/api/now/table/sys_script', {
        auth: admin,
        body: {
          name: 'Ticketloop webhook (incident)',
          collection: 'incident',
          when: 'after',
          action_insert: 'true',
          action_update: 'true',
          action_delete: 'false',
          advanced: 'true',
          condition: "current.correlation_id.startsWith('tl:')",
          script: SCRIPT,
        },
      });
      assert.equal(installed.status, 201, installed.text);
      assert.equal(installed.json.result.active, 'true');
      // A rule on another table, and one without the marker, never fire for incidents.
      await h.call('POST', '/api/now/table/sys_script', {
        auth: admin,
        body: { name: 'other', collection: 'incident', when: 'after', action_insert: 'true', script: '// mine' },
      });

      const skip = (
        await h.call('POST', '/api/now/table/incident', {
          body: { short_description: 'not ours', correlation_id: 'x:1' },
        })
      ).json.result;
      const inc = (
        await h.call('POST', '/api/now/table/incident', {
          body: { short_description: 'ours', correlation_id: 'tl:a:1' },
        })
      ).json.result;
      const first = await until(() => rx.got[0], 'the insert to be delivered');
      const body = JSON.parse(first.body);
      assert.deepEqual([body.table, body.operation, body.sys_id], ['incident', 'insert', inc.sys_id]);
      assert.equal(body.record.correlation_id, 'tl:a:1');
      assert.match(String(first.headers['x-sn-timestamp']), /^\d{10}$/);
      assert.equal(first.headers['x-sn-signature'], signed(first));
      assert.equal(first.headers['content-type'], 'application/json');
      assert.equal(first.headers['user-agent'], 'ServiceNow/1.0');
      assert.equal(first.headers['x-sn-delivery'], undefined, 'only what the script sets');

      await h.call('PATCH', `/api/now/table/incident/${inc.sys_id}`, { body: { short_description: 'ours, edited' } });
      const upd = await until(() => rx.got.find((g) => JSON.parse(g.body).operation === 'update'), 'the update');
      assert.equal(JSON.parse(upd.body).record.sys_mod_count, '1');
      await h.call('DELETE', `/api/now/table/incident/${inc.sys_id}`);
      // The delete is not an action of the rule; the skipped ticket does not match the condition.
      const log = (await h.admin('GET', '/_sandbox/servicenow/webhooks/deliveries')).json as {
        source: string;
        sys_id: string;
        operation: string;
      }[];
      const rules = log.filter((d) => d.source === 'business_rule');
      assert.deepEqual(
        rules.map((d) => d.operation),
        ['insert', 'update'],
      );
      assert.ok(!rules.some((d) => d.sys_id === skip.sys_id));

      await h.restart();
      const later = (
        await h.call('POST', '/api/now/table/incident', {
          body: { short_description: 'after', correlation_id: 'tl:a:2' },
        })
      ).json.result;
      const after = await until(
        () => rx.got.find((g) => JSON.parse(g.body).sys_id === later.sys_id),
        'a delivery after the restart',
      );
      assert.equal(after.headers['x-sn-signature'], signed(after), 'the encrypted secret survives the restart');
      const deactivate = await h.call('PATCH', `/api/now/table/sys_script/${installed.json.result.sys_id}`, {
        auth: h.basic(h.sn.credentials.admin),
        body: { active: 'false' },
      });
      assert.equal(deactivate.status, 200);
      const count = rx.got.length;
      const quiet = (
        await h.call('POST', '/api/now/table/incident', { body: { short_description: 'q', correlation_id: 'tl:a:3' } })
      ).json.result;
      const log2 = (await h.admin('GET', '/_sandbox/servicenow/webhooks/deliveries')).json as { sys_id: string }[];
      assert.ok(!log2.some((d) => d.sys_id === quiet.sys_id), 'an inactive rule does not fire');
      assert.equal(rx.got.length, count);
    } finally {
      rx.close();
    }
  });

  it('an un-upgraded v1 rule signs the body alone and sends no timestamp (Ticketloop refuses it)', async () => {
    const rx = await receiver();
    try {
      const url = await h.call('GET', '/api/now/table/sys_properties?sysparm_query=name=x_ticketloop.webhook_url', {
        auth: admin,
      });
      await h.call('PATCH', `/api/now/table/sys_properties/${url.json.result[0].sys_id}`, {
        auth: admin,
        body: { value: rx.url },
      });
      await h.call('POST', '/api/now/table/sys_script', {
        auth: admin,
        body: {
          name: 'Ticketloop webhook (problem)',
          collection: 'problem',
          when: 'after',
          action_insert: 'true',
          script: SCRIPT.replace('v2', 'v1'),
        },
      });
      await h.call('POST', '/api/now/table/problem', { body: { short_description: 'v1', correlation_id: 'tl:b:1' } });
      const got = await until(() => rx.got[0], 'the v1 delivery');
      assert.equal(got.headers['x-sn-timestamp'], undefined);
      assert.equal(
        got.headers['x-sn-signature'],
        'sha256=' + createHmac('sha256', SECRET).update(got.body).digest('hex'),
      );
    } finally {
      rx.close();
    }
  });
});
