/**
 * Sign-in with Entra ID end to end over real HTTP: Ticketloop's /auth/oidc/start → the sandbox
 * Entra's authorize page → pick a demo user → Ticketloop's callback → session cookie → /api/auth/me
 * shows the roles mapped from the user's groups. Plus the sandbox's authorization-code grant
 * on its own (PKCE S256, one redemption per code).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { TICKETLOOP_APP } from '../../sandbox/microsoft/constants.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxSignIn } from '../../src/cli/demo.ts';

/** The cookies a browser would keep for Ticketloop's origin. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(r: Response): void {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      if (!value || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const unescape = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);

describe('sign-in with the sandbox Entra ID (OpenID Connect, authorization code + PKCE)', () => {
  let dir: string;
  let sandbox: Sandbox;
  let app: Ticketloop;
  let url: string;
  let agent: Agent;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-oidc-'));
    sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
    agent = new Agent({ connect: { ca: sandbox.tls.ca } });
    const config = validateConfig(
      {
        dataDir: join(dir, 'tl'),
        server: { host: '127.0.0.1', port: 0 },
        identity: { oidc: sandboxSignIn(sandbox) },
      },
      'test',
    );
    app = await buildTicketloop(config, { logger: createLogger('silent'), itsm: ITSM_MODULES, flows: [] });
    url = await app.start();
  });
  after(async () => {
    await app.stop();
    await agent.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** start → the sandbox's page → pick `who` → the answer to the callback (with the jar's cookies). */
  async function signInAs(who: string, jar = new Jar()) {
    const start = await fetch(`${url}/auth/oidc/start?returnTo=/console/jobs`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    jar.take(start);
    const authorize = new URL(start.headers.get('location')!);
    assert.equal(
      authorize.origin + authorize.pathname,
      `${sandbox.microsoft.authorityHost}/${sandbox.microsoft.tenantId}/oauth2/v2.0/authorize`,
    );
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    for (const p of ['state', 'nonce', 'code_challenge']) assert.ok(authorize.searchParams.get(p), p);

    const page = await request(authorize, { dispatcher: agent });
    assert.equal(page.statusCode, 200);
    const html = await page.body.text();
    const button = new RegExp(`name="user" value="([^"]+)"><b>${who}</b>`).exec(html);
    assert.ok(button, `${who} is on the sign-in page`);
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      form.set(unescape(m[1]), unescape(m[2]));
    form.set('user', button[1]);
    const picked = await request(authorize.origin + authorize.pathname, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    await picked.body.text();
    assert.equal(picked.statusCode, 302);
    const callback = String(picked.headers.location);
    assert.ok(callback.startsWith(`${url}/auth/oidc/callback?code=`), callback);
    const back = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.take(back);
    return { back, jar, callback };
  }

  test('an operator signs in: session cookie, then /api/auth/me shows the role mapped from the group', async () => {
    const { back, jar } = await signInAs('Alex Wilber');
    assert.equal(back.status, 302, await back.clone().text());
    assert.equal(back.headers.get('location'), '/console/jobs', 'back where the sign-in started');
    const session = back.headers.getSetCookie().find((c) => c.startsWith('tl_session='))!;
    assert.match(session, /HttpOnly/i);
    assert.match(session, /SameSite=Lax/i);
    assert.ok(!jar.has('tl_oidc'), 'the sign-in cookie is spent');

    const me = await fetch(`${url}/api/auth/me`, { headers: { cookie: jar.header() } });
    assert.equal(me.status, 200);
    const body = (await me.json()) as Record<string, unknown>;
    assert.equal(body.name, 'alex.wilber@ticketloopsandbox.onmicrosoft.com');
    assert.equal(body.displayName, 'Alex Wilber');
    assert.deepEqual(body.roles, ['operator']);
    assert.equal(body.via, 'session');
    assert.equal(body.actor, 'user:alex.wilber@ticketloopsandbox.onmicrosoft.com');

    // The role is the operator's: reading works, user administration does not.
    assert.equal((await fetch(`${url}/api/jobs`, { headers: { cookie: jar.header() } })).status, 200);
    assert.equal((await fetch(`${url}/api/users`, { headers: { cookie: jar.header() } })).status, 403);

    const audit = await app.store.db.selectFrom('audit_log').selectAll().where('kind', '=', 'security').execute();
    const signin = audit.find((r) => r.actor === body.actor && JSON.parse(r.detail).event === 'signin');
    assert.ok(signin, 'the sign-in is audited');
    assert.equal(JSON.parse(signin.detail).method, 'oidc');
  });

  test('each demo group maps to its role; a user in no mapped group is refused and no session opens', async () => {
    for (const [who, role] of [
      ['Adele Vance', 'admin'],
      ['Megan Bowen', 'auditor'],
    ]) {
      const { back, jar } = await signInAs(who);
      assert.equal(back.status, 302);
      const me = (await (await fetch(`${url}/api/auth/me`, { headers: { cookie: jar.header() } })).json()) as {
        roles: string[];
      };
      assert.deepEqual(me.roles, [role], who);
    }
    const { back, jar } = await signInAs('Nestor Wilke');
    assert.equal(back.status, 403);
    assert.equal(((await back.json()) as { error: { code: string } }).error.code, 'signin_refused');
    assert.ok(!jar.has('tl_session'));
    const refused = await app.store.db
      .selectFrom('audit_log')
      .select('detail')
      .where('kind', '=', 'security')
      .execute();
    assert.ok(refused.some((r) => /signin\.failed/.test(r.detail) && /none of the user's 1 groups/.test(r.detail)));
  });

  test('a callback is good once, and only in the browser that started the sign-in', async () => {
    // Another browser (no sign-in cookie) cannot use the code.
    const start = await fetch(`${url}/auth/oidc/start`, { redirect: 'manual' });
    const stranger = await fetch(
      `${url}/auth/oidc/callback?code=x&state=${new URL(start.headers.get('location')!).searchParams.get('state')}`,
      {
        redirect: 'manual',
      },
    );
    assert.equal(stranger.status, 400);
    assert.equal(((await stranger.json()) as { error: { code: string } }).error.code, 'oidc_state');

    const { back, jar, callback } = await signInAs('Alex Wilber');
    assert.equal(back.status, 302);
    const replay = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header() } });
    assert.equal(replay.status, 400, 'the same callback again is refused');
  });
});

describe('sandbox Entra: the authorization_code grant', () => {
  test('PKCE S256 is checked, a code is redeemed once, the ID token carries the claims sign-in needs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-entra-code-'));
    const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
    const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
    const base = `${sandbox.microsoft.authorityHost}/${sandbox.microsoft.tenantId}/oauth2/v2.0`;
    const verifier = 'a-pkce-verifier-of-enough-length-0123456789-abcdefghij';
    const redirect = 'http://127.0.0.1:9/auth/oidc/callback';
    const post = async (path: string, form: Record<string, string>) => {
      const r = await request(`${base}/${path}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      const text = await r.body.text();
      return {
        status: r.statusCode,
        location: String(r.headers.location ?? ''),
        json: text.startsWith('{') ? JSON.parse(text) : text,
      };
    };
    try {
      const code = async () => {
        const r = await post('authorize', {
          client_id: TICKETLOOP_APP.clientId,
          response_type: 'code',
          redirect_uri: redirect,
          scope: 'openid profile',
          state: 's1',
          nonce: 'n1',
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
          user: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
        });
        assert.equal(r.status, 302);
        const back = new URL(r.location);
        assert.equal(back.searchParams.get('state'), 's1');
        return back.searchParams.get('code')!;
      };
      const redeem = (c: string, codeVerifier: string) =>
        post('token', {
          grant_type: 'authorization_code',
          client_id: TICKETLOOP_APP.clientId,
          client_secret: TICKETLOOP_APP.clientSecret,
          code: c,
          redirect_uri: redirect,
          code_verifier: codeVerifier,
        });

      const wrong = await redeem(await code(), 'not-the-verifier');
      assert.equal(wrong.status, 400);
      assert.equal(wrong.json.error, 'invalid_grant');
      assert.deepEqual(wrong.json.error_codes, [501481]);

      const c = await code();
      const ok = await redeem(c, verifier);
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      const claims = JSON.parse(Buffer.from(ok.json.id_token.split('.')[1], 'base64url').toString());
      assert.equal(claims.aud, TICKETLOOP_APP.clientId);
      assert.equal(claims.tid, sandbox.microsoft.tenantId);
      assert.equal(claims.oid, 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01');
      assert.equal(claims.preferred_username, 'adele.vance@ticketloopsandbox.onmicrosoft.com');
      assert.equal(claims.name, 'Adele Vance');
      assert.equal(claims.nonce, 'n1');
      assert.ok(
        claims.groups.includes(sandbox.microsoft.groups.find((g) => g.displayName === 'Ticketloop Admins')!.id),
      );

      const again = await redeem(c, verifier);
      assert.deepEqual(again.json.error_codes, [54005], 'a code is redeemed once');

      // An unregistered redirect URI never receives a code: the error is shown, not redirected.
      const elsewhere = await post('authorize', {
        client_id: TICKETLOOP_APP.clientId,
        response_type: 'code',
        redirect_uri: 'https://attacker.example/cb',
        user: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
      });
      assert.equal(elsewhere.status, 400);
      assert.match(String(elsewhere.json), /AADSTS50011/);
    } finally {
      await agent.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
