import { z } from 'zod';
import { HttpProblem, type App } from '../http/server.ts';
import { inTransaction } from '../engine/apply.ts';
import { recordSecurity } from './audit.ts';
import type { CookiePolicy } from './guard.ts';
import { addressOf, answer, clearSessionCookie, principalOf, setSessionCookie, userView } from './http.ts';
import type { Identity } from './identity.ts';
import { OIDC_START } from './oidc.ts';
import { ROLES } from './roles.ts';
import { viewOf } from './users.ts';

/**
 * Sign-in and the session: POST /api/auth/login (local accounts), POST /api/auth/logout,
 * GET /api/auth/me, GET /api/auth/methods, POST /api/auth/password, and POST /api/setup/first-admin. Sign-in and setup are the only public
 * `/api/` routes; both are rate-limited per client address, and sign-in locks an account after
 * `identity.signIn.maxFailures` wrong passwords.
 */

export interface IdentityRouteDeps {
  http: App;
  identity: Identity;
  cookie: CookiePolicy;
  now(): number;
}

const tags = ['auth'];
const FAILED = 'sign-in failed: the name or password is wrong, or the account is locked or disabled';

export function registerAuthRoutes(d: IdentityRouteDeps): void {
  const { http, identity } = d;
  const limited = { max: identity.config.signIn.perAddressPerMinute, timeWindow: 60_000 };

  http.post(
    '/api/auth/login',
    {
      config: { role: 'public', rateLimit: limited },
      schema: {
        tags,
        summary: 'Sign in with a local account; sets the session cookie',
        body: z.object({ name: z.string().min(1).max(128), password: z.string().min(1).max(1024) }).strict(),
        response: { 200: z.object({ user: userView, csrfToken: z.string(), expiresAt: z.string() }) },
      },
    },
    async (req, reply) => {
      const r = await identity.users.signIn(req.body.name, req.body.password, addressOf(req));
      if (!r.ok) throw new HttpProblem(401, 'signin_failed', FAILED);
      // A fresh session id at every sign-in (no fixation); the one the browser had ends.
      const old = req.cookies[d.cookie.name];
      if (old) await identity.sessions.close(old);
      const opened = await identity.sessions.open(r.user.id);
      setSessionCookie(reply, d.cookie, opened);
      return {
        user: viewOf(r.user, d.now()),
        csrfToken: opened.csrf,
        expiresAt: new Date(opened.expiresAt).toISOString(),
      };
    },
  );

  http.get(
    '/api/auth/methods',
    {
      config: { role: 'public' },
      schema: {
        tags,
        summary: 'How to sign in here (the console asks before showing its sign-in page)',
        response: {
          200: z.object({
            local: z.boolean(),
            oidc: z.object({ displayName: z.string(), startUrl: z.string() }).optional(),
            setupRequired: z.boolean().describe('no user exists yet: create the first admin with the setup token'),
          }),
        },
      },
    },
    async () => {
      const oidc = identity.config.oidc;
      return {
        local: true,
        ...(oidc ? { oidc: { displayName: oidc.displayName, startUrl: OIDC_START } } : {}),
        setupRequired: (await identity.users.count()) === 0,
      };
    },
  );

  http.post(
    '/api/auth/logout',
    {
      config: { role: 'authenticated', selfAudited: true },
      schema: {
        tags,
        summary: 'End the browser session (API tokens are revoked with DELETE /api/tokens/{id})',
        response: { 200: z.object({ signedOut: z.boolean() }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      if (!p.session) return { signedOut: false };
      const cookie = req.cookies[d.cookie.name];
      if (cookie) await identity.sessions.close(cookie);
      clearSessionCookie(reply, d.cookie);
      await inTransaction(identity.db, (trx) =>
        recordSecurity(d.identity.keys, trx, d.now(), p.actor, p.actor, 'signout', { from: addressOf(req) }),
      );
      return { signedOut: true };
    },
  );

  http.get(
    '/api/auth/me',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'Who is calling: name, roles, and the CSRF token a browser session sends back',
        response: {
          200: z.object({
            actor: z.string(),
            kind: z.enum(['user', 'token']),
            name: z.string(),
            displayName: z.string().optional(),
            roles: z.array(z.enum(ROLES)),
            via: z.enum(['session', 'token']),
            csrfToken: z.string().optional(),
            expiresAt: z.string().optional(),
          }),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const user = p.userId ? await identity.users.get(p.userId) : undefined;
      return {
        actor: p.actor,
        kind: p.kind,
        name: p.name,
        ...(user ? { displayName: user.display_name } : {}),
        roles: p.roles,
        via: p.via,
        ...(p.session ? { csrfToken: p.session.csrf } : {}),
        ...(p.expiresAt ? { expiresAt: new Date(p.expiresAt).toISOString() } : {}),
      };
    },
  );

  http.post(
    '/api/auth/password',
    {
      config: { role: 'authenticated', selfAudited: true },
      schema: {
        tags,
        summary: 'Change your own password (local accounts, signed in); ends your other sessions',
        body: z.object({ current: z.string().min(1).max(1024), password: z.string().min(1).max(1024) }).strict(),
        response: { 200: z.object({ csrfToken: z.string(), expiresAt: z.string() }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const user = p.session && p.userId ? await identity.users.get(p.userId) : undefined;
      if (!user || user.source !== 'local')
        throw new HttpProblem(400, 'invalid', 'sign in with a local account (not a token) to change its password');
      // The current password is checked like a sign-in: wrong ones count towards the lockout.
      const checked = await identity.users.signIn(user.name, req.body.current, addressOf(req));
      if (!checked.ok) throw new HttpProblem(401, 'signin_failed', FAILED);
      await answer(() => identity.users.update(user.id, { password: req.body.password }, p.actor));
      const opened = await identity.sessions.open(user.id);
      setSessionCookie(reply, d.cookie, opened);
      return { csrfToken: opened.csrf, expiresAt: new Date(opened.expiresAt).toISOString() };
    },
  );

  http.post(
    '/api/setup/first-admin',
    {
      config: { role: 'public', rateLimit: limited },
      schema: {
        tags: ['setup'],
        summary: 'Create the first admin with the one-time setup token printed at the first start',
        body: z
          .object({
            token: z.string().min(1).max(200),
            name: z.string().min(1).max(128),
            password: z.string().min(1).max(1024),
            displayName: z.string().min(1).max(200).optional(),
          })
          .strict(),
        response: { 201: z.object({ user: userView }) },
      },
    },
    async (req, reply) => {
      const { token, ...admin } = req.body;
      const user = await answer(() => identity.firstAdmin.redeem(token, admin, addressOf(req)));
      return reply.code(201).send({ user });
    },
  );
}
