import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { HttpError } from '../../src/engine/errors.ts';
import { nextAttemptAt } from '../../src/engine/retry.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { str, type RateLimitInfo } from '../../src/itsm/servicenow/client.ts';
import { registerServiceNowMetrics } from '../../src/itsm/servicenow/metrics.ts';
import { startEnv, type Env } from './helpers.ts';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(async () => {
  await env?.close();
});

test('CRUD on a table: strings, {result} envelope, reference links, 404s', async () => {
  const c = env.client();
  const created = await c.create('incident', {
    short_description: 'Disk full',
    impact: '2',
    urgency: '2',
    correlation_id: 'crud-1',
  });
  assert.match(str(created.sys_id), /^[0-9a-f]{32}$/);
  assert.match(str(created.number), /^INC\d{7,}$/);
  assert.equal(created.priority, '3', 'priority computed from impact/urgency, as a string');
  assert.equal(typeof created.sys_mod_count, 'string');
  const id = str(created.sys_id);

  const got = await c.get('incident', id);
  assert.equal(str(got!.short_description), 'Disk full');
  const opened = got!.opened_by;
  assert.equal(typeof opened, 'object', 'references default to {link, value}');
  assert.match((opened as { link: string }).link, /\/api\/now\/table\/sys_user\//);
  const plain = await c.get('incident', id, { excludeReferenceLink: true, fields: ['sys_id', 'opened_by', 'number'] });
  assert.equal(typeof plain!.opened_by, 'string');
  assert.deepEqual(Object.keys(plain!).sort(), ['number', 'opened_by', 'sys_id']);

  const updated = await c.update('incident', id, { short_description: 'Disk full on db01' });
  assert.equal(str(updated.short_description), 'Disk full on db01');
  assert.equal(str(updated.sys_mod_count), '1');

  assert.equal(await c.delete('incident', id), true);
  assert.equal(await c.get('incident', id), undefined);
  assert.equal(await c.delete('incident', id), false);
});

test('display values: true → labels, all → {display_value, value}', async () => {
  const c = env.client();
  const rec = await c.create('incident', {
    short_description: 'dv',
    impact: '1',
    urgency: '1',
    correlation_id: 'dv-1',
  });
  const id = str(rec.sys_id);
  const t = await c.get('incident', id, { displayValue: true, fields: ['priority', 'opened_by'] });
  assert.equal(t!.priority, '1 - Critical');
  assert.ok(typeof t!.opened_by === 'object' && (t!.opened_by as { display_value: string }).display_value);
  const all = await c.get('incident', id, { displayValue: 'all', fields: ['priority'] });
  assert.deepEqual(all!.priority, { display_value: '1 - Critical', value: '1' });
});

test('every query operator through the Table API', async () => {
  const c = env.client();
  const tag = `ops-${Date.now()}`;
  const mk = (n: number, extra: Record<string, string>) =>
    c.create('incident', { correlation_id: `${tag}-${n}`, short_description: `${tag} item ${n}`, ...extra });
  await mk(1, { impact: '1', urgency: '1', description: 'alpha vpn' });
  await mk(2, { impact: '2', urgency: '3', description: 'beta' });
  await mk(3, { impact: '3', urgency: '3', description: '' });
  const base = () => q().startsWith('correlation_id', `${tag}-`);
  const ids = async (query: ReturnType<typeof q>) => {
    const out: string[] = [];
    for await (const r of c.listAll('incident', { query: query.orderBy('correlation_id'), fields: ['correlation_id'] }))
      out.push(str(r.correlation_id).slice(tag.length + 1));
    return out.join(',');
  };
  assert.equal(await ids(base()), '1,2,3');
  assert.equal(await ids(base().eq('impact', '2')), '2');
  assert.equal(await ids(base().ne('impact', '2')), '1,3');
  assert.equal(await ids(base().endsWith('correlation_id', '-3')), '3');
  assert.equal(await ids(base().like('description', 'VPN')), '1');
  assert.equal(await ids(base().notLike('short_description', 'item 1')), '2,3');
  assert.equal(await ids(base().isEmpty('description')), '3');
  assert.equal(await ids(base().isNotEmpty('description')), '1,2');
  assert.equal(await ids(base().emptyString('description')), '3');
  assert.equal(await ids(base().anything('description')), '1,2,3');
  assert.equal(await ids(base().sameAs('impact', 'urgency')), '1,3');
  assert.equal(await ids(base().notSameAs('impact', 'urgency')), '2');
  assert.equal(await ids(base().lt('impact', 2)), '1');
  assert.equal(await ids(base().lte('impact', 2)), '1,2');
  assert.equal(await ids(base().gt('impact', 2)), '3');
  assert.equal(await ids(base().gte('impact', 2)), '2,3');
  assert.equal(await ids(base().between('impact', 2, 3)), '2,3');
  assert.equal(await ids(base().gtField('urgency', 'impact')), '2');
  assert.equal(await ids(base().ltField('urgency', 'impact')), '');
  assert.equal(await ids(base().gteField('urgency', 'impact')), '1,2,3');
  assert.equal(await ids(base().lteField('urgency', 'impact')), '1,3');
  assert.equal(await ids(base().in('impact', ['1', '3'])), '1,3');
  assert.equal(await ids(base().notIn('impact', ['1', '3'])), '2');
  assert.equal(await ids(base().eq('impact', '1').or().eq('impact', '3')), '1,3');
  assert.equal(await ids(q().eq('correlation_id', `${tag}-1`).nq().eq('correlation_id', `${tag}-2`)), '1,2');
  assert.equal(await ids(base().relative('sys_created_on', 'RELATIVEGT', 'hour', 'ago', 1)), '1,2,3');
  assert.equal(await ids(base().script('sys_created_on', '>=', 'javascript:gs.daysAgoStart(0)')), '1,2,3');
  assert.equal(await ids(base().eq('opened_by.user_name', env.sn.credentials.itil.username)), '1,2,3');
  // ordering
  const desc: string[] = [];
  for await (const r of c.listAll('incident', {
    query: base().orderByDesc('correlation_id'),
    fields: ['correlation_id'],
  }))
    desc.push(str(r.correlation_id).slice(-1));
  assert.deepEqual(desc, ['3', '2', '1']);
});

test('listAll streams across many pages (Link / X-Total-Count)', async () => {
  await env.admin('POST', '/_sandbox/servicenow/seed', {
    table: 'problem',
    count: 2_345,
    fields: { short_description: 'Paged {n}' },
  });
  const c = env.client();
  const first = await c.list('problem', { query: q().like('short_description', 'Paged'), pageSize: 1000 });
  assert.equal(first.records.length, 1000);
  assert.equal(first.totalCount, 2345);
  assert.equal(first.nextOffset, 1000);
  const seen = new Set<string>();
  let pages = 0;
  for await (const page of c.pages('problem', {
    query: q().like('short_description', 'Paged').orderBy('sys_id'),
    pageSize: 500,
    fields: ['sys_id'],
  })) {
    pages++;
    assert.ok(page.length <= 500);
    for (const r of page) seen.add(str(r.sys_id));
  }
  assert.equal(pages, 5);
  assert.equal(seen.size, 2345);
  // noCount: paging still ends (short last page / Link)
  let n = 0;
  for await (const _ of c.listAll('problem', {
    query: q().like('short_description', 'Paged'),
    pageSize: 1000,
    noCount: true,
    fields: ['sys_id'],
  }))
    n++;
  assert.equal(n, 2345);
});

test('refuses an empty list query unless asked; unknown table is an error', async () => {
  const c = env.client();
  await assert.rejects(c.list('incident', {}), /without a query/);
  await assert.rejects(c.list('incident', { query: '' }), /without a query/);
  const page = await c.list('incident', { allowEmpty: true, pageSize: 1 });
  assert.equal(page.records.length, 1);
  await assert.rejects(
    c.list('no_such_table', { allowEmpty: true }),
    (e: unknown) => e instanceof HttpError && e.status === 400,
  );
  await assert.rejects(c.get('incident', 'not-a-sys-id'), /invalid sys_id/);
});

test('429: surfaced with its Retry-After for the engine to honour; rate-limit headers reach the metrics', async () => {
  const registry = new Registry();
  const metrics = registerServiceNowMetrics(registry);
  const infos: RateLimitInfo[] = [];
  const c = env.client({ onRateLimit: (i) => (infos.push(i), metrics.onRateLimit(i)) });
  await env.admin('PATCH', '/_sandbox/faults', { burst429: 1, retryAfterSeconds: 1 });
  try {
    await assert.rejects(c.list('incident', { allowEmpty: true, pageSize: 1 }), (e: unknown) => {
      assert.ok(e instanceof HttpError && e.status === 429 && e.retryable);
      assert.equal(e.retryAfterMs, 1000);
      assert.equal(nextAttemptAt(e, 1, 5_000, { backoffBaseMs: 1, backoffMaxMs: 1 }), 6_000);
      return true;
    });
  } finally {
    await env.admin('DELETE', '/_sandbox/faults');
  }
  assert.equal(infos.filter((i) => i.status === 429).length, 1);
  const page = await c.list('incident', { allowEmpty: true, pageSize: 1 });
  assert.equal(page.records.length, 1, 'the next attempt goes through');

  // The instance's own rate-limit rule: headers on every answer, 429 + a long Retry-After when exceeded.
  await env.admin('PUT', '/_sandbox/servicenow/rate-limit', { requestsPerHour: 3 });
  try {
    for (let i = 0; i < 3; i++) await c.list('incident', { allowEmpty: true, pageSize: 1 });
    const last = infos[infos.length - 1];
    assert.equal(last.limit, 3);
    assert.ok(last.reset! > Date.now() / 1000);
    const err = await c.list('incident', { allowEmpty: true, pageSize: 1 }).catch((e) => e);
    assert.ok(err instanceof HttpError && err.status === 429, String(err));
    assert.ok(err.retryAfterMs! > 1000);
    assert.equal(err.retryable, true);
    assert.equal(
      nextAttemptAt(err, 1, 1_000, { backoffBaseMs: 1, backoffMaxMs: 1 }),
      1_000 + err.retryAfterMs!,
      'engine reschedules after Retry-After',
    );
    const text = await registry.metrics();
    assert.match(text, /ticketloop_servicenow_rate_limit_limit\{instance="default"\} 3/);
    assert.match(text, /ticketloop_servicenow_rate_limited_total\{instance="default"\} [1-9]/);
    assert.match(text, /ticketloop_servicenow_rate_limit_reset_seconds/);
  } finally {
    await env.admin('PUT', '/_sandbox/servicenow/rate-limit', { requestsPerHour: 0 });
  }
});

test('5xx: no call is retried inline — the error goes up, retryable, for the engine to reschedule', async () => {
  const c = env.client();
  await env.admin('PATCH', '/_sandbox/faults', {
    errorRate: 1,
    errorStatus: 503,
    pathPattern: '^/api/now/table/incident$',
  });
  try {
    const seen: number[] = [];
    const c2 = env.client({ recorder: { record: (x) => seen.push(x.status) } });
    await assert.rejects(
      c2.list('incident', { allowEmpty: true, pageSize: 1 }),
      (e: unknown) => e instanceof HttpError && e.status === 503 && e.retryable,
    );
    assert.deepEqual(seen, [503], 'a GET is sent once');
    seen.length = 0;
    await assert.rejects(
      c2.create('incident', { short_description: 'x' }),
      (e: unknown) => e instanceof HttpError && e.status === 503,
    );
    assert.deepEqual(seen, [503], 'a POST is sent once');
  } finally {
    await env.admin('DELETE', '/_sandbox/faults');
  }
  assert.ok((await c.list('incident', { allowEmpty: true, pageSize: 1 })).records.length);
});
