import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { sandboxSignIn } from '../../src/cli/demo.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from '../entitlement/helpers.ts';
import { userFor } from '../helpers/identity.ts';
import { assertAccessible, builtConsole, DESKTOP, launch, missing, screenshots, signInAs } from './browser.ts';

/**
 * The console in Debian's Chromium against a sandbox-backed Ticketloop (entitlement loop, sandbox
 * ServiceNow and Entra): first admin, local and Microsoft sign-in, each page's main path, what each
 * role sees (and that the API refuses the rest), session expiry, the phone layout, an axe-core scan
 * and screenshots of every page. One browser for the file; every wait is for an element or a state.
 */

const PASSWORD = 'correct horse battery staple';

describe('console in a browser', { skip: missing() }, () => {
  let L: Loop;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    builtConsole();
    [L, browser] = await Promise.all([startLoop({ identity: (s) => ({ oidc: sandboxSignIn(s) }) }), launch()]);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await L?.close();
  });

  async function open(path = '/'): Promise<Page> {
    // The sandbox Entra's sign-in page is HTTPS with the sandbox's own CA. Reduced motion: Fluent then
    // skips its colour transitions, so the contrast check never sees a button between two colours.
    const context = await browser.newContext({
      viewport: DESKTOP,
      ignoreHTTPSErrors: true,
      acceptDownloads: true,
      reducedMotion: 'reduce',
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await page.goto(L.url + path);
    return page;
  }
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true, level: 1 });

  async function signIn(name: string, password = PASSWORD, path = '/'): Promise<Page> {
    const page = await open(path);
    await signInAs(page, name, password);
    return page;
  }
  async function visit(page: Page, link: string, title = link): Promise<void> {
    await page.getByRole('navigation', { name: 'Console' }).first().getByRole('link', { name: link }).click();
    await heading(page, title).waitFor();
  }

  let admin: Page;

  test('no user yet: the first-admin screen creates the admin and signs them in', async () => {
    const page = await open();
    await heading(page, 'Create the first admin').waitFor();
    await assertAccessible(page, 'first-admin screen');
    await screenshots(page, 'first-admin', () => heading(page, 'Create the first admin').waitFor());
    await page.getByLabel('Setup token').fill(L.app.identity.setupToken!);
    await page.getByLabel('Admin name').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await heading(page, 'Overview').waitFor();
    admin = page;
  });

  test('the sign-in page: local account, and Microsoft when configured', async () => {
    const page = await open('/jobs');
    await heading(page, 'Sign in to Ticketloop').waitFor();
    const microsoft = page.getByRole('link', { name: 'Sign in with Microsoft' });
    assert.equal(await microsoft.getAttribute('href'), '/auth/oidc/start?returnTo=%2Fjobs');
    await assertAccessible(page, 'sign-in page');
    await screenshots(page, 'sign-in', () => heading(page, 'Sign in to Ticketloop').waitFor());
    await page.getByLabel('Name').fill('admin');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'sign-in failed' }).waitFor();
  });

  test('an entitlement request appears with its ticket link, deadline and timeline; the overview counts it', async () => {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(DEMO_USERS[0].id);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId as string;
    const state = await until(async () => ((await L.state(id))?.ticket ? L.state(id) : undefined), 'ticket recorded');

    const page = admin;
    await page.reload();
    await heading(page, 'Overview').waitFor();
    const loop = page.getByTestId('loop-entitlement-ent');
    await loop.getByText('ticket open').waitFor();
    await assertAccessible(page, 'overview');
    await screenshots(page, 'overview', () => loop.waitFor());

    await visit(page, 'Entitlement management');
    const row = page.getByRole('row').filter({ hasText: req.id });
    await row.waitFor();
    assert.equal(await row.getByRole('link', { name: state.ticket!.key }).getAttribute('href'), state.ticket!.link);
    await row.getByText(/\d+ d \d+ h left/).waitFor();
    await assertAccessible(page, 'entitlement items');
    await screenshots(page, 'entitlement-items', () => row.waitFor());

    await row.getByRole('link', { name: req.id }).click();
    await heading(page, `Request ${req.id}`).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline' });
    await timeline.getByText('ticket-opened', { exact: false }).first().waitFor();
    await assertAccessible(page, 'entitlement item');
    await screenshots(page, 'entitlement-item', () => timeline.waitFor());
  });

  test('jobs: an operator retries a dead job; an auditor sees no retry, and the API refuses it too', async () => {
    const now = Date.now();
    const jobId = '0190aaaa-0000-7000-8000-000000000001';
    await L.app.store.db
      .insertInto('jobs')
      .values({
        id: jobId,
        kind: 'console-test.noop',
        key: 'console-test:1',
        payload: '{}',
        state: 'dead',
        run_at: now,
        attempts: 10,
        max_attempts: 10,
        lease_owner: null,
        lease_until: null,
        last_error: 'the test made it fail',
        created_at: now,
        updated_at: now,
        finished_at: now,
        priority: 0,
      })
      .execute();
    const auditor = await userFor(L.app, 'auditor', PASSWORD);
    const reader = await signIn(auditor.name, PASSWORD, '/jobs');
    await heading(reader, 'Jobs').waitFor();
    const readerRow = reader.getByRole('row').filter({ hasText: 'the test made it fail' });
    await readerRow.waitFor();
    assert.equal(await reader.getByRole('button', { name: /Retry/ }).count(), 0, 'no retry for a read-only role');
    const refused = await reader.evaluate(async (id) => {
      const me = await (await fetch('/api/auth/me')).json();
      const r = await fetch(`/api/jobs/${id}/retry`, { method: 'POST', headers: { 'x-csrf-token': me.csrfToken } });
      return r.status;
    }, jobId);
    assert.equal(refused, 403);

    const operator = await userFor(L.app, 'operator', PASSWORD);
    const page = await signIn(operator.name);
    await visit(page, 'Jobs');
    const row = page.getByRole('row').filter({ hasText: 'the test made it fail' });
    await assertAccessible(page, 'jobs');
    await screenshots(page, 'jobs', () => row.waitFor());
    await row.getByRole('button', { name: /Retry/ }).click();
    await page.getByRole('status').filter({ hasText: '1 job put back in the queue' }).waitFor();
    const retried = await L.app.store.db
      .selectFrom('jobs')
      .select('attempts')
      .where('id', '=', jobId)
      .executeTakeFirst();
    assert.ok(Number(retried?.attempts) < 10, 'back in the queue with fresh attempts');

    // The session ends on the server: the next call sends the console back to sign-in, saying why.
    await L.app.store.db.deleteFrom('identity_session').execute();
    await visit(reader, 'Overview').catch(() => undefined);
    await reader.getByText('Your session has ended. Sign in again.').waitFor();
    await heading(reader, 'Sign in to Ticketloop').waitFor();
    admin = await signIn('admin');
  });

  test('a resume that failed for good against the sandbox Graph: "Retry the resume" delivers the request', async () => {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(DEMO_USERS[1].id);
    const id = (await s.callout(req.id, 'assignmentRequestApproved')).customExtensionStageInstanceId as string;
    await until(async () => (await L.state(id))?.ticket, 'ticket recorded');
    const [ticket] = await L.tickets(correlationKey('entitlement', id));
    // Graph refuses the resume with a 403 (sandbox fault): a 4xx is never retried, so the job is dead.
    const faults = `${L.sandbox.microsoft.baseUrl}/_sandbox/faults`;
    await L.http('PATCH', faults, { json: { errorRate: 1, errorStatus: 403, pathPattern: '/resume$' } });
    try {
      await L.sn('PATCH', `/api/now/table/sc_req_item/${ticket.sys_id}`, { state: '3', close_notes: 'done' });
      await until(async () => {
        const jobs = await L.app.store.db
          .selectFrom('jobs')
          .select(['state', 'payload'])
          .where('kind', '=', 'entitlement.resume')
          .execute();
        return jobs.some((j) => j.state === 'dead' && j.payload.includes(id));
      }, 'the resume job dead');
    } finally {
      await L.http('DELETE', faults);
    }
    const page = admin;
    await page.goto(`${L.url}/entitlement/${encodeURIComponent(id)}`);
    await heading(page, `Request ${req.id}`).waitFor();
    await page.getByText('The resume failed for good').waitFor();
    await assertAccessible(page, 'entitlement item with a dead resume');
    await page.getByRole('button', { name: 'Retry the resume' }).click();
    await page.getByRole('status').filter({ hasText: 'The resume is back in the queue' }).waitFor();
    await until(async () => (await s.getRequest(req.id)).state === 'delivered', 'delivered after the retry', 30_000);
  });

  test('audit log: an auditor verifies the chain, searches by action and exports', async () => {
    const auditor = await userFor(L.app, 'auditor', PASSWORD);
    const page = await signIn(auditor.name);
    await visit(page, 'Audit log');
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByRole('status').filter({ hasText: 'The chain is intact' }).waitFor();
    await page.getByLabel('Action').fill('signin');
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.getByRole('table', { name: 'Audit rows' }).getByRole('row').filter({ hasText: 'signin' });
    await rows.first().waitFor();
    await assertAccessible(page, 'audit log');
    await screenshots(page, 'audit', () => rows.first().waitFor());
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export (JSON Lines)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^ticketloop-audit-.*\.jsonl$/);
  });

  test('settings: users and roles, a token shown once, test connections, a new password', async () => {
    const page = admin;
    await visit(page, 'Users and roles');
    await page.getByLabel('Name').fill('new-operator');
    await page.getByRole('button', { name: 'Add account' }).click();
    const row = page.getByRole('row').filter({ hasText: 'new-operator' });
    await row.waitFor();
    await row.getByRole('button', { name: 'Edit roles of new-operator' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('checkbox', { name: 'auditor', exact: true }).check();
    await dialog.getByRole('checkbox', { name: 'operator', exact: true }).uncheck();
    assert.ok(await dialog.getByRole('checkbox', { name: 'auditor', exact: true }).isChecked());
    assert.ok(!(await dialog.getByRole('checkbox', { name: 'operator', exact: true }).isChecked()));
    await assertAccessible(page, 'edit roles dialog');
    await dialog.getByRole('button', { name: 'Save roles' }).click();
    await page.getByRole('status').filter({ hasText: 'The roles of new-operator are saved' }).waitFor();
    await until(async () => (await row.textContent())?.includes('auditor'), `auditor in ${await row.textContent()}`);
    const saved = (await L.app.identity.users.list()).find((u) => u.name === 'new-operator');
    assert.deepEqual(saved?.roles, ['auditor']);
    await assertAccessible(page, 'users');
    await screenshots(page, 'users', () => page.getByRole('row').filter({ hasText: 'new-operator' }).waitFor());

    await visit(page, 'API tokens');
    await page.getByLabel('Name').fill('ci-reader');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByTestId('new-token').textContent();
    assert.ok(token && token.length > 20, 'the token is shown');
    const withIt = await fetch(`${L.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(withIt.status, 200, 'and works');
    await assertAccessible(page, 'tokens');
    await screenshots(page, 'tokens', () => page.getByRole('row').filter({ hasText: 'ci-reader' }).waitFor());

    await visit(page, 'Connections');
    await page.getByRole('button', { name: 'Test connections' }).click();
    const results = page.getByRole('table', { name: 'Check results' });
    await results.getByText('ServiceNow', { exact: false }).first().waitFor({ timeout: 30_000 });
    await assertAccessible(page, 'connections');
    await screenshots(page, 'connections', () => results.waitFor());

    await page.getByRole('button', { name: /Admin|admin/ }).click();
    await page.getByRole('menuitem', { name: 'Your account' }).click();
    await heading(page, 'Your account').waitFor();
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill(`${PASSWORD} 2`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();
    await assertAccessible(page, 'account');
    await screenshots(page, 'account', () => heading(page, 'Your account').waitFor());
    // The new session works for changes (its CSRF token was taken): sign out through the menu.
    await page.getByRole('button', { name: /Admin|admin/ }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
  });

  test('sign in with Microsoft through the sandbox Entra page: the group maps to operator', async () => {
    const page = await open('/jobs');
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await page.getByRole('button', { name: /Alex Wilber/ }).click();
    await heading(page, 'Jobs').waitFor();
    assert.equal(new URL(page.url()).pathname, '/jobs', 'back where the sign-in started');
    await page.getByRole('button', { name: 'Alex Wilber' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Console' }).first();
    assert.equal(await nav.getByRole('link', { name: 'Users and roles' }).count(), 0, 'operators manage no users');
  });

  test('at 390 px the navigation is a drawer behind a menu button', async () => {
    const operator = await userFor(L.app, 'operator', PASSWORD);
    const small = await signIn(operator.name);
    await small.setViewportSize({ width: 390, height: 844 });
    await small.getByRole('button', { name: 'Open navigation' }).click();
    const drawer = small.getByRole('dialog');
    await drawer.getByRole('link', { name: 'Jobs' }).click();
    await heading(small, 'Jobs').waitFor();
    await drawer.waitFor({ state: 'hidden' });
    await assertAccessible(small, 'jobs at 390 px');
  });
});
