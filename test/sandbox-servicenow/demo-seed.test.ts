import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startHarness, type Harness } from './helpers.ts';

/**
 * Issue #11 item 4: demo records like a new personal developer instance's (incidents, sc_request /
 * sc_req_item, kb_knowledge), loaded only on request, idempotent and persistent. Number formats:
 * wire-format.md §1.4; states and request fields: §1.7.
 */

const EXPECTED: Record<string, number> = { incident: 8, sc_request: 3, sc_req_item: 4, kb_knowledge: 5 };

async function counts(h: Harness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of Object.keys(EXPECTED)) {
    const r = await h.call('GET', `/api/now/table/${t}?sysparm_fields=sys_id&sysparm_limit=1`, {
      auth: h.basic(h.sn.credentials.admin),
    });
    out[t] = Number(r.headers['x-total-count']);
  }
  return out;
}

describe('ServiceNow sandbox: demo records (--seed demo)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('starts with no demo records; seed("demo") loads incidents, requests and articles in a new instance\'s shapes', async () => {
    assert.deepEqual(await counts(h), { incident: 0, sc_request: 0, sc_req_item: 0, kb_knowledge: 0 });
    const inserted = h.sn.seed('demo');
    for (const [t, n] of Object.entries(EXPECTED)) assert.equal(inserted[t], n, t);
    assert.deepEqual(await counts(h), EXPECTED);

    const inc = await h.call(
      'GET',
      '/api/now/table/incident?sysparm_query=ORDERBYnumber&sysparm_display_value=true&sysparm_fields=number,state,caller_id,assignment_group,category,close_code',
    );
    const rows = inc.json.result as any[];
    assert.deepEqual(
      rows.map((r) => r.number),
      ['INC0000001', 'INC0000002', 'INC0000003', 'INC0000004', 'INC0000005', 'INC0000006', 'INC0000007', 'INC0000008'],
    );
    const states = new Set(rows.map((r) => r.state));
    for (const s of ['New', 'In Progress', 'On Hold', 'Resolved']) assert.ok(states.has(s), s);
    assert.ok(rows.some((r) => r.caller_id.display_value === 'Abel Tuter'));
    const groups = new Set(rows.map((r) => r.assignment_group.display_value));
    for (const g of ['Service Desk', 'Network', 'Hardware']) assert.ok(groups.has(g), g);
    assert.ok(rows.some((r) => r.category === 'Network'));
    // Resolved ones carry what the close-out data policy demands.
    for (const r of rows.filter((x) => x.state === 'Resolved')) assert.notEqual(r.close_code, '');

    const items = await h.call(
      'GET',
      '/api/now/table/sc_req_item?sysparm_query=ORDERBYnumber&sysparm_display_value=true&sysparm_fields=number,request,cat_item,requested_for,stage,state',
    );
    const ritm = items.json.result[0];
    assert.equal(ritm.number, 'RITM0000001');
    assert.match(ritm.request.display_value, /^REQ\d{7}$/);
    assert.match(ritm.request.link, /\/api\/now\/table\/sc_request\/[0-9a-f]{32}$/);
    assert.equal(ritm.cat_item.display_value, 'Standard Laptop');
    assert.equal(ritm.requested_for.display_value, 'Abel Tuter');
    assert.equal(ritm.stage, 'Fulfillment');
    assert.equal(ritm.state, 'Work in Progress');
    const req = (await h.call('GET', '/api/now/table/sc_request?sysparm_query=number=REQ0000001')).json.result[0];
    assert.deepEqual([req.stage, req.state, req.request_state], ['fulfillment', '2', 'in_process']);

    const kb = await h.call(
      'GET',
      '/api/now/table/kb_knowledge?sysparm_query=workflow_state=published^ORDERBYnumber&sysparm_display_value=all&sysparm_fields=number,short_description,text,workflow_state,kb_category',
    );
    assert.equal(kb.json.result.length, 4);
    const article = kb.json.result[0];
    assert.equal(article.number.value, 'KB0000001');
    assert.match(article.text.value, /^<p>/);
    assert.deepEqual(article.workflow_state, { display_value: 'Published', value: 'published' });
    assert.equal(article.kb_category.display_value, 'Email');

    // The demo numbers sit below the counter: the first own record is still INC0010001.
    const own = await h.call('POST', '/api/now/table/incident', { body: { short_description: 'mine' } });
    assert.equal(own.json.result.number, 'INC0010001');
  });

  it('is idempotent and persists across restarts', async () => {
    assert.deepEqual(h.sn.seed('demo'), {});
    await h.restart();
    assert.deepEqual(await counts(h), { ...EXPECTED, incident: EXPECTED.incident + 1 });
    assert.deepEqual(h.sn.seed('demo'), {});
    assert.deepEqual(await counts(h), { ...EXPECTED, incident: EXPECTED.incident + 1 });
  });

  it('loads through the control API too, creating the demo people on an instance without demo users', async () => {
    const bare = await startHarness({ seedDemoData: false });
    try {
      const first = await bare.admin('POST', '/_sandbox/servicenow/seed', { set: 'demo' });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.inserted.incident, 8);
      assert.ok(first.json.inserted.sys_user > 0);
      const again = await bare.admin('POST', '/_sandbox/servicenow/seed', { set: 'demo' });
      assert.deepEqual(again.json, { set: 'demo', inserted: {} });
      const abel = await bare.call('GET', '/api/now/table/sys_user?user_name=abel.tuter&sysparm_fields=name');
      assert.deepEqual(abel.json.result, [{ name: 'Abel Tuter' }]);
      const unknown = await bare.admin('POST', '/_sandbox/servicenow/seed', { set: 'everything' });
      assert.equal(unknown.status, 400);
    } finally {
      await bare.close();
    }
  });
});

/** `ticketloop sandbox --seed demo` until it is serving, then SIGTERM (its own clean stop). */
async function sandboxCommand(dataDir: string): Promise<{ out: string; status: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sandbox', '--seed', 'demo'], {
    env: { ...process.env, TICKETLOOP_CONFIG: '', DATABASE_URL: '', TICKETLOOP_DATA_DIR: dataDir },
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('Ctrl-C to stop')) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    void exited.then((code) => reject(new Error(`exited (${code}) before serving: ${err}`)));
  });
  child.kill('SIGTERM');
  return { out, status: await exited };
}

describe('ticketloop sandbox --seed demo', () => {
  it('loads the demo records once, keeps them in the state directory, and refuses an unknown set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tl-seed-'));
    const first = await sandboxCommand(dataDir);
    assert.equal(first.status, 0);
    assert.match(first.out, /seed demo: inserted .*8 incident, 3 sc_request, 4 sc_req_item, .*5 kb_knowledge/);
    const second = await sandboxCommand(dataDir);
    assert.equal(second.status, 0);
    assert.match(second.out, /seed demo: already loaded/);

    const h = await startHarness({ dataDir: join(dataDir, 'sandbox') });
    try {
      assert.deepEqual(await counts(h), EXPECTED);
    } finally {
      await h.close();
    }

    const bad = await runCli(['sandbox', '--seed', 'everything'], { TICKETLOOP_DATA_DIR: dataDir });
    assert.equal(bad.status, 2);
    assert.match(bad.err, /the only seed set is demo/);
  });
});
