import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startHarness, type Harness } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium); UI test skipped`;

/** The agent web page in a real Chromium: list, open, add a work note, resolve. */
describe('ServiceNow sandbox: agent web UI', { skip }, () => {
  let h: Harness;
  let browser: Browser;
  let sysId = '';
  before(async () => {
    h = await startHarness();
    const r = await h.call('POST', '/api/now/table/incident', {
      body: { short_description: 'Cannot reach VPN', caller_id: 'Abel Tuter', correlation_id: 'ui-test-1' },
    });
    sysId = r.json.result.sys_id;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('lists, opens, adds a work note and resolves an incident through the same business rules as the API', async () => {
    // The page is served with the sandbox CA; the browser does not know it, so skip verification here.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${h.sn.baseUrl}/`);
    await page.getByRole('link', { name: 'Incident', exact: true }).waitFor();
    const row = page.locator('#tickets tr', { hasText: 'Cannot reach VPN' });
    await row.getByRole('link').click();
    await page.locator('h2', { hasText: 'Cannot reach VPN' }).waitFor();
    assert.equal(await page.locator('[data-field="caller_id"]').textContent(), 'Abel Tuter');

    await page.fill('#note', 'Checked the VPN gateway');
    await page.locator('#note-form button').click();
    await page.locator('.ok', { hasText: 'Note added' }).waitFor();
    assert.match(await page.locator('#journal').innerText(), /Checked the VPN gateway/);

    // Resolving without a code is refused by the data policy, shown on the page.
    await page.locator('#close-form button', { hasText: 'Resolve' }).click();
    assert.match(await page.locator('.err').innerText(), /mandatory: Resolution code, Resolution notes/);

    await page.selectOption('#code', 'Solution provided');
    await page.fill('#notes', 'Gateway restarted');
    await page.locator('#close-form button', { hasText: 'Resolve' }).click();
    await page.locator('.ok', { hasText: 'Resolved' }).waitFor();
    assert.equal(await page.locator('[data-field="state"]').textContent(), 'Resolved');

    const api = (await h.call('GET', `/api/now/table/incident/${sysId}?sysparm_exclude_reference_link=true`)).json
      .result;
    assert.equal(api.state, '6');
    assert.equal(api.close_code, 'Solution provided');
    assert.equal(api.sys_updated_by, 'david.miller');
    const notes = (await h.call('GET', `/api/now/table/sys_journal_field?sysparm_query=element_id=${sysId}`)).json
      .result;
    assert.equal(notes[0].value, 'Checked the VPN gateway');
    await context.close();
  });
});
