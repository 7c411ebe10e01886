import { test } from 'node:test';
import assert from 'node:assert/strict';
import { q, QueryError, formatSnDate, parseSnDate } from '../../src/itsm/servicenow/query.ts';
import { nextOffset, rateLimitInfo, str } from '../../src/itsm/servicenow/client.ts';
import { checkCorrelationId } from '../../src/itsm/servicenow/adapter.ts';
import { toTicket } from '../../src/itsm/servicenow/map.ts';
import { signWebhook, verifyWebhookAuth } from '../../src/itsm/servicenow/webhook.ts';

test('builds AND / OR / NQ terms and ordering', () => {
  assert.equal(
    q().eq('active', true).orderBy('number').orderByDesc('category').build(),
    'active=true^ORDERBYnumber^ORDERBYDESCcategory',
  );
  assert.equal(q().eq('a', '1').or().eq('b', '2').and().ne('c', '3').build(), 'a=1^ORb=2^c!=3');
  assert.equal(q().eq('a', '1').nq().eq('b', '2').build(), 'a=1^NQb=2');
});

test('every operator has its exact token', () => {
  const s = q()
    .startsWith('f', 'x')
    .endsWith('f', 'x')
    .like('f', 'x')
    .notLike('f', 'x')
    .isEmpty('f')
    .isNotEmpty('f')
    .emptyString('f')
    .anything('f')
    .sameAs('f', 'g')
    .notSameAs('f', 'g')
    .lt('n', 1)
    .lte('n', 2)
    .gt('n', 3)
    .gte('n', 4)
    .between('n', 1, 3)
    .gtField('f', 'g')
    .ltField('f', 'g')
    .gteField('f', 'g')
    .lteField('f', 'g')
    .in('state', ['1', '2', 3])
    .notIn('state', ['6', '7'])
    .dynamic('assigned_to', 'abc')
    .relative('sys_updated_on', 'RELATIVEGT', 'hour', 'ago', 1)
    .script('opened_at', '>=', 'javascript:gs.daysAgoStart(0)')
    .eq('caller_id.email', 'a@b.c')
    .build();
  assert.equal(
    s,
    [
      'fSTARTSWITHx',
      'fENDSWITHx',
      'fLIKEx',
      'fNOT LIKEx',
      'fISEMPTY',
      'fISNOTEMPTY',
      'fEMPTYSTRING',
      'fANYTHING',
      'fSAMEASg',
      'fNSAMEASg',
      'n<1',
      'n<=2',
      'n>3',
      'n>=4',
      'nBETWEEN1@3',
      'fGT_FIELDg',
      'fLT_FIELDg',
      'fGT_OR_EQUALS_FIELDg',
      'fLT_OR_EQUALS_FIELDg',
      'stateIN1,2,3',
      'stateNOT IN6,7',
      'assigned_toDYNAMICabc',
      'sys_updated_onRELATIVEGT@hour@ago@1',
      'opened_at>=javascript:gs.daysAgoStart(0)',
      'caller_id.email=a@b.c',
    ].join('^'),
  );
});

test('refuses values that would split or widen a query', () => {
  assert.throws(() => q().eq('correlation_id', ''), QueryError);
  assert.throws(() => q().eq('correlation_id', '   '), QueryError);
  assert.throws(() => q().eq('correlation_id', 'a^ORactive=true'), /\^/);
  assert.throws(() => q().eq('correlation_id', 'a\nb'), QueryError);
  assert.throws(() => q().eq('correlation_id', 'javascript:gs.getUserID()'), /javascript/);
  assert.throws(() => q().eq('correlation_id', undefined as unknown as string), QueryError);
  assert.throws(() => q().in('state', []), /empty IN/);
  assert.throws(() => q().in('state', ['1,2']), /separator/);
  assert.throws(() => q().between('n', '1@2', '3'), /separator/);
  assert.throws(() => q().eq('bad field', 'x'), /invalid field/);
  assert.throws(() => q().eq('a=1^b', 'x'), /invalid field/);
});

test('refuses empty and malformed queries', () => {
  assert.throws(() => q().build(), /empty query/);
  assert.throws(() => q().orderBy('number').build(), /empty query/);
  assert.equal(q().orderBy('number').build({ allowEmpty: true }), 'ORDERBYnumber');
  assert.throws(() => q().or(), /needs a term/);
  assert.throws(() => q().eq('a', '1').or().build(), /dangling/);
  assert.throws(() => q().eq('a', '1').or().nq(), /cannot follow/);
});

test('UTC date formatting never uses the local zone', () => {
  const prev = process.env.TZ;
  process.env.TZ = 'America/Los_Angeles';
  try {
    assert.equal(formatSnDate(Date.UTC(2024, 0, 2, 3, 4, 5)), '2024-01-02 03:04:05');
    assert.equal(parseSnDate('2024-01-02 03:04:05'), Date.UTC(2024, 0, 2, 3, 4, 5));
    assert.equal(parseSnDate('not a date'), undefined);
  } finally {
    process.env.TZ = prev;
  }
});

test('paging: Link next, X-Total-Count, short page', () => {
  const link =
    '<https://i/api/now/table/incident?sysparm_offset=0&sysparm_limit=2>;rel="first",<https://i/api/now/table/incident?sysparm_offset=2&sysparm_limit=2>;rel="next"';
  assert.equal(nextOffset({ link }, 0, 2, 2, 10), 2);
  assert.equal(nextOffset({ link: '<https://i/x?sysparm_offset=0>;rel="first"' }, 8, 2, 2, 10), undefined);
  // ACL-trimmed short page: the Link/total decides, not the page length.
  assert.equal(nextOffset({}, 0, 2, 1, 10), 2);
  assert.equal(nextOffset({}, 8, 2, 2, 10), undefined);
  assert.equal(nextOffset({}, 0, 2, 2, undefined), 2);
  assert.equal(nextOffset({}, 0, 2, 1, undefined), undefined);
});

test('rate-limit headers and reference values', () => {
  assert.deepEqual(
    rateLimitInfo({ status: 200, headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-reset': '1700000000' } }),
    {
      limit: 100,
      remaining: undefined,
      reset: 1700000000,
      rule: undefined,
      status: 200,
    },
  );
  assert.equal(rateLimitInfo({ status: 200, headers: {} }), undefined);
  assert.equal(str({ link: 'https://x', value: 'abc' }), 'abc');
  assert.equal(str('x'), 'x');
  assert.equal(str(undefined), '');
});

test('correlation ids: non-empty, exact, no separators', () => {
  assert.throws(() => checkCorrelationId(''), /empty/);
  assert.throws(() => checkCorrelationId(' a'), /whitespace/);
  assert.throws(() => checkCorrelationId('x'.repeat(101)), /100/);
  assert.throws(() => checkCorrelationId('a^b'), /\^/);
  assert.equal(checkCorrelationId('tl:defender:123'), 'tl:defender:123');
});

test('record → ticket: states per table, UTC timestamps', () => {
  const ctx = { system: 'servicenow', instanceUrl: 'https://sn.example' };
  const rec = {
    sys_id: 'a'.repeat(32),
    number: 'INC0010001',
    state: '6',
    correlation_id: 'c1',
    sys_updated_on: '2024-05-01 10:00:00',
    close_code: 'Solution provided',
    closed_by: { link: 'l', value: 'u1' },
  };
  const t = toTicket(ctx, 'incident', rec);
  assert.equal(t.status, 'resolved');
  assert.equal(t.updatedAt, '2024-05-01T10:00:00.000Z');
  assert.equal(t.closeCode, 'Solution provided');
  assert.equal(t.closedBy, 'u1');
  assert.match(t.ref.link, /^https:\/\/sn\.example\/nav_to\.do\?uri=incident\.do/);
  assert.equal(toTicket(ctx, 'change_request', { ...rec, state: '4' }).status, 'canceled');
  assert.equal(toTicket(ctx, 'problem', { ...rec, state: '107' }).status, 'closed');
  assert.equal(toTicket(ctx, 'sc_task', { ...rec, state: '4' }).status, 'canceled');
  assert.equal(toTicket(ctx, 'sc_task', { ...rec, state: '3' }).status, 'closed');
  assert.equal(toTicket(ctx, 'sc_req_item', { ...rec, state: '2' }).status, 'open');
});

test('webhook auth: HMAC (over timestamp and body, ±5 min), basic, bearer in constant time', () => {
  const raw = Buffer.from('{"a":1}');
  const now = Date.UTC(2026, 0, 1);
  const hmac = { type: 'hmac', secret: 's3cret' } as const;
  const signed = signWebhook('s3cret', raw, now);
  assert.ok(verifyWebhookAuth(hmac, signed, raw, now));
  assert.ok(verifyWebhookAuth(hmac, signed, raw, now + 299_000), 'a little clock skew is fine');
  assert.ok(!verifyWebhookAuth(hmac, signed, raw, now + 301_000), 'a replay after 5 minutes is not');
  assert.ok(!verifyWebhookAuth(hmac, signed, raw, now - 301_000), 'nor a timestamp from the future');
  assert.ok(!verifyWebhookAuth(hmac, { ...signed, 'x-sn-timestamp': String(now / 1000 + 1) }, raw, now));
  assert.ok(!verifyWebhookAuth(hmac, { 'x-sn-signature': signed['x-sn-signature'] }, raw, now), 'no timestamp');
  assert.ok(!verifyWebhookAuth(hmac, signed, Buffer.from('{"a":2}'), now));
  assert.ok(!verifyWebhookAuth(hmac, {}, raw, now));
  assert.ok(!verifyWebhookAuth({ type: 'hmac', secret: '' }, signWebhook('', raw, now), raw, now));
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  assert.ok(verifyWebhookAuth({ type: 'basic', username: 'u', password: 'p' }, { authorization: basic }, raw));
  assert.ok(!verifyWebhookAuth({ type: 'basic', username: 'u', password: 'q' }, { authorization: basic }, raw));
  assert.ok(verifyWebhookAuth({ type: 'bearer', token: 't' }, { authorization: 'Bearer t' }, raw));
  assert.ok(!verifyWebhookAuth({ type: 'bearer', token: 't' }, { authorization: 'Bearer tt' }, raw));
});
