import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { m365Module } from '../../src/flows/m365/module.ts';
import { startLoop, until, type Loop } from '../entitlement/helpers.ts';
import { tokenFor, userFor } from '../helpers/identity.ts';
import { assertAccessible, builtConsole, launch, missing, signedInPage } from './browser.ts';

/**
 * The console's Microsoft 365 matches page in Debian's Chromium against the sandbox: an incident typed
 * like a user would, matched by the feed to a health issue, shown with the reasons; an agent with the
 * `insights` role rejects it there, and the rejection is kept (issue #14 item 3).
 */

const PASSWORD = 'correct horse battery staple';

describe('console: Microsoft 365 matches', { skip: missing() }, () => {
  let L: Loop;
  let browser: Browser;
  let page: Page;

  before(async () => {
    builtConsole();
    [L, browser] = await Promise.all([
      startLoop({
        flows: [m365Module],
        integrations: (sb) => [
          { name: 'm365', type: 'm365', itsm: 'sandbox', learnUrl: sb.microsoft.baseUrl, feed: { enabled: true } },
        ],
      }),
      launch(),
    ]);
    const user = await userFor(L.app, 'insights', PASSWORD);
    page = await signedInPage(browser, L.url, user.name, PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await L?.close();
  });

  test('a matched incident with its reasons; rejecting it there keeps the verdict', async () => {
    const token = await tokenFor(L.app, 'insights');
    const api = (method: string, path: string) =>
      L.http(method, `${L.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const made = await L.ms('POST', '/_sandbox/m365/issues', {
      title: 'Users may be unable to send email messages from Outlook',
      service: 'Exchange Online',
      status: 'serviceDegradation',
      impactDescription: 'Users may be unable to send email messages using any connection method.',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const issueId = made.body.id as string;
    await L.app.engine.enqueue({ kind: 'm365.health-sync', key: 'test-health', payload: { integration: 'm365' } });
    await until(async () => (await api('GET', `/api/m365/issues/${issueId}`)).status === 200, 'the issue synced');
    const inc = await L.sn('POST', '/api/now/table/incident', { short_description: 'outlook not sending since 9' });
    assert.equal(inc.status, 201);
    const number = inc.body.result.number as string;
    await L.app.engine.enqueue({ kind: 'm365.match-feed', key: 'test-feed', payload: { integration: 'm365' } });
    await until(
      async () => (await api('GET', `/api/m365/matches?incident=${number}`)).body.items?.length,
      'the incident matched',
    );

    await page
      .getByRole('navigation', { name: 'Console' })
      .first()
      .getByRole('link', { name: 'Microsoft 365 matches' })
      .click();
    await page.getByRole('heading', { name: 'Microsoft 365 matches', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Matches' });
    await table.getByRole('link', { name: number }).waitFor();
    await table
      .getByText(/mentions 'outlook'/)
      .first()
      .waitFor();
    await assertAccessible(page, 'Microsoft 365 matches');

    await table.getByRole('button', { name: `Reject ${number} and ${issueId}` }).click();
    const kept = await until(async () => {
      const items = (await api('GET', `/api/m365/matches?incident=${number}`)).body.items as any[];
      return items.find((m) => m.issue === issueId && m.status === 'rejected');
    }, 'the rejection is stored');
    assert.match(kept.verdictBy, /^user:/);
    await table.getByRole('link', { name: number }).waitFor({ state: 'detached' });
  });
});
