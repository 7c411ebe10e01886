import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The console's browser tests' tools: Debian's Chromium (never a downloaded browser), an axe-core
 * scan that fails on serious or critical violations, and screenshots at desktop and phone widths
 * (test-results/console/, kept by CI as artifacts).
 */

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'console');
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** A reason to skip, when the browser or the built console is missing. */
export function missing(): string | false {
  if (!existsSync(CHROMIUM))
    return `${CHROMIUM} is missing (apt-get install -y chromium); console browser tests skipped`;
  return false;
}

export function builtConsole(): void {
  const index = join(import.meta.dirname, '..', '..', 'dist', 'console', 'index.html');
  assert.ok(existsSync(index), 'the console is not built: run `npm run build` first (npm ci does it)');
}

export function launch(): Promise<Browser> {
  return chromium.launch({
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
}

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: { target: unknown[]; html: string; failureSummary?: string }[];
}

/** axe-core on the page as it is (WCAG 2.1 A/AA rules); no serious or critical violation is allowed. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  // No colour transitions: the contrast check must see each element's settled colours, not a blend
  // caught half-way (a button that was just re-enabled).
  await page.evaluate(`(() => {
    if (document.getElementById('no-transitions')) return;
    const style = document.createElement('style');
    style.id = 'no-transitions';
    style.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
    document.head.append(style);
  })()`);
  // Evaluated over the DevTools protocol, so the console's CSP (no inline script) stays as it is.
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axe.source);
  // Fluent's focus manager (Tabster) keeps two 1-px sentinels on <body> that hand focus on the moment
  // they get it: hidden from screen readers on purpose, so they are no finding.
  const violations = (await page.evaluate(`window.axe
    .run({ exclude: [['[data-tabster-dummy]']] }, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    .then((r) => r.violations)`)) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => `${n.html.slice(0, 160)} (${n.failureSummary ?? ''})`).join('; ')}`,
    ),
    [],
    `accessibility of ${what}`,
  );
}

/** Screenshots at 1280 and 390 px wide (full page), then back to the desktop width. */
export async function screenshots(page: Page, name: string, ready: () => Promise<unknown>): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await ready();
  await page.screenshot({ path: join(SHOTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await ready();
}

/** Sign in on the console's sign-in form (already open in `page`) and wait for the console. */
/** A page in a fresh desktop context (a page error fails the test), at `url`, signed in as `name`. */
export async function signedInPage(browser: Browser, url: string, name: string, password: string): Promise<Page> {
  const context = await browser.newContext({ viewport: DESKTOP, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  await page.goto(url);
  await signInAs(page, name, password);
  return page;
}

export async function signInAs(page: Page, name: string, password: string): Promise<void> {
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('navigation', { name: 'Console' }).first().waitFor();
}
