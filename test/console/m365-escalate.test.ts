import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { m365Module } from '../../src/flows/m365/module.ts';
import { startLoop, type Loop } from '../entitlement/helpers.ts';
import { userFor } from '../helpers/identity.ts';
import { assertAccessible, builtConsole, launch, missing, signedInPage } from './browser.ts';

/**
 * The console's "Escalate to Microsoft support" page in Debian's Chromium against the sandbox: an
 * admin escalates an incident about Exchange Online, gets the guided hand-off's summary with the
 * admin center link, and records the case number and a status by hand (issue #14 items 5b and 6).
 */

const PASSWORD = 'correct horse battery staple';
const CONTACT = {
  firstName: 'Ada',
  lastName: 'Admin',
  primaryEmailAddress: 'ada@contoso.com',
  preferredTimeZone: 'W. Europe Standard Time',
  country: 'deu',
};

describe('console: escalate to Microsoft support', { skip: missing() }, () => {
  let L: Loop;
  let browser: Browser;
  let page: Page;

  before(async () => {
    builtConsole();
    [L, browser] = await Promise.all([
      startLoop({
        flows: [m365Module],
        integrations: (sb) => [
          {
            name: 'm365',
            type: 'm365',
            itsm: 'sandbox',
            learnUrl: sb.microsoft.baseUrl,
            escalation: { mode: 'guided', contact: CONTACT },
          },
        ],
      }),
      launch(),
    ]);
    const user = await userFor(L.app, 'admin', PASSWORD);
    page = await signedInPage(browser, L.url, user.name, PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await L?.close();
  });

  test('an admin escalates an incident: the guided summary, then the case number and status by hand', async () => {
    const made = await L.sn('POST', '/api/now/table/incident', { short_description: 'Outlook cannot send mail' });
    assert.equal(made.status, 201);
    const number = made.body.result.number as string;

    await page
      .getByRole('navigation', { name: 'Console' })
      .first()
      .getByRole('link', { name: 'Escalate to Microsoft support' })
      .click();
    await page.getByRole('heading', { name: 'Escalate to Microsoft support', level: 1 }).waitFor();
    await page.getByLabel('Incident number').fill('INC9999999');
    await page.getByRole('button', { name: 'Escalate' }).click();
    await page
      .getByRole('alert')
      .getByText(/no incident INC9999999/)
      .waitFor();

    await page.getByLabel('Incident number').fill(number);
    await page.getByLabel('Service', { exact: true }).fill('Exchange Online');
    await page.getByLabel('Symptoms').fill('"Message could not be sent" in Outlook since 9:00');
    await page.getByRole('button', { name: 'Escalate' }).click();
    const summary = page.getByLabel("Case summary (copy it into the admin center's support form)");
    await summary.waitFor();
    const text = await summary.inputValue();
    assert.match(text, /Service: Exchange Online/);
    assert.match(text, new RegExp(number));
    assert.match(text, /https:\/\/admin\.microsoft\.com\/#\/support/);
    await page.getByText(/Guided hand-off.*: awaiting-case/).waitFor();

    await page.getByLabel('Case number').fill('2412030040001234');
    await page.getByRole('button', { name: 'Record case number' }).click();
    await page.getByText(/Guided hand-off.*: open$/).waitFor();
    await page.getByLabel('Case status (set by hand)').selectOption('waiting-on-microsoft');
    await page.getByText(/Guided hand-off.*: waiting-on-microsoft$/).waitFor();
    await assertAccessible(page, 'Escalate to Microsoft support');
  });
});
