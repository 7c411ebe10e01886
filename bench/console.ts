/**
 * Console benchmark (`npx tsx bench/console.ts`; needs `npm run build`).
 *
 * Ticketloop in this process on the sandbox (the entitlement loop of test/entitlement/helpers.ts),
 * with demo data: three real access requests through the sandbox Entra and ServiceNow, plus SEEDED
 * seeded items. Measured:
 *  1. the first page's JavaScript and CSS, gzip -9 of each file the browser loaded for the overview
 *     (target ≤ 300 KB; every other page is its own chunk, loaded when opened), and the same for a
 *     requester's first page (permissions on demand's Request access: no overview for that role);
 *  2. time to interactive of the overview in Debian's Chromium: navigation start → the loop cards and
 *     the navigation rendered with data (median of RUNS fresh page loads, signed in, caches cold);
 *  3. the overview's API calls per refresh (every /api/ request over a few polls) and how many were 304;
 *  4. SQL queries per GET /api/overview with few and with SEEDED items (the same: no N+1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { DEMO_USERS } from '../sandbox/microsoft/constants.ts';
import { podModule } from '../src/flows/pod/module.ts';
import { startLoop, until } from '../test/entitlement/helpers.ts';
import { signIn, userFor } from '../test/helpers/identity.ts';
import { percentile, renderTable, saveResult } from './lib.ts';

const RUNS = 7;
const REFRESHES = 3;
const SEEDED = 5_000;
const DIST = join(import.meta.dirname, '..', 'dist', 'console');
const CHROMIUM = '/usr/bin/chromium';

// With the pod module: its pages show for every instance that runs it (a requester's first page).
const L = await startLoop({ flows: [podModule] });
try {
  // Demo data: real requests, then many seeded items of every status and some dead jobs.
  const s = await L.setup(['assignmentRequestApproved']);
  for (const user of DEMO_USERS.slice(0, 3)) {
    const req = await s.request(user.id);
    await s.callout(req.id, 'assignmentRequestApproved');
  }
  await until(
    async () => (await L.app.store.db.selectFrom('itsm_ticket').selectAll().execute()).length >= 3,
    'tickets',
  );

  // From here nothing else runs in this process (engine and ITSM polls stopped): every query counted
  // is a request's, and an unchanged overview stays unchanged (its refresh is a 304).
  await L.app.engine.stop();
  const db = L.app.store.db;
  const executor = db.getExecutor() as { executeQuery: (...a: unknown[]) => Promise<unknown> };
  const run = executor.executeQuery.bind(executor);
  let queries = 0;
  executor.executeQuery = (...a: unknown[]) => {
    queries++;
    return run(...a);
  };
  const reader = await userFor(L.app, 'auditor');
  const session = await signIn(L.url, reader.name, reader.password);
  const queriesOf = async (path: string) => {
    const before = queries;
    const r = await fetch(L.url + path, { headers: { cookie: session.cookie } });
    await r.arrayBuffer();
    return queries - before;
  };
  // What the guard costs any signed-in call (the session look-up), not the overview's own:
  // GET /api/flows answers from the configuration alone.
  const guard = await queriesOf('/api/flows');
  const queriesPerOverview = async () => (await queriesOf('/api/overview')) - guard;
  const fewItems = await queriesPerOverview();
  const statuses = ['received', 'ticket_open', 'resumed', 'denied', 'expired', 'failed'];
  const now = Date.now();
  for (let i = 0; i < SEEDED; i += 500)
    await db
      .insertInto('flow_state')
      .values(
        Array.from({ length: Math.min(500, SEEDED - i) }, (_, k) => ({
          flow: 'entitlement',
          id: `seeded-${i + k}`,
          state: JSON.stringify({ status: statuses[(i + k) % statuses.length], integration: 'ent', stage: 'x' }),
          version: 1,
          created_at: now - ((i + k) % 24) * 3_600_000,
          updated_at: now,
        })),
      )
      .execute();
  const manyItems = await queriesPerOverview();
  const t0 = performance.now();
  await queriesPerOverview();
  const overviewMs = performance.now() - t0;

  /** Answers to GET /api/overview so far (with `status`, those of that status), from the server's metrics. */
  const overviewAnswers = async (status?: string) => {
    const metric = await L.app.metrics.httpDuration.get();
    return metric.values
      .filter((v) => String(v.metricName).endsWith('_count') && v.labels.route === '/api/overview')
      .filter((v) => status === undefined || v.labels.status === status)
      .reduce((sum, v) => sum + v.value, 0);
  };
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const [name, value] = session.cookie.split('=');
  const interactive: number[] = [];
  let firstPageFiles: string[] = [];
  let perRefresh = { calls: 0, notModified: 0 };
  for (let n = 0; n < RUNS; n++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([{ name, value, url: L.url }]);
    const page = await context.newPage();
    const files = new Set<string>();
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/assets/')) files.add(path);
    });
    const start = Date.now();
    await page.goto(`${L.url}/`);
    await page.getByTestId('loop-entitlement-ent').getByText('ticket open').waitFor();
    await page.getByRole('navigation', { name: 'Console' }).first().getByRole('link', { name: 'Jobs' }).waitFor();
    interactive.push(Date.now() - start);
    if (n === 0) {
      firstPageFiles = [...files];
      // Refreshes: every /api/ request over REFRESHES overview polls. The browser shows a revalidated
      // answer as its cached 200, so the 304s are counted by the server (its request metrics).
      const calls: string[] = [];
      page.on('response', (r) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith('/api/')) calls.push(path);
      });
      await page.waitForResponse((r) => r.url().endsWith('/api/overview'), { timeout: 15_000 });
      const [total0, unchanged0] = [await overviewAnswers(), await overviewAnswers('304')];
      const seenBefore = calls.length;
      for (let k = 0; k < REFRESHES; k++)
        await page.waitForResponse((r) => r.url().endsWith('/api/overview'), { timeout: 15_000 });
      await until(async () => (await overviewAnswers()) >= total0 + REFRESHES, 'the server counted the polls');
      perRefresh = {
        calls: (calls.length - seenBefore) / REFRESHES,
        notModified: (await overviewAnswers('304')) - unchanged0,
      };
    }
    await context.close();
  }
  // A requester's first page (no overview for them): Request access, a lazy chunk of its own.
  const requester = await userFor(L.app, 'requester');
  const requesterSession = await signIn(L.url, requester.name, requester.password);
  const requesterFiles = new Set<string>();
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const [cookieName, cookieValue] = requesterSession.cookie.split('=');
    await context.addCookies([{ name: cookieName, value: cookieValue, url: L.url }]);
    const page = await context.newPage();
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/assets/')) requesterFiles.add(path);
    });
    await page.goto(`${L.url}/`);
    await page.getByRole('heading', { name: 'Request access', level: 1 }).waitFor();
    await context.close();
  }
  await browser.close();

  const gzipBytes = firstPageFiles.reduce(
    (sum, f) => sum + gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length,
    0,
  );
  const requesterBytes = [...requesterFiles].reduce(
    (sum, f) => sum + gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length,
    0,
  );
  const sorted = [...interactive].sort((a, b) => a - b);
  const result = saveResult({
    name: 'console',
    results: [
      {
        metric: 'first page (overview) JS + CSS, gzip',
        value: Math.round(gzipBytes / 1024),
        unit: 'KB',
        target: '<= 300',
        met: gzipBytes <= 300 * 1024,
        note: `${firstPageFiles.length} files`,
      },
      {
        metric: 'a requester’s first page (Request access) JS + CSS, gzip',
        value: Math.round(requesterBytes / 1024),
        unit: 'KB',
        target: '<= 300',
        met: requesterBytes <= 300 * 1024,
        note: `${requesterFiles.size} files`,
      },
      {
        metric: 'overview time to interactive, median',
        value: percentile(sorted, 50),
        unit: 'ms',
        target: '<= 1500',
        met: percentile(sorted, 50) <= 1500,
        note: `max ${sorted[sorted.length - 1]} ms over ${RUNS} cold loads`,
      },
      {
        metric: 'API calls per overview refresh',
        value: perRefresh.calls,
        unit: 'calls',
        target: '1',
        met: perRefresh.calls === 1,
        note: `over ${REFRESHES} refreshes of an unchanged overview, ${perRefresh.notModified} answered 304`,
      },
      {
        metric: `SQL queries per GET /api/overview, ${SEEDED.toLocaleString('en-US')} items`,
        value: manyItems,
        unit: 'queries',
        target: `= with few items (${fewItems})`,
        met: manyItems === fewItems,
        note: `the call took ${Math.round(overviewMs)} ms`,
      },
    ],
    notes: [
      'Ticketloop in-process on the sandbox (SQLite), 3 real access requests with tickets plus seeded items; Debian Chromium headless.',
      'Time to interactive: from navigation start to the loop cards (with data) and the navigation rendered; a fresh browser context each run.',
    ],
  });
  console.log(renderTable(result));
} finally {
  await L.close();
}
