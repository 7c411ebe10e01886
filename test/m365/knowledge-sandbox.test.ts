import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../src/engine/errors.ts';
import { startEnv } from '../servicenow/helpers.ts';

const JSON_ACCEPT = { accept: 'application/json' };

test('kb_knowledge text search: IR_AND_OR_QUERY ranks matching published articles and returns ir_query_score', async () => {
  const env = await startEnv();
  try {
    assert.deepEqual(await env.admin('POST', '/_sandbox/servicenow/knowledge/seed'), { inserted: 5 });
    assert.deepEqual(await env.admin('POST', '/_sandbox/servicenow/knowledge/seed'), { inserted: 0 });
    const c = env.client();
    const page = await c.list('kb_knowledge', {
      query: 'IR_AND_OR_QUERY=outlook not sending mail^workflow_state=published^active=true',
      fields: ['number', 'short_description', 'ir_query_score'],
    });
    assert.ok(page.records.length >= 1);
    assert.equal(page.records[0].number, 'KB0010101');
    const scores = page.records.map((r) => Number(r.ir_query_score));
    assert.ok(scores.every((s) => s > 0));
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
      'best first',
    );
    // Without the pseudo-field in sysparm_fields it is not returned.
    const plain = await c.list('kb_knowledge', { query: 'IR_AND_QUERY=teams meetings', fields: ['number'] });
    assert.deepEqual(plain.records, [{ number: 'KB0010102' }]);
    // AND requires every word; nothing matches a word no article has.
    const none = await c.list('kb_knowledge', { query: 'IR_AND_QUERY=teams zebra', fields: ['number'] });
    assert.deepEqual(none.records, []);
  } finally {
    await env.close();
  }
});

test('the Knowledge API answers its shape, and 404 like an absent plugin when switched off (persisted)', async () => {
  const env = await startEnv();
  try {
    await env.admin('POST', '/_sandbox/servicenow/knowledge/seed');
    const c = env.client();
    const r = await c.http.request<any>({
      method: 'GET',
      path: '/api/sn_km_api/knowledge/articles',
      query: { query: 'MFA prompt', limit: 2, fields: 'short_description' },
      headers: JSON_ACCEPT,
    });
    const { meta, articles } = r.body.result;
    assert.equal(meta.query, 'MFA prompt');
    assert.equal(meta.status.code, 200);
    assert.equal(typeof meta.ts_query_id, 'string');
    assert.ok(meta.count >= 1);
    const a = articles[0];
    assert.equal(a.number, 'KB0010104');
    assert.match(a.id, /^kb_knowledge:[0-9a-f]{32}$/);
    assert.equal(a.link, '?id=kb_article_view&sysparm_article=KB0010104');
    assert.equal(a.rank, 1);
    assert.ok(a.score > 0);
    assert.equal(a.fields.short_description.value, a.title);

    assert.deepEqual(await env.admin('PUT', '/_sandbox/servicenow/plugins', { sn_km_api: false }), {
      sn_km_api: false,
    });
    await assert.rejects(
      c.http.request({ method: 'GET', path: '/api/sn_km_api/knowledge/articles', query: { query: 'x' } }),
      (e: unknown) => {
        assert.ok(e instanceof HttpError);
        assert.equal(e.status, 404);
        assert.deepEqual(e.body, {
          error: { message: 'Requested URI does not represent any resource', detail: null },
          status: 'failure',
        });
        return true;
      },
    );
    assert.deepEqual(await env.admin('GET', '/_sandbox/servicenow/plugins'), { sn_km_api: false });
  } finally {
    await env.close();
  }
});
