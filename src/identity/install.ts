import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { resolveSecret } from '../config/secrets.ts';
import type { Clock } from '../engine/clock.ts';
import type { App } from '../http/server.ts';
import type { Keyring } from '../store/keys.ts';
import type { Database } from '../store/schema.ts';
import { registerAdminIdentityRoutes } from './admin-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { cookiePolicy, installGuard, isLoopback, type DeclaredRoute } from './guard.ts';
import { Identity } from './identity.ts';
import { registerOidcRoutes } from './oidc.ts';

/**
 * Wire identity into the HTTP server before any other route: the access-control hooks, then the
 * sign-in, session, user and token routes, and the OpenID routes when `identity.oidc` is set.
 */

export interface InstalledIdentity {
  identity: Identity;
  /** Every `/api/` route with its declared role, in registration order. */
  routes: DeclaredRoute[];
}

export async function installIdentity(o: {
  http: App;
  db: Kysely<Database>;
  keys: Keyring;
  clock: Clock;
  log: Logger;
  config: Config;
}): Promise<InstalledIdentity> {
  const legacy = o.config.server.apiToken ? resolveSecret(o.config.server.apiToken).reveal() : undefined;
  if (legacy)
    o.log.warn(
      'server.apiToken is deprecated: it acts as an admin service token "server.apiToken"; create named, expiring tokens with `ticketloop tokens create <name> --role …` and remove it',
    );
  const identity = new Identity({
    db: o.db,
    keys: o.keys,
    clock: o.clock,
    config: o.config.identity,
    legacyApiToken: legacy,
  });
  const cookie = cookiePolicy(o.config.server);
  const routes = await installGuard(o.http, { identity, db: o.db, clock: o.clock, log: o.log, cookie });
  const deps = { http: o.http, identity, cookie, now: () => o.clock.now() };
  registerAuthRoutes(deps);
  registerAdminIdentityRoutes(deps);
  if (o.config.identity.oidc)
    registerOidcRoutes({
      ...deps,
      oidc: o.config.identity.oidc,
      publicUrl: o.config.server.publicUrl,
      loopback: isLoopback(o.config.server.host),
      log: o.log,
    });
  return { identity, routes };
}

/**
 * At start: with no user yet, issue the one-time setup token and say how to use it (a warning in
 * the log; `ticketloop start` prints it on stdout too). Returns the text, or undefined.
 */
export async function announceSetup(identity: Identity, url: string): Promise<string | undefined> {
  const token = await identity.firstAdmin.issue();
  identity.setupToken = token;
  if (!token) return undefined;
  const body = JSON.stringify({ token, name: 'admin', password: '<a password of 12+ characters>' });
  return [
    'No user exists yet. Create the first admin within 24 hours with this one-time setup token:',
    `  curl -X POST ${url}/api/setup/first-admin -H 'content-type: application/json' -d '${body}'`,
    'or on this host: ticketloop users add <name> --role admin',
  ].join('\n');
}
