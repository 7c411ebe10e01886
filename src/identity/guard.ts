import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { HttpProblem, type App } from '../http/server.ts';
import type { Database } from '../store/schema.ts';
import type { Kysely } from 'kysely';
import type { Clock } from '../engine/clock.ts';
import { inTransaction } from '../engine/apply.ts';
import { recordRequest, recordSecurity } from './audit.ts';
import { sameSecret } from './credentials.ts';
import type { Identity } from './identity.ts';
import type { Principal } from './principal.ts';
import { describeRequirement, isRequirement, rolesMeeting, satisfies, type Requirement } from './roles.ts';

/**
 * Access control for the HTTP server, in one place:
 *  - every `/api/` route declares `config: { role }`; one without fails at start-up (onRoute);
 *  - one onRequest hook authenticates (bearer token, else session cookie), checks the CSRF token
 *    of cookie sessions on state-changing requests, and checks the role (401 / 403);
 *  - every state-changing `/api/` request that got through is audited with its actor.
 * Nothing under `/api/` answers anonymously except the routes declared `public` (sign-in, setup).
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (src/identity/roles.ts). Required on every `/api/` route. */
    role?: Requirement;
    /** The route writes its own security audit rows; skip the generic request audit. */
    selfAudited?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CookiePolicy {
  /** `__Host-tl_session` when Secure (no Domain, Path=/, HTTPS only), else `tl_session`. */
  name: string;
  secure: boolean;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Secure cookies everywhere except plain http on a loopback address (local use, the demo, tests). */
export function cookiePolicy(server: { host: string; publicUrl?: string }): CookiePolicy {
  const url = new URL(server.publicUrl ?? `http://${server.host.includes(':') ? `[${server.host}]` : server.host}`);
  const secure = !(url.protocol === 'http:' && isLoopback(url.hostname));
  return { name: secure ? '__Host-tl_session' : 'tl_session', secure };
}

/** What /openapi.json says about a route's access: `x-required-role`, a line of description, `security`. */
export function openapiAccess(policy: CookiePolicy) {
  const securitySchemes = {
    bearerToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'An API token (`ticketloop tokens create`, POST /api/tokens).',
    },
    sessionCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: policy.name,
      description: 'The browser session from POST /api/auth/login or /auth/oidc/start.',
    },
    csrfToken: {
      type: 'apiKey',
      in: 'header',
      name: CSRF_HEADER,
      description: 'With a session cookie, state-changing requests echo `csrfToken` of GET /api/auth/me.',
    },
  };
  const describeRoute = (route: RouteOptions): Record<string, unknown> | undefined => {
    const role = route.config?.role;
    if (!isRequirement(role)) return undefined;
    const methods = [route.method].flat();
    const unsafe = methods.some((m) => !SAFE_METHODS.has(m));
    const given = (route.schema as { description?: string } | undefined)?.description;
    return {
      'x-required-role': role,
      description: [describeRequirement(role), given].filter(Boolean).join('\n\n'),
      security:
        role === 'public'
          ? []
          : [{ bearerToken: [] }, unsafe ? { sessionCookie: [], csrfToken: [] } : { sessionCookie: [] }],
    };
  };
  return { securitySchemes, describeRoute };
}

export interface GuardOptions {
  identity: Identity;
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  cookie: CookiePolicy;
}

export interface DeclaredRoute {
  method: string;
  url: string;
  role: Requirement;
}

/** The decoded path without its query (`/%61pi/jobs` is /api/jobs to the router, so to us too). */
function pathOf(req: FastifyRequest): string {
  if (req.routeOptions.url) return req.routeOptions.url;
  const raw = req.url.split('?')[0];
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Install the plugins and hooks; returns the routes declared so far and from now on. */
export async function installGuard(app: App, o: GuardOptions): Promise<DeclaredRoute[]> {
  await app.register(cookie);
  // Limits only where a route asks (`config.rateLimit`): sign-in, setup and the OpenID routes.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      new HttpProblem(429, 'rate_limited', `too many attempts from this address; retry after ${ctx.after}`),
  });
  const declared: DeclaredRoute[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    const role = route.config?.role;
    const name = `${[route.method].flat().join(',')} ${route.url}`;
    if (!isRequirement(role))
      throw new Error(`route ${name} declares no role: add config: { role } (one of src/identity/roles.ts)`);
    if ((route.schema as { hide?: boolean } | undefined)?.hide)
      throw new Error(`route ${name} is hidden: every /api/ route is documented in /openapi.json`);
    for (const method of [route.method].flat()) declared.push({ method, url: route.url, role });
  });

  const unauthorized = (message: string) =>
    new HttpProblem(401, 'unauthorized', message, [
      { path: 'headers.authorization', message: 'sign in or send a token' },
    ]);

  async function authenticate(req: FastifyRequest): Promise<Principal | undefined> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const bearer = /^Bearer +(\S+) *$/i.exec(header);
      if (!bearer) throw unauthorized('Authorization must be "Bearer <token>"');
      const p = await o.identity.fromBearer(bearer[1]);
      if (!p) throw unauthorized('the token is unknown, revoked or expired');
      return p;
    }
    const session = req.cookies[o.cookie.name];
    return session ? o.identity.fromSession(session) : undefined;
  }

  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!pathOf(req).startsWith('/api/')) return;
    const role = req.routeOptions.config?.role;
    const principal = await authenticate(req);
    req.principal = principal;
    if (role === 'public') return;
    if (!principal) throw unauthorized('sign in (POST /api/auth/login) or send Authorization: Bearer <token>');
    if (principal.session && !SAFE_METHODS.has(req.method)) {
      const given = req.headers[CSRF_HEADER];
      if (typeof given !== 'string' || !sameSecret(given, principal.session.csrf))
        throw new HttpProblem(
          403,
          'csrf',
          `a signed-in browser request that changes something must send ${CSRF_HEADER}`,
        );
    }
    // An /api/ path with no route: authenticated callers get the 404, anonymous ones learn nothing.
    if (!isRequirement(role) || satisfies(principal.roles, role)) return;
    await inTransaction(o.db, (trx) =>
      recordSecurity(
        o.identity.keys,
        trx,
        o.clock.now(),
        principal.actor,
        `api:${req.method} ${pathOf(req)}`,
        'access.denied',
        {
          need: role,
          roles: principal.roles,
          requestId: req.id,
        },
      ),
    );
    throw new HttpProblem(
      403,
      'forbidden',
      `${describeRequirement(role)} ${principal.actor} holds ${principal.roles.join(', ') || 'no role'}`,
      [{ path: 'role', message: `one of ${rolesMeeting(role).join(', ')}` }],
    );
  });

  // What the request did, with whom: one `admin` audit row per state-changing /api/ call let in,
  // written before the answer leaves (a caller that got the answer finds the row).
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const config = req.routeOptions.config;
    const p = req.principal;
    if (!p || SAFE_METHODS.has(req.method) || !isRequirement(config?.role) || config.role === 'public') return payload;
    if (config.selfAudited || reply.statusCode === 401 || reply.statusCode === 403) return payload;
    try {
      await inTransaction(o.db, (trx) =>
        recordRequest(o.identity.keys, trx, o.clock.now(), p.actor, `api:${req.method} ${pathOf(req)}`, {
          params: req.params,
          status: reply.statusCode,
          requestId: req.id,
        }),
      );
    } catch (e) {
      o.log.error({ err: e, requestId: req.id }, 'could not audit an API request');
    }
    return payload;
  });
  return declared;
}
