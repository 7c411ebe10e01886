import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { defenderModule } from '../../src/flows/defender/module.ts';
import { defenderDb } from '../../src/flows/defender/tables.ts';
import { startLoop, until, type Loop } from '../entitlement/helpers.ts';
import { userFor } from '../helpers/identity.ts';
import { assertAccessible, builtConsole, DESKTOP, launch, missing, screenshots, signInAs } from './browser.ts';

/**
 * The console's Defender for Cloud pages in Debian's Chromium against the sandbox (ARM demo tenant,
 * ServiceNow, Entra): create an integration (a refused field shown next to it, then a customized
 * mapping at management-group scope) and see its tickets appear; reconcile now with its progress;
 * assignments filtered and exported as CSV; what a read-only role sees (and that the API refuses
 * the rest); delete with the cascade spelled out. Behaviour: issue #12 ("Defender for Cloud" pages),
 * the API of src/flows/defender/routes.ts and the cascade of src/flows/defender/cleanup.ts.
 */

const PASSWORD = 'correct horse battery staple';
const NAME = 'console-mg';

describe('console: Defender for Cloud pages', { skip: missing() }, () => {
  let L: Loop;
  let browser: Browser;
  let admin: Page;
  const contexts: BrowserContext[] = [];

  before(async () => {
    builtConsole();
    [L, browser] = await Promise.all([startLoop({ flows: [defenderModule] }), launch()]);
    const user = await userFor(L.app, 'admin', PASSWORD);
    admin = await signIn(user.name);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await L?.close();
  });

  async function signIn(name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, reducedMotion: 'reduce' });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await page.goto(L.url);
    await signInAs(page, name, PASSWORD);
    return page;
  }
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true, level: 1 });
  const visit = async (page: Page, link: string) => {
    await page.getByRole('navigation', { name: 'Console' }).first().getByRole('link', { name: link }).click();
    await heading(page, link).waitFor();
  };
  /** The Fluent field around a control, where the API's message for it shows. */
  const fieldOf = (page: Page, label: string) => page.locator('.fui-Field').filter({ has: page.getByLabel(label) });
  const items = async () =>
    (await L.app.store.db.selectFrom('flow_state').select(['id', 'state']).where('flow', '=', 'defender').execute())
      .filter((r) => r.id.startsWith(`${NAME}:`))
      .map((r) => JSON.parse(r.state) as { status: string; ticket?: { key: string; link: string; status: string } });

  test('create an integration: refused fields show next to the field; then its tickets appear', async () => {
    const page = admin;
    await visit(page, 'Defender for Cloud');
    await page.getByText('No Defender for Cloud integration yet').waitFor();
    await page.getByRole('button', { name: 'New integration' }).click();
    await heading(page, 'New Defender integration').waitFor();

    await page.getByLabel('Name').fill(NAME);
    await page.getByRole('radio', { name: 'Subscription' }).check();
    await page.getByLabel('Subscription ID').fill('not-a-subscription');
    await page.getByRole('radio', { name: /^Customized/ }).check();
    await page.getByLabel('Owner (assigned to)').fill('not an address');
    await page.getByRole('button', { name: 'Create integration' }).click();
    await fieldOf(page, 'Subscription ID')
      .getByText('a subscription, management group or security connector')
      .waitFor();
    await fieldOf(page, 'Owner (assigned to)').getByText(/email/i).waitFor();
    await assertAccessible(page, 'new integration with field errors');
    await screenshots(page, 'defender-new', () => heading(page, 'New Defender integration').waitFor());

    await page.getByRole('radio', { name: 'Management group' }).check();
    await page.getByLabel('Management group ID').fill(DEMO.managementGroup);
    await page.getByLabel('Owner (assigned to)').fill('abel.tuter@example.com');
    await page.getByRole('textbox', { name: 'Caller' }).fill('abel.tuter@example.com');
    await page.getByLabel('Category').fill('security');
    await page.getByLabel('Impact').selectOption('2');
    await page.getByLabel('Other fields').fill('u_source = defender:{assessmentKey}');
    await page.getByRole('button', { name: 'Create integration' }).click();
    await heading(page, `Integration ${NAME}`).waitFor();
    await page.getByRole('status').filter({ hasText: 'The integration is created' }).waitFor();
    const stored = defenderDb(L.app.store.db).selectFrom('defender_integration').selectAll().where('name', '=', NAME);
    const config = JSON.parse((await stored.executeTakeFirstOrThrow()).config);
    assert.equal(config.scope, `/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}`);
    assert.deepEqual(
      [config.mapping.mode, config.mapping.impact, config.mapping.fields],
      ['customized', '2', { u_source: 'defender:{assessmentKey}' }],
    );

    // The first pass runs at once (the schedule starts due): its tickets show among the assignments.
    const ticketed = await until(async () => {
      const open = (await items()).filter((s) => s.ticket);
      return open.length ? open : undefined;
    }, 'tickets opened in ServiceNow');
    await page.getByRole('link', { name: 'Its assignments' }).click();
    await heading(page, 'Defender assignments').waitFor();
    const link = page.getByRole('link', { name: ticketed[0].ticket!.key }).first();
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), ticketed[0].ticket!.link);
    await assertAccessible(page, 'assignments');
    await screenshots(page, 'defender-assignments', () => link.waitFor());

    await visit(page, 'Defender for Cloud');
    const row = page.getByRole('row').filter({ hasText: NAME });
    await row.getByText(`Management group: ${DEMO.managementGroup}`).waitFor();
    await assertAccessible(page, 'integrations');
    await screenshots(page, 'defender-integrations', () => row.waitFor());
  });

  test('reconcile now shows the pass under way, then its figures; test the connection', async () => {
    const page = admin;
    await page.goto(`${L.url}/defender/integrations/${NAME}`);
    await heading(page, `Integration ${NAME}`).waitFor();
    const before = Number(
      (
        await defenderDb(L.app.store.db)
          .selectFrom('defender_pass')
          .select('pass')
          .where('integration', '=', NAME)
          .executeTakeFirst()
      )?.pass ?? 0,
    );
    // Slow ARM down so the pass lasts long enough to watch (sandbox faults: latency per request).
    await L.http('PATCH', `${L.sandbox.azure.baseUrl}/_sandbox/faults`, { json: { latencyMs: 700 } });
    try {
      await page.getByRole('button', { name: 'Reconcile now' }).click();
      await page.getByRole('button', { name: 'Reconciling…' }).waitFor();
      await page.getByRole('progressbar', { name: 'Reconcile pass progress' }).waitFor();
      await page
        .getByRole('status')
        .filter({ hasText: /Waiting for a worker|Starting|Page \d+/ })
        .waitFor();
      await assertAccessible(page, 'integration while reconciling');
      await page.getByRole('status').filter({ hasText: 'The pass finished' }).waitFor({ timeout: 30_000 });
    } finally {
      await L.http('DELETE', `${L.sandbox.azure.baseUrl}/_sandbox/faults`);
    }
    const row = await defenderDb(L.app.store.db)
      .selectFrom('defender_pass')
      .selectAll()
      .where('integration', '=', NAME)
      .execute();
    assert.ok(Number(row[0].pass) > before, 'a new pass ran');
    assert.equal(JSON.parse(row[0].last_stats!).current, undefined, 'the finished pass left no progress behind');

    await page.getByRole('button', { name: 'Test the connection' }).click();
    const results = page.getByRole('table', { name: 'Connection test results' });
    await results.getByText('read assessments').waitFor({ timeout: 30_000 });
    await results.getByRole('row').filter({ hasText: 'read assessments' }).getByText('✓ ok').waitFor();
    await assertAccessible(page, 'integration');
    await screenshots(page, 'defender-integration', () => results.waitFor());
  });

  test('assignments: filter by severity and export the same query as CSV', async () => {
    const page = admin;
    await visit(page, 'Defender assignments');
    await page.getByLabel('Severity').selectOption('High');
    await page.getByRole('button', { name: 'Filter' }).click();
    await until(async () => new URL(page.url()).searchParams.get('severity') === 'High', 'filter in the address');
    const table = page.getByRole('table', { name: 'Assignments' });
    // The unfiltered rows stay on screen until the filtered answer arrives: wait for the filtered ones.
    const severities = await until(async () => {
      const shown = await table.locator('td[data-label="Severity"]').allTextContents();
      return shown.length > 0 && shown.every((s) => s === 'High') ? shown : undefined;
    }, 'only High assignments shown');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'defender-assignments.csv');
    const [header, ...lines] = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\r\n');
    const col = header.split(',').indexOf('severity');
    assert.ok(col >= 0 && lines.length === severities.length, `${lines.length} CSV rows, ${severities.length} shown`);
    assert.ok(lines.every((l) => l.split(',')[col] === 'High'));
  });

  test('a read-only role sees no create, reconcile, test or delete, and the API refuses them', async () => {
    const auditor = await userFor(L.app, 'auditor', PASSWORD);
    const page = await signIn(auditor.name);
    await visit(page, 'Defender for Cloud');
    await page.getByRole('row').filter({ hasText: NAME }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'New integration' }).count(), 0);
    await page.getByRole('link', { name: NAME }).click();
    await heading(page, `Integration ${NAME}`).waitFor();
    for (const name of ['Reconcile now', 'Test the connection', 'Delete…'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no "${name}" for an auditor`);
    const statuses = await page.evaluate(async (name) => {
      const me = await (await fetch('/api/auth/me')).json();
      const headers = { 'x-csrf-token': me.csrfToken, 'content-type': 'application/json' };
      const url = `/api/defender/integrations/${name}`;
      return Promise.all([
        fetch('/api/defender/integrations', { method: 'POST', headers, body: JSON.stringify({ name: 'x' }) }),
        fetch(url, { method: 'DELETE', headers }),
        fetch(`${url}/reconcile`, { method: 'POST', headers }),
        fetch(`${url}/check`, { method: 'POST', headers }),
      ]).then((rs) => rs.map((r) => r.status));
    }, NAME);
    assert.deepEqual(statuses, [403, 403, 403, 403]);
  });

  test('delete spells out the cascade with this integration’s numbers, then runs it', async () => {
    const page = admin;
    await page.goto(`${L.url}/defender/integrations/${NAME}`);
    await heading(page, `Integration ${NAME}`).waitFor();
    const open = (await items()).filter((s) => s.ticket?.status === 'open').length;
    const governed = await defenderDb(L.app.store.db)
      .selectFrom('defender_assessment')
      .select((eb) => eb.fn.count('governed_ticket').as('n'))
      .where('integration', '=', NAME)
      .executeTakeFirstOrThrow();
    assert.ok(open > 0 && Number(governed.n) > 0, 'tickets and governance assignments to delete');
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog');
    const cascade = dialog.getByRole('list', { name: 'What deleting does' });
    await cascade.getByText(`${Number(governed.n)} governance assignment`).waitFor();
    await cascade.getByText(`${open} open ticket`).waitFor();
    await assertAccessible(page, 'delete dialog');
    await screenshots(page, 'defender-delete', () => cascade.waitFor());
    await dialog.getByRole('button', { name: `Delete ${NAME}` }).click();
    await heading(page, 'Defender for Cloud').waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: `${NAME} is deleted` })
      .waitFor();
    await until(async () => (await items()).every((s) => s.status === 'deleted'), 'every ticket marked deleted');
    const left = await defenderDb(L.app.store.db)
      .selectFrom('defender_assessment')
      .select('id')
      .where('integration', '=', NAME)
      .execute();
    assert.equal(left.length, 0, 'its rows are gone (the governance assignments with them)');
  });
});
