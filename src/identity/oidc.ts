import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import { resolveSecret } from '../config/secrets.ts';
import { inTransaction } from '../engine/apply.ts';
import { HttpProblem } from '../http/server.ts';
import { recordSecurity } from './audit.ts';
import type { IdentityRouteDeps } from './auth-routes.ts';
import type { OidcConfig } from './config.ts';
import { sameSecret, sha256 } from './credentials.ts';
import { addressOf, setSessionCookie } from './http.ts';
import { isRole, type Role } from './roles.ts';

/**
 * Sign-in with Microsoft Entra ID: OpenID Connect authorization code flow with PKCE (S256),
 * through openid-client. `/auth/oidc/start` remembers state, nonce and the PKCE verifier (table
 * `identity_oidc_flow`, keyed by the state's hash) and binds the state to the browser with a
 * short-lived cookie; `/auth/oidc/callback` checks both, redeems the code, checks the ID token
 * (signature, issuer, audience, nonce, tenant), maps the user's groups to roles and opens a session.
 */

export const OIDC_START = '/auth/oidc/start';
export const OIDC_CALLBACK = '/auth/oidc/callback';
const FLOW_COOKIE = 'tl_oidc';
const FLOW_TTL_MS = 10 * 60_000;
/** Only a path on this server: `/x`, never `//host` or `/\host` (no open redirect). */
const LOCAL_PATH = /^\/(?![/\\])[^\\\s]*$/;

export interface OidcDeps extends IdentityRouteDeps {
  oidc: OidcConfig;
  publicUrl?: string;
  /** Listening on a loopback address: coming back to it is right (local use, the demo). */
  loopback: boolean;
  log: Logger;
}

/** Roles from the user's groups, by the configured mapping. */
export function rolesFromGroups(groups: readonly string[], mapping: Record<string, readonly Role[]>): Role[] {
  // Object ids compare case-insensitively (the portal shows them lower case; configurations vary).
  const byId = new Map(Object.entries(mapping).map(([id, roles]) => [id.toLowerCase(), roles]));
  const wanted = groups.flatMap((g) => byId.get(g.toLowerCase()) ?? []);
  return [...new Set(wanted.filter(isRole))];
}

export function registerOidcRoutes(d: OidcDeps): void {
  const { http, identity, oidc } = d;
  const agent = oidc.caFile ? new Agent({ connect: { ca: readFileSync(oidc.caFile) } }) : undefined;
  http.addHook('onClose', async () => agent?.close());
  const viaAgent: client.CustomFetch = (url, options) =>
    undiciFetch(url, { ...(options as object), dispatcher: agent }) as unknown as Promise<Response>;

  let configuration: Promise<client.Configuration> | undefined;
  const discover = () =>
    (configuration ??= (async () => {
      const issuer = new URL(oidc.issuer ?? `${oidc.authorityHost}/${oidc.tenantId}/v2.0`);
      const secret = resolveSecret(oidc.clientSecret).reveal();
      const found = await client.discovery(issuer, oidc.clientId, undefined, client.ClientSecretPost(secret), {
        ...(agent ? { [client.customFetch]: viaAgent } : {}),
        timeout: 15,
      });
      // Check the ID token's signature too, although it came straight from the token endpoint over TLS.
      client.enableNonRepudiationChecks(found);
      return found;
    })().catch((e) => {
      configuration = undefined; // the next sign-in tries again
      throw e;
    }));

  const redirectUri = (): string => {
    if (oidc.redirectUri) return oidc.redirectUri;
    if (d.publicUrl) return `${d.publicUrl}${OIDC_CALLBACK}`;
    const a = http.server.address();
    const host = typeof a === 'object' && a ? (a.family === 'IPv6' ? `[${a.address}]` : a.address) : '127.0.0.1';
    return `http://${host}:${typeof a === 'object' && a ? a.port : 80}${OIDC_CALLBACK}`;
  };
  const secureCookie = d.cookie.secure;

  async function refuse(req: FastifyRequest, status: number, code: string, reason: string): Promise<never> {
    await inTransaction(identity.db, (trx) =>
      recordSecurity(d.identity.keys, trx, d.now(), 'anonymous', 'signin:oidc', 'signin.failed', {
        method: 'oidc',
        reason,
        from: addressOf(req),
      }),
    );
    throw new HttpProblem(status, code, `sign-in with ${oidc.displayName} failed: ${reason}`);
  }

  // Both are anonymous and write a row or an audit entry: limited per address like password sign-in.
  const limited = { max: identity.config.signIn.perAddressPerMinute, timeWindow: 60_000 };
  if (!oidc.redirectUri && !d.publicUrl && !d.loopback)
    d.log.warn(
      `identity.oidc: set server.publicUrl (or identity.oidc.redirectUri): without it the sign-in comes back to the address Ticketloop listens on (${OIDC_CALLBACK})`,
    );

  http.get(
    OIDC_START,
    {
      config: { role: 'public', rateLimit: limited },
      schema: {
        tags: ['auth'],
        summary: `Sign in with ${oidc.displayName}: redirects to the identity provider`,
        querystring: z.object({ returnTo: z.string().max(2000).optional() }),
      },
    },
    async (req, reply) => {
      let cfg: client.Configuration;
      try {
        cfg = await discover();
      } catch (e) {
        d.log.warn({ err: (e as Error).message }, 'OpenID provider metadata unavailable');
        throw new HttpProblem(502, 'idp_unavailable', `${oidc.displayName} cannot be reached; try again shortly`);
      }
      const state = client.randomState();
      const nonce = client.randomNonce();
      const verifier = client.randomPKCECodeVerifier();
      const returnTo = req.query.returnTo && LOCAL_PATH.test(req.query.returnTo) ? req.query.returnTo : '/';
      const now = d.now();
      await inTransaction(identity.db, async (trx) => {
        await trx.deleteFrom('identity_oidc_flow').where('expires_at', '<=', now).execute();
        await trx
          .insertInto('identity_oidc_flow')
          .values({ state_hash: sha256(state), nonce, verifier, return_to: returnTo, expires_at: now + FLOW_TTL_MS })
          .execute();
      });
      reply.setCookie(FLOW_COOKIE, state, {
        httpOnly: true,
        secure: secureCookie,
        sameSite: 'lax',
        path: '/auth/oidc',
        maxAge: FLOW_TTL_MS / 1000,
      });
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: redirectUri(),
        scope: 'openid profile email',
        response_mode: 'query',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      return reply.redirect(url.href, 302);
    },
  );

  http.get(
    OIDC_CALLBACK,
    {
      config: { role: 'public', rateLimit: limited },
      schema: {
        tags: ['auth'],
        summary: `Where ${oidc.displayName} sends the browser back; opens the session`,
        querystring: z
          .object({
            code: z.string().max(8192).optional(),
            state: z.string().max(512).optional(),
            error: z.string().max(200).optional(),
            error_description: z.string().max(2000).optional(),
          })
          .loose(),
      },
    },
    async (req, reply) => {
      const q = req.query;
      if (q.error) return refuse(req, 401, 'oidc_denied', `${q.error}: ${(q.error_description ?? '').slice(0, 300)}`);
      const bound = req.cookies[FLOW_COOKIE];
      reply.clearCookie(FLOW_COOKIE, { path: '/auth/oidc', httpOnly: true, secure: secureCookie, sameSite: 'lax' });
      if (!q.state || !q.code || !bound || !sameSecret(q.state, bound))
        return refuse(req, 400, 'oidc_state', 'the sign-in did not start in this browser (state or cookie missing)');
      const flow = await identity.db
        .deleteFrom('identity_oidc_flow')
        .where('state_hash', '=', sha256(q.state))
        .returningAll()
        .executeTakeFirst();
      if (!flow || Number(flow.expires_at) <= d.now())
        return refuse(req, 400, 'oidc_state', 'the sign-in expired or was already completed; start again');

      let claims: Record<string, unknown>;
      try {
        const cfg = await discover();
        const current = new URL(redirectUri());
        current.search = new URL(req.url, 'http://callback').search;
        const tokens = await client.authorizationCodeGrant(cfg, current, {
          pkceCodeVerifier: flow.verifier,
          expectedState: q.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
        claims = (tokens.claims() ?? {}) as Record<string, unknown>;
      } catch (e) {
        d.log.warn({ err: (e as Error).message }, 'OpenID sign-in: code redemption or ID token check failed');
        return refuse(req, 401, 'oidc_failed', (e as Error).message.slice(0, 300));
      }
      const tid = String(claims.tid ?? '');
      if (!oidc.issuer && tid.toLowerCase() !== oidc.tenantId.toLowerCase())
        return refuse(req, 401, 'oidc_failed', `the ID token is from tenant ${tid}, not ${oidc.tenantId}`);
      if (typeof claims.oid !== 'string') return refuse(req, 401, 'oidc_failed', 'the ID token has no oid');
      // Over 200 groups, Entra sends a pointer to Graph instead of the list (the "groups overage").
      if ((claims._claim_names as Record<string, unknown> | undefined)?.groups)
        return refuse(req, 403, 'oidc_groups', 'the user is in too many groups for the token; use fewer or app roles');
      const groups = Array.isArray(claims.groups) ? claims.groups.map(String) : [];
      const name = String(claims.preferred_username ?? claims.email ?? '');
      const r = await identity.users.signInOidc(
        {
          subject: `oidc:${tid}:${claims.oid}`,
          name,
          displayName: String(claims.name ?? name),
          roles: rolesFromGroups(groups, oidc.groups),
          groups: groups.length,
        },
        addressOf(req),
      );
      if (!r.ok)
        throw new HttpProblem(403, 'signin_refused', `${name || 'this account'} has no Ticketloop role or is disabled`);
      const old = req.cookies[d.cookie.name];
      if (old) await identity.sessions.close(old);
      setSessionCookie(reply, d.cookie, await identity.sessions.open(r.user.id));
      return reply.redirect(flow.return_to, 302);
    },
  );
}
