import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceNowItsm } from '../../src/itsm/servicenow/adapter.ts';
import { ServiceNowKnowledge, searchText } from '../../src/itsm/servicenow/knowledge.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { startEnv } from '../servicenow/helpers.ts';

test('the ServiceNow adapter searches through the knowledge API when the plugin is there', async () => {
  const env = await startEnv();
  try {
    await env.admin('POST', '/_sandbox/servicenow/knowledge/seed');
    const itsm = new ServiceNowItsm({ client: env.client() });
    const hits = await itsm.knowledge.searchKnowledge('Outlook not sending since 9', { limit: 3 });
    assert.equal(hits[0].number, 'KB0010101');
    assert.equal(hits[0].source, 'km_api');
    assert.match(hits[0].id, /^[0-9a-f]{32}$/);
    assert.equal(hits[0].url, `${env.sn.baseUrl}/kb_view.do?sysparm_article=KB0010101`);
    assert.ok(hits[0].score > 0);
    assert.ok(hits.length <= 3);
    assert.equal(itsm.knowledge.source, 'km_api');

    // What Test setup reports: which search serves the articles.
    assert.equal(await itsm.knowledge.probe(), 'km_api');
    await env.admin('PUT', '/_sandbox/servicenow/plugins', { sn_km_api: false });
    assert.equal(await itsm.knowledge.probe(), 'table');
  } finally {
    await env.close();
  }
});

test('without the plugin it falls back to the Table API, remembers that, and tries the API again after the recheck', async () => {
  const env = await startEnv();
  try {
    await env.admin('POST', '/_sandbox/servicenow/knowledge/seed');
    await env.admin('PUT', '/_sandbox/servicenow/plugins', { sn_km_api: false });
    const calls: OutboundCall[] = [];
    let now = 1_000_000;
    const kb = new ServiceNowKnowledge({
      client: env.client({ recorder: { record: (c) => calls.push(c) } }),
      now: () => now,
      recheckMs: 60_000,
    });
    const first = await kb.searchKnowledge('teams meeting audio', { limit: 5 });
    assert.equal(first[0].number, 'KB0010102');
    assert.equal(first[0].source, 'table');
    assert.equal(first[0].snippet.includes('<'), false, 'plain text, no HTML');
    const kmCalls = () => calls.filter((c) => c.url.includes('/sn_km_api/')).length;
    assert.equal(kmCalls(), 1);

    await kb.searchKnowledge('onedrive sync');
    assert.equal(kmCalls(), 1, 'the absent plugin is remembered');

    await env.admin('PUT', '/_sandbox/servicenow/plugins', { sn_km_api: true });
    now += 60_000;
    const back = await kb.searchKnowledge('onedrive sync');
    assert.equal(kmCalls(), 2);
    assert.equal(back[0].source, 'km_api');
    assert.equal(back[0].number, 'KB0010105');
  } finally {
    await env.close();
  }
});

test('fields read are bounded and the query cannot inject encoded-query terms', async () => {
  const env = await startEnv();
  try {
    await env.admin('PUT', '/_sandbox/servicenow/plugins', { sn_km_api: false });
    const admin = env.client({
      auth: new (await import('../../src/itsm/servicenow/auth.ts')).BasicAuth(
        env.sn.credentials.admin.username,
        env.sn.credentials.admin.password,
      ),
    });
    await admin.create('kb_knowledge', {
      short_description: `Printer ${'very long title '.repeat(100)}`,
      text: `<p>${'printer jam help '.repeat(3000)}</p>`,
      workflow_state: 'published',
    });
    await admin.create('kb_knowledge', {
      short_description: 'Printer draft',
      text: 'printer',
      workflow_state: 'draft',
    });
    const kb = new ServiceNowKnowledge({ client: env.client() });
    const hits = await kb.searchKnowledge('printer');
    assert.equal(hits.length, 1, 'drafts are not recommended');
    assert.ok(hits[0].title.length <= 300);
    assert.ok(hits[0].snippet.length <= 300);
    // `^` would start a new encoded-query term (here: one that matches every draft).
    assert.equal(searchText('printer^workflow_state=draft'), 'printer workflow_state=draft');
    assert.deepEqual(await kb.searchKnowledge('   '), []);
  } finally {
    await env.close();
  }
});
