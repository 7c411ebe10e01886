import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { authFor } from '../helpers/identity.ts';

/**
 * How Ticketloop serves the console (no browser): index.html for any page address, immutable hashed
 * assets, the API's own 404 and refusals untouched, the security headers, the ETag that makes an
 * unchanged poll a 304, and the page that says how to build a console that is not built.
 */

const HTML = { accept: 'text/html,application/xhtml+xml' };

async function start(consoleDir: string): Promise<{ app: Ticketloop; url: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-console-'));
  const config = validateConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0 } }, 'test');
  const app = await buildTicketloop(config, {
    logger: createLogger('silent'),
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    consoleDir,
  });
  return { app, url: await app.start(), dir };
}

describe('the console, served', () => {
  let built: Awaited<ReturnType<typeof start>>;
  let bare: Awaited<ReturnType<typeof start>>;
  let site: string;
  before(async () => {
    site = mkdtempSync(join(tmpdir(), 'tl-site-'));
    mkdirSync(join(site, 'assets'));
    writeFileSync(join(site, 'index.html'), '<!doctype html><title>Ticketloop</title><div id="root"></div>');
    writeFileSync(join(site, 'assets', 'index-abc123.js'), 'console.log("console")');
    built = await start(site);
    bare = await start(join(site, 'missing'));
  });
  after(async () => {
    for (const s of [built, bare]) {
      await s?.app.stop();
      if (s) rmSync(s.dir, { recursive: true, force: true });
    }
    rmSync(site, { recursive: true, force: true });
  });

  test('/ and any page address answer index.html, revalidated every time, with the security headers', async () => {
    for (const path of ['/', '/jobs', '/entitlement/some-id?x=1']) {
      const r = await fetch(built.url + path, { headers: HTML });
      assert.equal(r.status, 200, path);
      assert.match(await r.text(), /<div id="root">/);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      const csp = r.headers.get('content-security-policy') ?? '';
      for (const part of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"])
        assert.ok(csp.includes(part), `${part} in ${csp}`);
      assert.ok(!/script-src[^;]*unsafe/.test(csp), 'no unsafe script source');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    }
  });

  test('hashed assets are immutable; a missing one is a 404, not the page', async () => {
    const r = await fetch(`${built.url}/assets/index-abc123.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control') ?? '', /immutable/);
    assert.match(r.headers.get('cache-control') ?? '', /max-age=31536000/);
    assert.match(r.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${built.url}/assets/nope.js`)).status, 404);
    const escape = await fetch(`${built.url}/assets/..%2f..%2fpackage.json`);
    assert.ok([403, 404].includes(escape.status), `no file outside the console: ${escape.status}`);
  });

  test('API paths keep their JSON answers; only browsers asking for a page get index.html', async () => {
    const unknown = await fetch(`${built.url}/api/nothing-here`, { headers: HTML });
    assert.equal(unknown.status, 401, 'anonymous callers learn nothing about unknown API paths');
    const auth = await authFor(built.app, 'auditor');
    const known = await fetch(`${built.url}/api/nothing-here`, { headers: { ...HTML, ...auth } });
    assert.equal(known.status, 404);
    assert.equal(((await known.json()) as { error: { code: string } }).error.code, 'not_found');
    for (const path of ['/auth/unknown', '/openapi.json.bak', '/callouts/x', '/webhooks/x']) {
      const r = await fetch(built.url + path, { headers: HTML });
      if (path === '/openapi.json.bak') assert.equal(r.status, 200, 'not an API path: the page');
      else assert.equal(r.status, 404, path);
    }
    const image = await fetch(`${built.url}/favicon.ico`, { headers: { accept: 'image/*' } });
    assert.equal(image.status, 404, 'not a page: the JSON 404');
    assert.equal((await fetch(`${built.url}/healthz`, { headers: HTML })).status, 200);
  });

  test('an unchanged API read is a 304 with no body (weak ETag, private, no-cache)', async () => {
    const auth = await authFor(built.app, 'auditor');
    const first = await fetch(`${built.url}/api/overview`, { headers: auth });
    assert.equal(first.status, 200);
    const tag = first.headers.get('etag');
    assert.match(tag ?? '', /^W\/"/);
    assert.equal(first.headers.get('cache-control'), 'private, no-cache');
    const again = await fetch(`${built.url}/api/overview`, { headers: { ...auth, 'if-none-match': tag! } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const other = await fetch(`${built.url}/api/overview`, { headers: { ...auth, 'if-none-match': 'W/"other"' } });
    assert.equal(other.status, 200);
  });

  test('not built: / says how to build it; the API works as ever', async () => {
    const r = await fetch(`${bare.url}/`, { headers: HTML });
    assert.equal(r.status, 503);
    assert.match(await r.text(), /npm run build/);
    assert.equal((await fetch(`${bare.url}/api/auth/methods`)).status, 200);
  });

  test('the sign-in methods are public; the first admin is due while no user exists', async () => {
    const r = await fetch(`${bare.url}/api/auth/methods`);
    assert.deepEqual(await r.json(), { local: true, setupRequired: true });
    await bare.app.identity.users.create({ name: 'someone', password: 'correct horse battery', roles: [] }, 'test');
    assert.deepEqual(await (await fetch(`${bare.url}/api/auth/methods`)).json(), { local: true, setupRequired: false });
  });
});
