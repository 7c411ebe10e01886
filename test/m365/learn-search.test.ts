import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEARN_CORPUS } from '../../sandbox/microsoft/learn.ts';
import { LearnSearch } from '../../src/connectors/learn.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { startHarness } from '../microsoft/helpers.ts';

test("the Microsoft sandbox serves Learn's search shape over its own corpus", async () => {
  const h = await startHarness();
  try {
    assert.ok(LEARN_CORPUS.length >= 20);
    const r = await h.call(
      'GET',
      `/api/search?search=${encodeURIComponent('outlook not sending')}&locale=en-us&$top=3`,
    );
    assert.equal(r.status, 200);
    assert.ok(r.body.results.length <= 3 && r.body.results.length > 0);
    for (const a of r.body.results) {
      assert.equal(typeof a.title, 'string');
      assert.match(a.url, /^https:\/\/learn\.microsoft\.com\/en-us\//);
      assert.equal(typeof a.description, 'string');
    }
    assert.match(r.body.results[0].title, /Outlook/);
    assert.equal((await h.call('GET', '/api/search?locale=en-us')).status, 400);
  } finally {
    await h.close();
  }
});

test('LearnSearch maps, bounds and caches results; identical searches share one call; failures are not cached', async () => {
  const h = await startHarness();
  const calls: OutboundCall[] = [];
  let now = 0;
  const learn = new LearnSearch({
    baseUrl: h.sb.baseUrl,
    ca: h.tls.ca,
    recorder: { record: (c) => calls.push(c) },
    cacheTtlMs: 1000,
    now: () => now,
  });
  try {
    const [a, b] = await Promise.all([
      learn.searchArticles('Teams meeting join', { limit: 2 }),
      learn.searchArticles('teams   meeting join', { limit: 2 }),
    ]);
    assert.deepEqual(a, b);
    assert.equal(calls.length, 1);
    assert.equal(a.length, 2);
    assert.deepEqual(Object.keys(a[0]).sort(), ['description', 'source', 'title', 'url']);
    assert.equal(a[0].source, 'learn');
    assert.match(a[0].title, /Teams/);
    const u = new URL(calls[0].url);
    assert.equal(u.pathname, '/api/search');
    assert.equal(u.searchParams.get('search'), 'Teams meeting join');
    assert.equal(u.searchParams.get('locale'), 'en-us');
    assert.equal(u.searchParams.get('$top'), '2');

    now += 1000; // past the TTL: asked again
    await learn.searchArticles('Teams meeting join', { limit: 2 });
    assert.equal(calls.length, 2);

    assert.deepEqual(await learn.searchArticles('  '), []);
    await assert.rejects(learn.searchArticles('x', { locale: '../evil' }), /locale/);

    // A failure is not cached: the next search asks again and succeeds.
    h.sb.faults.update({ errorRate: 1, errorStatus: 503, pathPattern: '^/api/search' });
    await assert.rejects(learn.searchArticles('mailbox full'));
    h.sb.faults.reset();
    const ok = await learn.searchArticles('mailbox full');
    assert.match(ok[0].title, /mailbox is full/i);
  } finally {
    await learn.close();
    await h.close();
  }
});
