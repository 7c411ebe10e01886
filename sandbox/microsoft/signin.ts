import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SignJWT } from 'jose';
import type { DocStore } from '../shared/persist.ts';
import { AadFailure } from './aad.ts';
import { GRAPH_RESOURCE, TENANT_DOMAIN } from './constants.ts';
import { GROUPS, mailNicknameOf, type DirectoryGroup } from './groups-model.ts';
import type { DirectoryUser } from './em-model.ts';
import { C } from './em-model.ts';
import type { Entra, EntraApp } from './entra.ts';
import type { Form } from './entra-routes.ts';

/**
 * Signing users in (sandbox only): `GET /{tenant}/oauth2/v2.0/authorize` shows a page of the demo
 * users to pick from (no password); picking one redirects to the app's redirect URI with an
 * authorization code, which the token endpoint redeems (`grant_type=authorization_code`, PKCE
 * S256 checked) for an ID token with `oid`, `preferred_username`, `name`, `groups`, `tid`, `nonce`.
 * Groups are the directory's (groups-model.ts): memberships made through Graph show in the next ID token.
 */

interface PendingCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  nonce?: string;
  codeChallenge?: string;
  userId: string;
  expiresAt: number;
  redeemed: boolean;
}

const CODE_TTL_MS = 10 * 60_000;
const LIFETIME_SEC = 3599;

const html = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');
const isLoopback = (u: URL) => u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);

/** Registered exactly, or a loopback http URI registered with any port (Entra ignores the port there). */
function redirectAllowed(app: EntraApp, uri: string): boolean {
  let given: URL;
  try {
    given = new URL(uri);
  } catch {
    return false;
  }
  return (app.redirectUris ?? []).some((r) => {
    if (r === uri) return true;
    const registered = new URL(r);
    return isLoopback(given) && isLoopback(registered) && registered.pathname === given.pathname;
  });
}

export class SignIn {
  private readonly codes = new Map<string, PendingCode>();

  constructor(
    private readonly entra: Entra,
    private readonly store: DocStore,
  ) {}

  groupsOf(userId: string): DirectoryGroup[] {
    return this.store.list<DirectoryGroup>(GROUPS).filter((g) => g.members.includes(userId));
  }

  /** The sign-in request, checked as Entra does: errors before the redirect URI is trusted show a page. */
  private check(
    tenant: string,
    q: Form,
  ): { page: string } | { redirect: string } | { ok: PendingCode & { state?: string } } {
    const page = (code: number, message: string) => ({
      page: `<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p>AADSTS${code}: ${html(message)}</p>`,
    });
    if (!this.entra.knowsTenant(tenant)) return page(90002, `Tenant '${tenant}' not found.`);
    const app = q.client_id ? this.entra.getApp(q.client_id) : undefined;
    if (!app)
      return page(
        700016,
        `Application with identifier '${q.client_id ?? ''}' was not found in the directory '${TENANT_DOMAIN}'.`,
      );
    if (!q.redirect_uri || !redirectAllowed(app, q.redirect_uri))
      return page(
        50011,
        `The redirect URI '${q.redirect_uri ?? ''}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
      );
    const back = (error: string, code: number, message: string) => {
      const u = new URL(q.redirect_uri!);
      u.searchParams.set('error', error);
      u.searchParams.set('error_description', `AADSTS${code}: ${message}`);
      if (q.state) u.searchParams.set('state', q.state);
      return { redirect: u.href };
    };
    if (q.response_type !== 'code')
      return back(
        'unsupported_response_type',
        700054,
        `response_type '${q.response_type ?? ''}' is not enabled for the application.`,
      );
    if (q.response_mode && q.response_mode !== 'query')
      return back('invalid_request', 900144, `The sandbox answers response_mode=query only, not '${q.response_mode}'.`);
    if (q.code_challenge && (q.code_challenge_method ?? 'plain') !== 'S256')
      return back('invalid_request', 501491, "The sandbox accepts code_challenge_method 'S256' only.");
    return {
      ok: {
        clientId: app.clientId,
        redirectUri: q.redirect_uri,
        scopes: (q.scope ?? '').split(/\s+/).filter(Boolean),
        nonce: q.nonce,
        codeChallenge: q.code_challenge,
        userId: '',
        expiresAt: 0,
        redeemed: false,
        state: q.state,
      },
    };
  }

  register(app: FastifyInstance): void {
    const send = (reply: FastifyReply, status: number, body: string) =>
      reply
        .code(status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        .send(
          `<!doctype html><html><head><meta charset="utf-8"><title>Sign in</title>${STYLE}</head><body>${body}</body></html>`,
        );

    app.get<{ Params: { tenant: string }; Querystring: Form }>('/:tenant/oauth2/v2.0/authorize', async (req, reply) => {
      const r = this.check(req.params.tenant, req.query);
      if ('page' in r) return send(reply, 400, r.page);
      if ('redirect' in r) return reply.redirect(r.redirect, 302);
      const users = this.store
        .list<DirectoryUser>(C.users)
        .sort((a, b) => a.displayName.localeCompare(b.displayName))
        .slice(0, 50);
      const hidden = Object.entries(req.query)
        .filter(([k, v]) => k !== 'user' && typeof v === 'string')
        .map(([k, v]) => `<input type="hidden" name="${html(k)}" value="${html(v!)}">`)
        .join('');
      const buttons = users
        .map((u) => {
          const groups = this.groupsOf(u.id).map((g) => g.displayName);
          return `<button type="submit" name="user" value="${html(u.id)}"><b>${html(u.displayName)}</b><br>${html(u.userPrincipalName)}<br><small>${html(groups.join(', ') || 'no groups')}</small></button>`;
        })
        .join('');
      const appName = this.entra.getApp(r.ok.clientId)!.displayName;
      return send(
        reply,
        200,
        `<h1>Pick an account</h1><p>to continue to <b>${html(appName)}</b></p><p class="note">Sandbox Microsoft Entra ID: demo users sign in without a password.</p><form method="post">${hidden}${buttons}</form>`,
      );
    });

    app.post<{ Params: { tenant: string }; Body: Form }>('/:tenant/oauth2/v2.0/authorize', async (req, reply) => {
      const form = req.body && typeof req.body === 'object' ? req.body : {};
      const r = this.check(req.params.tenant, form);
      if ('page' in r) return send(reply, 400, r.page);
      if ('redirect' in r) return reply.redirect(r.redirect, 302);
      const user = form.user ? this.store.get<DirectoryUser>(C.users, form.user) : undefined;
      if (!user)
        return send(
          reply,
          400,
          '<h1>Sign in</h1><p>AADSTS50034: The user account does not exist in this directory.</p>',
        );
      const now = this.entra.clock.now();
      for (const [k, c] of this.codes) if (c.expiresAt <= now) this.codes.delete(k);
      const code = `1.${randomBytes(48).toString('base64url')}`;
      const { state, ...pending } = r.ok;
      this.codes.set(code, { ...pending, userId: user.id, expiresAt: now + CODE_TTL_MS });
      const back = new URL(pending.redirectUri);
      back.searchParams.set('code', code);
      if (state) back.searchParams.set('state', state);
      back.searchParams.set('session_state', randomUUID());
      return reply.redirect(back.href, 302);
    });

    app.get('/_sandbox/entra/groups', async () => ({ value: this.store.list<DirectoryGroup>(GROUPS) }));
    // Create or replace a group: `{id?, displayName, members: [user ids]}`.
    app.post('/_sandbox/entra/groups', async (req, reply) => {
      const b = (req.body ?? {}) as Partial<DirectoryGroup>;
      const displayName = b.displayName ?? 'Sandbox group';
      const g: DirectoryGroup = {
        id: b.id ?? randomUUID(),
        displayName,
        members: Array.isArray(b.members) ? b.members.map(String) : [],
        description: b.description ?? null,
        mailNickname: mailNicknameOf(displayName),
        mailEnabled: false,
        securityEnabled: true,
        groupTypes: [],
        createdDateTime: new Date(this.entra.clock.now()).toISOString(),
      };
      return reply.code(201).send(this.store.put<DirectoryGroup>(GROUPS, g.id, g));
    });
  }

  /** `grant_type=authorization_code` at the v2 token endpoint, for an authenticated client. */
  async redeem(client: EntraApp, form: Form): Promise<Record<string, unknown>> {
    const grant = (code: number, message: string) => new AadFailure(400, 'invalid_grant', code, message);
    if (!form.code)
      throw new AadFailure(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'code'.",
      );
    const pending = this.codes.get(form.code);
    if (!pending) throw grant(70000, "The provided value for the 'code' parameter is not valid.");
    if (pending.redeemed)
      throw grant(
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    const now = this.entra.clock.now();
    if (pending.expiresAt <= now)
      throw grant(70008, 'The provided authorization code or refresh token has expired due to inactivity.');
    if (pending.clientId !== client.clientId)
      throw grant(70000, 'The authorization code was issued to another application.');
    if (form.redirect_uri !== pending.redirectUri)
      throw grant(
        500112,
        `The reply address '${form.redirect_uri ?? ''}' does not match the reply address '${pending.redirectUri}' provided when requesting Authorization code.`,
      );
    if (pending.codeChallenge && (!form.code_verifier || s256(form.code_verifier) !== pending.codeChallenge))
      throw grant(501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
    pending.redeemed = true;
    const user = this.store.get<DirectoryUser>(C.users, pending.userId)!;
    const groups = this.groupsOf(user.id).map((g) => g.id);
    const scope = ['openid', 'profile', 'email', 'User.Read'].filter(
      (s) => s === 'User.Read' || pending.scopes.includes(s),
    );
    const access = await this.entra.issueToken({
      clientId: client.clientId,
      audience: GRAPH_RESOURCE,
      version: 1,
      oid: user.id,
      lifetimeSec: LIFETIME_SEC,
      claims: {
        idtyp: 'user',
        scp: scope.filter((s) => s !== 'openid').join(' '),
        name: user.displayName,
        upn: user.userPrincipalName,
        unique_name: user.userPrincipalName,
      },
    });
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: scope.join(' '),
      expires_in: LIFETIME_SEC,
      ext_expires_in: LIFETIME_SEC,
      access_token: access,
    };
    if (pending.scopes.includes('openid')) body.id_token = await this.idToken(client, user, groups, pending);
    return body;
  }

  /** A v2 ID token; `iat`/`nbf` backdated like access tokens, so a verifier on real time accepts it. */
  private idToken(client: EntraApp, user: DirectoryUser, groups: string[], pending: PendingCode): Promise<string> {
    const nowSec = Math.floor(this.entra.clock.now() / 1000);
    const issued = Math.min(nowSec, Math.floor(Date.now() / 1000)) - 300;
    const claims: Record<string, unknown> = {
      aud: client.clientId,
      iss: this.entra.issuerV2,
      iat: issued,
      nbf: issued,
      exp: nowSec + LIFETIME_SEC,
      aio: randomBytes(24).toString('base64url'),
      ...(pending.scopes.includes('email') ? { email: user.mail } : {}),
      groups,
      name: user.displayName,
      ...(pending.nonce ? { nonce: pending.nonce } : {}),
      oid: user.id,
      preferred_username: user.userPrincipalName,
      rh: `0.${randomBytes(12).toString('base64url')}.`,
      // Entra's `sub` is pairwise: the same user has another `sub` in another app.
      sub: createHash('sha256').update(`${client.clientId}:${user.id}`).digest('base64url').slice(0, 43),
      tid: this.entra.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    };
    const key = this.entra.keys[0];
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
  }
}

const STYLE =
  '<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}' +
  'button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem;border:1px solid #bbb;' +
  'border-radius:4px;background:#fff;cursor:pointer}button:hover{background:#f3f6fb}.note{color:#666}</style>';
