import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { defenderModule } from '../../src/flows/defender/module.ts';
import type { ItemState } from '../../src/flows/defender/flow.ts';
import { startLoop, until, type Loop } from '../entitlement/helpers.ts';
import { userFor } from '../helpers/identity.ts';
import { assertAccessible, builtConsole, launch, missing, screenshots, signedInPage } from './browser.ts';

/**
 * "Create assignment" in Debian's Chromium against the sandbox (issue #16 item 1): an operator picks a
 * recommendation, ticks one of its unhealthy resources, fills the form; a refused field shows next to
 * it; then the ticket of the chosen type opens for the chosen owner. An auditor sees no link to it.
 */

const PASSWORD = 'correct horse battery staple';
const NAME = 'hand';
const SCOPE = `/subscriptions/${DEMO.prodSubscription}`;
const TWO_VMS = '1195afff-c881-495e-9bc5-1486211ae03f';
const VM2 = DEMO.vm.replace('vm-web-01', 'vm-web-02');

describe('console: Create assignment (Defender)', { skip: missing() }, () => {
  let L: Loop;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    builtConsole();
    [L, browser] = await Promise.all([
      startLoop({
        flows: [defenderModule],
        integrations: () => [
          {
            name: NAME,
            type: 'defender',
            servicenow: 'sandbox',
            scope: SCOPE,
            mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
            reconcileIntervalSeconds: 3600,
          },
          {
            // No caller: a problem of the integration, shown on its page with the fix.
            name: 'bare',
            type: 'defender',
            servicenow: 'sandbox',
            scope: SCOPE,
            mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com' },
            reconcileIntervalSeconds: 3600,
          },
        ],
      }),
      launch(),
    ]);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await L?.close();
  });

  async function signIn(role: 'operator' | 'auditor'): Promise<Page> {
    const user = await userFor(L.app, role, PASSWORD);
    const page = await signedInPage(browser, L.url, user.name, PASSWORD);
    contexts.push(page.context());
    return page;
  }
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true, level: 1 });
  const fieldOf = (page: Page, label: string) => page.locator('.fui-Field').filter({ has: page.getByLabel(label) });
  const manualItems = async () =>
    (await L.app.store.db.selectFrom('flow_state').select(['id', 'state']).where('flow', '=', 'defender').execute())
      .map((r) => JSON.parse(r.state) as ItemState)
      .filter((s) => s.manual);

  test('recommendation → resources → form; a refused field shows beside it; the ticket opens', async () => {
    const page = await signIn('operator');
    await page.goto(`${L.url}/defender/integrations/${NAME}`);
    await heading(page, `Integration ${NAME}`).waitFor();
    await page.getByRole('link', { name: 'Create assignment' }).click();
    await heading(page, 'Create assignment').waitFor();

    const title = (await L.app.connections.microsoft().arm.getAssessmentMetadataByName(TWO_VMS))!.properties
      .displayName;
    await page.getByRole('button', { name: `Choose ${title}` }).click();
    const resources = page.getByRole('group', { name: 'Resources' });
    await resources.getByRole('checkbox', { name: VM2 }).check();
    await resources.getByRole('checkbox', { name: DEMO.vm }).waitFor();

    await page.getByLabel('Assigned to (e-mail)').fill('not an address');
    await page.getByLabel('Ticket type').selectOption('problem');
    await page.getByLabel('Remediation timeframe (days)').fill('5');
    await page.getByRole('button', { name: 'Create assignment (1)' }).click();
    await fieldOf(page, 'Assigned to (e-mail)').getByText(/email/i).waitFor();
    await assertAccessible(page, 'create assignment with a field error');
    await screenshots(page, 'defender-assign', () => heading(page, 'Create assignment').waitFor());
    assert.deepEqual(await manualItems(), [], 'nothing created while refused');

    await page.getByLabel('Assigned to (e-mail)').fill('beth.anglin@example.com');
    await page.getByRole('button', { name: 'Create assignment (1)' }).click();
    await page.getByRole('status').filter({ hasText: 'Assignment created for 1 resource(s): a problem' }).waitFor();
    const [made] = await until(async () => {
      const open = (await manualItems()).filter((s) => s.ticket);
      return open.length ? open : undefined;
    }, 'the manual assignment opened its ticket');
    assert.match(made.ticket!.key, /^PRB/);
    assert.equal(made.owner, 'beth.anglin@example.com');
    assert.equal(made.grace, true);
    // Listed again with its assignment: the resource can't be ticked a second time.
    await resources.getByText(/manual assignment, beth\.anglin@example\.com/).waitFor();
    assert.equal(await resources.getByRole('checkbox', { name: VM2 }).isDisabled(), true);
  });

  test('the manual assignment is edited (owner, due date) and then deleted from its list', async () => {
    const page = await signIn('operator');
    await page.goto(`${L.url}/defender/integrations/${NAME}`);
    await page.getByRole('link', { name: 'Manual assignments' }).click();
    await heading(page, `Manual assignments of ${NAME}`).waitFor();
    const table = page.getByRole('table', { name: 'Manual assignments' });
    const row = table.getByRole('row').filter({ hasText: 'beth.anglin@example.com' });
    await row.getByRole('button', { name: 'Edit…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Owner (assigned to)').fill('david.miller@example.com');
    await dialog.getByLabel('Remediation due date').fill('2030-06-01');
    await assertAccessible(page, 'edit a manual assignment');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await table.getByRole('row').filter({ hasText: 'david.miller@example.com' }).waitFor();
    const edited = await until(async () => {
      const [s] = await manualItems();
      return s?.owner === 'david.miller@example.com' ? s : undefined;
    }, 'the edit reached the item');
    assert.equal(new Date(edited.dueAt).toISOString(), '2030-06-01T00:00:00.000Z');

    await table
      .getByRole('row')
      .filter({ hasText: 'david.miller@example.com' })
      .getByRole('button', { name: 'Delete…' })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete the assignment' }).click();
    await page.getByText('No manual assignment yet.').waitFor();
    await until(async () => ((await manualItems())[0]?.status === 'deleted' ? true : undefined), 'deleted');
  });

  test('an integration without a caller shows the problem and its fix on its page', async () => {
    const page = await signIn('auditor');
    await page.goto(`${L.url}/defender/integrations/bare`);
    await heading(page, 'Integration bare').waitFor();
    const list = page.getByRole('list', { name: 'Integration problems' });
    await list.getByText(/^mapping\.caller: not set/).waitFor();
    await list.getByText(/^Fix: set mapping\.caller to the e-mail of a person in ITSM sandbox/).waitFor();
    await assertAccessible(page, 'integration problems');
  });

  test('an auditor sees no "Create assignment" (the API refuses it too: test/defender/manual.test.ts)', async () => {
    const page = await signIn('auditor');
    await page.goto(`${L.url}/defender/integrations/${NAME}`);
    await heading(page, `Integration ${NAME}`).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Create assignment' }).count(), 0);
  });
});
