import { createHmac } from 'node:crypto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import type { TicketChange } from '../../src/itsm/port.ts';
import { ServiceNowItsm } from '../../src/itsm/servicenow/adapter.ts';
import { registerServiceNowWebhook, signWebhook } from '../../src/itsm/servicenow/webhook.ts';
import { MemoryWatermarkStore, ServiceNowPoller } from '../../src/itsm/servicenow/poller.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { str } from '../../src/itsm/servicenow/client.ts';
import { eventually, startEnv, type Env } from './helpers.ts';

let env: Env;
let app: FastifyInstance;
let hookUrl: string;
const received: TicketChange[] = [];
const SECRET = 'webhook-secret-for-tests';

before(async () => {
  env = await startEnv();
  app = Fastify();
  await registerServiceNowWebhook(app, {
    auth: { type: 'hmac', secret: SECRET },
    instanceUrl: env.sn.baseUrl,
    onChange: async (c) => {
      received.push(c);
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks/servicenow`;
  await env.admin('PUT', '/_sandbox/servicenow/webhooks', [
    { table: 'incident', url: hookUrl, events: ['insert', 'update', 'delete'], auth: { type: 'hmac', secret: SECRET } },
  ]);
});
after(async () => {
  await app?.close();
  await env?.close();
});

const CLOSE_OUT = { incident: { resolve: { close_code: 'Solution provided' } } };

test('webhook and polling both see a resolve', async () => {
  const c = env.client();
  const itsm = new ServiceNowItsm({ client: c, closeOut: CLOSE_OUT });
  const store = new MemoryWatermarkStore();
  const polled: TicketChange[] = [];
  const poller = new ServiceNowPoller({
    client: c,
    table: 'incident',
    store,
    onChange: async (ch) => void polled.push(ch),
    filter: q().startsWith('correlation_id', 'tl:sync'),
  });
  await poller.pollOnce(); // sets the watermark

  const { ticket } = await itsm.openTicket({
    kind: 'incident',
    correlation: 'tl:sync-1',
    fields: { short_description: 'sync' },
  });
  await itsm.resolveTicket(ticket.ref, { notes: 'fixed upstream' });

  const hook = await eventually(
    () => received.find((ch) => ch.ref.id === ticket.ref.id && ch.ticket?.status === 'resolved'),
    10_000,
    'webhook resolve',
  );
  assert.equal(hook.source, 'webhook');
  assert.equal(hook.ticket!.closeCode, 'Solution provided');
  assert.equal(hook.ref.key, ticket.ref.key);

  const r = await poller.pollOnce();
  const seen = polled.filter((ch) => ch.ref.id === ticket.ref.id);
  assert.equal(seen.length, 1, 'insert+resolve between polls → one change with the latest state');
  assert.equal(seen[0].ticket!.status, 'resolved');
  assert.equal(seen[0].source, 'poll');
  assert.match(r.watermark, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const again = await poller.pollOnce();
  assert.equal(again.changes, 0, 'the look-back re-reads but dedupes by sys_id + sys_mod_count');
  assert.ok(again.seen >= 1);
});

test('webhook: bad signature or credentials → 401 and nothing stored; deletes are reported', async () => {
  const before = received.length;
  const body = JSON.stringify({
    table: 'incident',
    operation: 'update',
    sys_id: 'a'.repeat(32),
    record: { state: '6' },
  });
  const stale = signWebhook(SECRET, body, Date.now() - 6 * 60_000);
  const bodyOnly = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`; // the old scheme
  for (const headers of [
    {},
    { 'x-sn-signature': 'sha256=' + '0'.repeat(64), 'x-sn-timestamp': stale['x-sn-timestamp'] },
    signWebhook('other-secret', body),
    stale,
    { 'x-sn-signature': bodyOnly, 'x-sn-timestamp': String(Math.floor(Date.now() / 1000)) },
  ]) {
    const r = await request(hookUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
    assert.equal(r.statusCode, 401);
    await r.body.dump();
  }
  const bad = await request(hookUrl, {
    method: 'POST',
    body: '{"table":1}',
    headers: { 'content-type': 'application/json', ...signWebhook(SECRET, '{"table":1}') },
  });
  assert.equal(bad.statusCode, 400);
  await bad.body.dump();
  assert.equal(received.length, before);

  const c = env.client();
  const rec = await c.create('incident', { short_description: 'to delete', correlation_id: 'tl:sync-del' });
  await c.delete('incident', str(rec.sys_id));
  const del = await eventually(
    () => received.find((ch) => ch.ref.id === str(rec.sys_id) && ch.deleted),
    10_000,
    'webhook delete',
  );
  assert.equal(del.ticket, undefined);
  assert.equal(del.ref.key, str(rec.number));
});

test('webhook: the same signed request again (a replay inside the window) is answered duplicate, handled once', async () => {
  // Security review, issue 10, finding 9a: signed requests were accepted again and again, forever.
  const before = received.length;
  const body = JSON.stringify({
    table: 'incident',
    operation: 'update',
    sys_id: 'b'.repeat(32),
    record: { state: '2', correlation_id: 'tl:sync-replay', sys_mod_count: '1' },
  });
  const headers = { 'content-type': 'application/json', ...signWebhook(SECRET, body) };
  const statuses: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await request(hookUrl, { method: 'POST', body, headers });
    assert.equal(r.statusCode, 202);
    statuses.push(((await r.body.json()) as { status: string }).status);
  }
  assert.deepEqual(statuses, ['accepted', 'duplicate', 'duplicate']);
  assert.equal(received.filter((c) => c.ref.id === 'b'.repeat(32)).length, 1);
  assert.equal(received.length, before + 1);
});

test('poller: keyset paging over many records sharing one sys_updated_on', async () => {
  await env.admin('POST', '/_sandbox/servicenow/seed', {
    table: 'problem',
    count: 2_500,
    fields: { short_description: 'Same second {n}' },
  });
  const ids = new Set<string>();
  let n = 0;
  const poller = new ServiceNowPoller({
    client: env.client(),
    table: 'problem',
    store: new MemoryWatermarkStore(),
    pageSize: 400,
    initialLookBackMs: 3_600_000,
    onChange: async (ch) => {
      n++;
      ids.add(ch.ref.id);
    },
  });
  const r = await poller.pollOnce();
  assert.equal(ids.size, 2_500);
  assert.equal(n, 2_500, 'no record delivered twice');
  assert.equal(r.changes, 2_500);
});

test('reconcile catches a reopened record and a hard-deleted one', async () => {
  const c = env.client();
  const itsm = new ServiceNowItsm({ client: c, closeOut: CLOSE_OUT });
  const a = (await itsm.openTicket({ kind: 'incident', correlation: 'tl:rec-a', fields: { short_description: 'a' } }))
    .ticket;
  const b = (await itsm.openTicket({ kind: 'incident', correlation: 'tl:rec-b', fields: { short_description: 'b' } }))
    .ticket;
  const u = (await itsm.openTicket({ kind: 'incident', correlation: 'tl:rec-c', fields: { short_description: 'c' } }))
    .ticket;
  const resolved = await itsm.resolveTicket(a.ref, { notes: 'done' });
  // What we stored: a resolved (with its mod count), b open. Then, behind our back: a reopened, b deleted.
  const known = [
    { sysId: a.ref.id, modCount: resolved.fields.sys_mod_count },
    { sysId: b.ref.id, modCount: b.fields.sys_mod_count },
  ];
  await c.update('incident', a.ref.id, { state: '2' });
  await c.delete('incident', b.ref.id);

  const changes: TicketChange[] = [];
  const poller = new ServiceNowPoller({
    client: c,
    table: 'incident',
    store: new MemoryWatermarkStore(),
    onChange: async (ch) => void changes.push(ch),
  });
  async function* stream() {
    yield* known;
  }
  const stats = await poller.reconcile('incident', stream(), q().startsWith('correlation_id', 'tl:rec-'));
  assert.deepEqual(stats, { checked: 2, changed: 1, deleted: 1, untracked: 1 });
  const reopened = changes.find((ch) => ch.ref.id === a.ref.id)!;
  assert.deepEqual(
    [reopened.source, reopened.ticket!.status, reopened.ticket!.fields.state],
    ['reconcile', 'open', '2'],
  );
  const gone = changes.find((ch) => ch.ref.id === b.ref.id)!;
  assert.deepEqual([gone.deleted, gone.ticket], [true, undefined]);
  assert.ok(
    changes.some((ch) => ch.ref.id === u.ref.id && !ch.deleted),
    'untracked matching record reported',
  );
  // unchanged known tickets are not reported again
  const quiet: TicketChange[] = [];
  const p2 = new ServiceNowPoller({
    client: c,
    table: 'incident',
    store: new MemoryWatermarkStore(),
    onChange: async (ch) => void quiet.push(ch),
  });
  const now = (await c.get('incident', a.ref.id, { fields: ['sys_mod_count'] }))!;
  assert.deepEqual(await p2.reconcile('incident', [{ sysId: a.ref.id, modCount: str(now.sys_mod_count) }]), {
    checked: 1,
    changed: 0,
    deleted: 0,
    untracked: 0,
  });
  assert.equal(quiet.length, 0);
});
