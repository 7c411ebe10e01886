import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { decisionLinks } from '../../src/flows/pod/decision-links.ts';
import { FakeProvider } from '../pod/fake-provider.ts';
import { ALICE_OID, startPod, type PodHarness } from '../pod/harness.ts';
import { assertAccessible, builtConsole, DESKTOP, launch, missing } from './browser.ts';

/**
 * An e-mail's Approve / Reject link in Debian's Chromium (docs/pod.md "Approve / reject links in the
 * e-mail"): opened signed out, it asks for sign-in and keeps the link; opening it decides nothing; the
 * dialog asks "Approve request …?" and the confirmation decides; the same link a second time is refused
 * with the API's reason; another approver's link says whose it is and offers no confirmation.
 */

const PASSWORD = 'correct horse battery staple';

describe('console: approve / reject links from an e-mail', { skip: missing() }, () => {
  let h: PodHarness;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    builtConsole();
    [h, browser] = await Promise.all([startPod(new FakeProvider()), launch()]);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await h?.stop();
  });

  async function page(): Promise<Page> {
    const context = await browser.newContext({ viewport: DESKTOP, reducedMotion: 'reduce' });
    contexts.push(context);
    const p = await context.newPage();
    p.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    return p;
  }
  async function signIn(p: Page, name: string) {
    await p.getByLabel('Name').fill(name);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  const ask = async () => {
    const r = await h.call('rita', 'POST', '/api/pod/requests', {
      system: 'azure-prod',
      permission: 'prod-contributor',
      identity: { type: 'user', id: ALICE_OID },
      justification: 'deploy the hotfix',
    });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };
  const linkFor = (id: string, approver: string, title: 'Approve' | 'Reject') =>
    decisionLinks(id, approver, h.url, 3_600_000, { keys: h.app.store.keys, clock: h.clock }).find(
      (l) => l.title === title,
    )!.url;
  const status = async (id: string) => (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body.status;

  test('signed out: sign in, confirm, decided once; the second use is refused', async () => {
    const id = await ask();
    const link = linkFor(id, 'user:alice', 'Approve');
    const alice = await page();
    await alice.goto(link);
    await signIn(alice, 'alice');
    const dialog = alice.getByRole('dialog');
    await dialog.getByRole('heading', { name: `Approve request ${id}?` }).waitFor();
    assert.equal(await status(id), 'submitted', 'opening the link decides nothing');
    await assertAccessible(alice, 'decision link dialog');
    await dialog.getByLabel('Comment').fill('ok by mail');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await alice
      .getByRole('status')
      .filter({ hasText: /Done: the request is now/ })
      .waitFor();
    assert.equal(new URL(alice.url()).hash, '', 'the token leaves the address');
    const r = (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
    assert.deepEqual(
      r.approvals.map((a: any) => [a.actor, a.decision, a.comment]),
      [['user:alice', 'approved', 'ok by mail']],
    );

    await alice.goto(link);
    const again = alice.getByRole('dialog');
    await again.getByRole('button', { name: 'Approve', exact: true }).click();
    await again
      .getByRole('alert')
      .getByText(/this link was already used/)
      .waitFor();
  });

  test('another approver’s link says whose it is and cannot be confirmed', async () => {
    const id = await ask();
    const bob = await page();
    await bob.goto(linkFor(id, 'user:alice', 'Reject'));
    await signIn(bob, 'bob');
    const dialog = bob.getByRole('dialog');
    await dialog.getByRole('heading', { name: `Reject request ${id}?` }).waitFor();
    await dialog.getByText('This link was made for alice; you are signed in as bob').waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Reject', exact: true }).count(), 0);
    assert.equal(await status(id), 'submitted');
  });
});
