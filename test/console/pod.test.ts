import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { send } from '../helpers/http.ts';
import { userFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';
import { podIntegration, startPod, type PodHarness } from '../pod/harness.ts';
import { assertAccessible, builtConsole, DESKTOP, launch, missing, screenshots, signInAs } from './browser.ts';

/**
 * The console's permissions-on-demand pages in Debian's Chromium against a Ticketloop whose pod
 * integration's system is `azure-rbac` on the sandbox ARM (the set-up of test/pod/azure.test.ts),
 * with a manual clock: a requester fills the form and sees the API's field errors under their fields;
 * an approver approves from the inbox and the grant shows with its time left; the clock moves past its
 * end and it shows expired; self-approval is refused with the API's reason; a grant is revoked from
 * the active-grants page; a requester sees no decision or read-role pages and the API refuses them;
 * drift and the report for an auditor. Behaviour: issue #13 (permissions on demand: "Console pages"),
 * the API of src/flows/pod/routes.ts and the rules of src/flows/pod/policy.ts and service.ts.
 */

const PASSWORD = 'correct horse battery staple';
const RITA_OID = '33333333-3333-4333-8333-333333333333';
const OUTSIDE_OID = '44444444-4444-4444-8444-444444444444';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

describe('console: permissions-on-demand pages', { skip: missing() }, () => {
  let sandbox: Sandbox;
  let agent: Agent;
  let h: PodHarness;
  let SUB: string;
  let browser: Browser;
  let rita: Page;
  let alice: Page;
  let admin: Page;
  /** rita's request for prod-contributor, sent through the form. */
  let asked: string;
  const contexts: BrowserContext[] = [];

  before(async () => {
    builtConsole();
    const dir = mkdtempSync(join(tmpdir(), 'tl-console-pod-'));
    [sandbox, browser] = await Promise.all([startSandbox({ dataDir: join(dir, 'sandbox') }), launch()]);
    agent = new Agent({ connect: { ca: sandbox.tls.ca } });
    SUB = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
    const approvers = { users: ['alice', 'bob'] };
    const integration = podIntegration({
      itsm: 'sandbox',
      systems: [{ name: 'azure-prod', provider: 'azure-rbac', scopes: [SUB] }],
      policies: [
        {
          name: 'contributors',
          permissions: ['prod-contributor'],
          maxDuration: 'PT2H',
          defaultDuration: 'PT30M',
          requireTicket: true,
          approvers,
        },
        { name: 'standard', permissions: ['*'], maxDuration: 'PT8H', approvers },
      ],
    });
    h = await startPod('real', integration, { dataDir: join(dir, 'tl'), connections: sandboxConnections(sandbox) });
    const root = await userFor(h.app, 'admin', PASSWORD);
    [rita, alice, admin] = await Promise.all([signIn('rita'), signIn('alice'), signIn(root.name)]);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await h?.stop();
    await agent?.close();
    await sandbox?.close();
  });

  async function signIn(name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, reducedMotion: 'reduce' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await page.goto(h.url);
    await signInAs(page, name, PASSWORD);
    return page;
  }
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true, level: 1 });
  const nav = (page: Page) => page.getByRole('navigation', { name: 'Console' }).first();
  const visit = async (page: Page, link: string, title = link) => {
    await nav(page).getByRole('link', { name: link, exact: true }).click();
    await heading(page, title).waitFor();
  };
  /** The Fluent field around a control, where the API's message for it shows. */
  const fieldOf = (page: Page, label: string) => page.locator('.fui-Field').filter({ has: page.getByLabel(label) });
  const rowOf = (table: Locator, text: string) => table.getByRole('row').filter({ hasText: text });
  const reaches = (id: string, status: string) =>
    until(async () => {
      const r = (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
      return r.status === status ? r : undefined;
    }, `request ${id} ${status}`);
  const ask = async (who: 'rita' | 'alice', body: Record<string, unknown>) => {
    const r = await h.call(who, 'POST', '/api/pod/requests', {
      system: 'azure-prod',
      identity: { type: 'user', id: RITA_OID },
      justification: 'on call',
      ...body,
    });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };

  test('request access: the policy’s choices, and the API’s field errors under their fields', async () => {
    const page = rita;
    await page.goto(h.url);
    await heading(page, 'Request access').waitFor(); // a requester's first page: no overview for them
    for (const hidden of ['Approvals', 'Active grants', 'Permission drift', 'Access report'])
      assert.equal(await nav(page).getByRole('link', { name: hidden }).count(), 0, `no "${hidden}" for a requester`);
    await visit(page, 'Request access');
    const duration = page.getByLabel('For how long');
    assert.equal(await duration.locator('option:checked').textContent(), '1 h (default)');
    assert.equal(await duration.locator('option').last().textContent(), '8 h (the maximum)');
    await page.getByLabel('Permission').selectOption('prod-contributor');
    assert.equal(await duration.locator('option:checked').textContent(), '30 min (default)');
    assert.equal(await duration.locator('option').last().textContent(), '2 h (the maximum)', 'its own policy');
    assert.deepEqual(await page.getByLabel('Scope').locator('option').allTextContents(), [SUB]);

    await page.getByLabel('Your Entra object id').fill('not-a-guid');
    await page.getByRole('button', { name: 'Send request' }).click();
    await fieldOf(page, 'Your Entra object id').getByText('must be a GUID').waitFor();
    await page.getByLabel('Your Entra object id').fill(RITA_OID);
    await page.getByRole('button', { name: 'Send request' }).click();
    await fieldOf(page, 'Justification').getByText('required by policy "contributors"').waitFor();
    await page.getByLabel('Justification').fill('deploy the hotfix');
    await page.getByRole('button', { name: 'Send request' }).click();
    await fieldOf(page, 'Ticket number').getByText('required by policy "contributors"').waitFor();
    await assertAccessible(page, 'request form with a field error');
    await screenshots(page, 'pod-request', () => heading(page, 'Request access').waitFor());

    await page.getByLabel('Ticket number').fill('CHG0030001');
    await page.getByRole('button', { name: 'Send request' }).click();
    await heading(page, 'Request for prod-contributor').waitFor();
    await page.getByRole('status').filter({ hasText: 'Your request is sent' }).waitFor();
    asked = new URL(page.url()).pathname.split('/').at(-1)!;
    const stored = (await h.call('admin', 'GET', `/api/pod/requests/${asked}`)).body;
    assert.deepEqual(
      [stored.status, stored.duration, stored.ticketNumber, stored.identity.id, stored.requester],
      ['submitted', 'PT30M', 'CHG0030001', RITA_OID, 'user:rita'],
    );
  });

  test('an approver approves from the inbox; the grant shows as granted with its time left', async () => {
    await visit(alice, 'Approvals');
    const inbox = alice.getByRole('table', { name: 'Requests waiting for your decision' });
    const row = rowOf(inbox, 'deploy the hotfix');
    await row.waitFor();
    await assertAccessible(alice, 'approvals inbox');
    await screenshots(alice, 'pod-inbox', () => row.waitFor());
    await row.getByRole('button', { name: 'Approve' }).click();
    const dialog = alice.getByRole('dialog');
    await dialog.getByLabel('Comment').fill('go ahead');
    await assertAccessible(alice, 'approve dialog');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await alice.getByRole('status').filter({ hasText: 'You approved prod-contributor for user:rita' }).waitFor();
    await alice.getByText('Nothing waits for your decision.').waitFor();
    const granted = await reaches(asked, 'granted');
    assert.equal(granted.approvals[0].comment, 'go ahead');

    await visit(rita, 'My requests');
    const mine = rita.getByRole('table', { name: 'My requests' });
    const grant = rowOf(mine, 'prod-contributor');
    await grant.getByText('granted').waitFor();
    // 30 minutes by the server's (manual) clock, a day behind the browser's: counted by the server's.
    const clock = await h.call('rita', 'GET', '/api/pod/clock');
    assert.deepEqual(clock.body, { now: new Date(h.clock.now()).toISOString() });
    await grant
      .locator('td[data-label="Time left"]')
      .getByText(/^(30|29) min( \d+ s)? left$/)
      .waitFor();
    await assertAccessible(rita, 'my requests');
    await screenshots(rita, 'pod-mine', () => grant.waitFor());
    // Extend: what the policy's maximum leaves (2 h in all, 30 min granted); no self-extension under it.
    await grant.getByRole('button', { name: 'Extend' }).click();
    const extend = rita.getByRole('dialog');
    assert.equal(await extend.getByLabel('Add').locator('option').last().textContent(), '1 h 30 min (the maximum)');
    await extend.getByRole('button', { name: 'Extend', exact: true }).click();
    await extend.getByRole('alert').getByText('does not allow self-extension: an approver must extend it').waitFor();
    await extend.getByRole('button', { name: 'Close' }).click();

    await grant.getByRole('link', { name: 'prod-contributor' }).click();
    await heading(rita, 'Request for prod-contributor').waitFor();
    const events = rita.getByRole('list', { name: 'Timeline' });
    await events.getByText('Approved', { exact: true }).waitFor();
    await events.getByText('by user:alice').waitFor();
    await events.getByText('Granted', { exact: true }).waitFor();
    await rita.getByRole('heading', { name: 'What a revoke does not end' }).waitFor();
    await rita.getByText(/Azure caches role assignments/).waitFor();
    await rita
      .getByText(/^assigned/)
      .first()
      .waitFor();
    const jobs = rita.getByRole('table', { name: 'Jobs of this request' });
    await rowOf(jobs, 'pod.expire').waitFor();
    await assertAccessible(rita, 'request page');
    await screenshots(rita, 'pod-request-page', () => jobs.waitFor());
  });

  test('the app’s clock moves past the grant’s end: it shows expired', async () => {
    await visit(rita, 'My requests');
    h.clock.advance(31 * 60_000);
    h.app.engine.wake();
    await reaches(asked, 'expired');
    const row = rowOf(rita.getByRole('table', { name: 'My requests' }), 'prod-contributor');
    await row.getByText('expired').waitFor();
    assert.equal(await row.locator('td[data-label="Time left"]').textContent(), '—');
    assert.equal(await row.getByRole('button', { name: 'Revoke' }).count(), 0, 'nothing left to revoke');
  });

  test('self-approval: the buttons show, the API refuses, its reason is shown', async () => {
    const own = await ask('alice', { permission: 'prod-reader', identity: { type: 'user', id: RITA_OID } });
    await alice.goto(`${h.url}/pod/requests/${own}`);
    await heading(alice, 'Request for prod-reader').waitFor();
    await alice.getByRole('button', { name: 'Approve' }).click();
    const dialog = alice.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog
      .getByRole('alert')
      .getByText('user:alice requested it: policy "standard" does not allow self-approval')
      .waitFor();
    await assertAccessible(alice, 'self-approval refused');
    await dialog.getByRole('button', { name: 'Close' }).click();
    assert.equal((await h.call('admin', 'GET', `/api/pod/requests/${own}`)).body.status, 'submitted');
  });

  test('revoke from the active-grants page, with what a revoke does not end', async () => {
    const id = await ask('rita', { permission: 'prod-reader', duration: 'PT1H', justification: 'read the logs' });
    assert.equal((await h.call('bob', 'POST', `/api/pod/requests/${id}/approve`, { comment: '' })).status, 200);
    await reaches(id, 'granted');
    await visit(admin, 'Active grants');
    const grants = admin.getByRole('table', { name: 'Active grants' });
    const row = rowOf(grants, 'prod-reader');
    await row
      .locator('td[data-label="Time left"]')
      .getByText(/min( \d+ s)? left$/)
      .waitFor();
    await assertAccessible(admin, 'active grants');
    await screenshots(admin, 'pod-grants', () => row.waitFor());
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.getByText('What a revoke does not end:').waitFor();
    await dialog.getByLabel('Comment').fill('incident closed');
    await dialog.getByRole('button', { name: 'Revoke now' }).click();
    const revoked = await reaches(id, 'revoked');
    assert.equal(revoked.ended.reason, 'incident closed');
    assert.match(revoked.ended.by, /^user:user-admin-/);
    assert.match(revoked.grant.providerState, /not assigned/);
    await admin.getByText('No permission is granted through Ticketloop right now.').waitFor();
  });

  test('a requester sees no approve buttons, and the API answers 403', async () => {
    const id = await ask('rita', { permission: 'prod-reader', justification: 'look around' });
    await rita.goto(`${h.url}/pod/requests/${id}`);
    await heading(rita, 'Request for prod-reader').waitFor();
    await rita.getByRole('button', { name: 'Cancel request' }).waitFor();
    for (const name of ['Approve', 'Reject', 'Revoke'])
      assert.equal(await rita.getByRole('button', { name }).count(), 0, `no "${name}" for a requester`);
    // No named functions inside: the page evaluates this source as it is.
    const statuses = await rita.evaluate(async (request) => {
      const me = await (await fetch('/api/auth/me')).json();
      const init = {
        method: 'POST',
        headers: { 'x-csrf-token': me.csrfToken, 'content-type': 'application/json' },
        body: '{}',
      };
      return Promise.all([
        fetch(`/api/pod/requests/${request}/approve`, init),
        fetch(`/api/pod/requests/${request}/reject`, init),
        fetch('/api/pod/grants'),
        fetch('/api/pod/drift'),
        fetch('/api/pod/report.csv?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z'),
        fetch('/api/pod/requests?view=all'),
      ]).then((rs) => rs.map((r) => r.status));
    }, id);
    assert.deepEqual(statuses, [403, 403, 403, 403, 403, 403]);
    // What a requester may do: withdraw it.
    await rita.getByRole('button', { name: 'Cancel request' }).click();
    await rita.getByRole('dialog').getByRole('button', { name: 'Withdraw it' }).click();
    await rita.getByRole('status').filter({ hasText: 'The request is now canceled' }).waitFor();
    assert.equal((await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body.status, 'canceled');
  });

  test('drift: a managed role assigned outside Ticketloop shows after the reconcile', async () => {
    const seeded = await send(
      agent,
      'POST',
      `${sandbox.azure.baseUrl}/_sandbox/azure/roleAssignments`,
      { 'content-type': 'application/json' },
      JSON.stringify({ scope: SUB, principalId: OUTSIDE_OID, principalType: 'User', roleDefinitionId: READER }),
    );
    assert.ok(seeded.status < 300, JSON.stringify(seeded.body));
    // The reconcile schedule runs every 15 minutes of the app's clock.
    h.clock.advance(16 * 60_000);
    h.app.engine.wake();
    await until(async () => {
      const d = (await h.call('admin', 'GET', '/api/pod/drift')).body;
      return d.items.some((x: { target: string }) => x.target.includes(OUTSIDE_OID));
    }, 'the outside assignment reported as drift');
    await visit(admin, 'Permission drift');
    const row = rowOf(admin.getByRole('table', { name: 'Drift' }), OUTSIDE_OID);
    await row.getByText('Outside: assigned directly, not through Ticketloop').waitFor();
    await assertAccessible(admin, 'drift');
    await screenshots(admin, 'pod-drift', () => row.waitFor());
  });

  test('the report: an auditor picks the days and downloads the CSV of the grants in them', async () => {
    const auditor = await userFor(h.app, 'auditor', PASSWORD);
    const page = await signIn(auditor.name);
    await visit(page, 'Access report');
    await page.getByLabel('First day').fill('2026-11-01');
    await page.getByLabel('Last day').fill('2026-10-01');
    await fieldOf(page, 'Last day').getByText('must be on or after the first day').waitFor();
    await page.getByLabel('Last day').fill('2026-12-01');
    await assertAccessible(page, 'report');
    await screenshots(page, 'pod-report', () => heading(page, 'Access report').waitFor());
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download the report (CSV)' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'pod-report.csv');
    const [header, ...lines] = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\r\n');
    assert.ok(header.startsWith('request,system,permission,scope'), header);
    assert.ok(
      lines.some((l) => l.startsWith(`${asked},azure-prod,prod-contributor`)),
      lines.join('\n'),
    );
    assert.equal(lines.length, 2, 'the expired and the revoked grant');
  });
});
