import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ticketLink } from '../../src/itsm/servicenow/map.ts';
import { startHarness, type Harness } from './helpers.ts';

/** The record links a real instance serves — what Ticketloop writes into Defender's `ticketLink` — open. */
describe('ServiceNow sandbox: record links (nav_to.do, <table>.do)', () => {
  let h: Harness;
  let sysId = '';
  let number = '';
  before(async () => {
    h = await startHarness();
    const r = await h.call('POST', '/api/now/table/incident', { body: { short_description: 'Link me' } });
    ({ sys_id: sysId, number } = r.json.result);
  });
  after(() => h?.close());

  /** GET without following, then the page it points at (as a browser would). */
  async function open(path: string): Promise<{ first: number; location?: string; status: number; text: string }> {
    const r = await h.admin('GET', path);
    const location = r.headers.location as string | undefined;
    if (r.status !== 302 || !location) return { first: r.status, status: r.status, text: r.text };
    const page = await h.admin('GET', location);
    return { first: r.status, location, status: page.status, text: page.text };
  }

  it("the adapter's link (nav_to.do?uri=incident.do%3Fsys_id%3D…) opens the record's page", async () => {
    const link = ticketLink(h.sn.baseUrl, 'incident', sysId);
    assert.match(link, /\/nav_to\.do\?uri=incident\.do%3Fsys_id%3D[0-9a-f]{32}$/);
    const r = await open(link.slice(h.sn.baseUrl.length));
    assert.equal(r.first, 302);
    assert.equal(r.location, `/ui/incident/${sysId}`);
    assert.equal(r.status, 200);
    assert.match(r.text, new RegExp(number));
    assert.match(r.text, /Link me/);
  });

  it('<table>.do?sys_id= opens it too; an unknown record or table is a 404 page, not a 400', async () => {
    const r = await open(`/incident.do?sys_id=${sysId}`);
    assert.equal(r.status, 200);
    assert.match(r.text, new RegExp(number));
    assert.equal((await open(`/incident.do?sys_id=${'0'.repeat(32)}`)).status, 404);
    assert.equal((await open(`/nav_to.do?uri=${encodeURIComponent('u_nothing.do?sys_id=' + sysId)}`)).status, 404);
    const home = await h.admin('GET', '/nav_to.do');
    assert.equal(home.status, 302);
    assert.equal(home.headers.location, '/ui');
  });
});
