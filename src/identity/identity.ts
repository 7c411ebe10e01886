import type { Kysely } from 'kysely';
import type { Clock } from '../engine/clock.ts';
import type { Keyring } from '../store/keys.ts';
import type { Database } from '../store/schema.ts';
import type { IdentityConfig } from './config.ts';
import { sameSecret } from './credentials.ts';
import type { Principal } from './principal.ts';
import { Sessions, type ActiveSession } from './sessions.ts';
import { FirstAdmin } from './setup.ts';
import { ApiTokens } from './tokens.ts';
import { rolesOf, Users } from './users.ts';

/**
 * Identity as one object: users, sessions, API tokens and the first-admin setup, over the store
 * and the app's clock. The HTTP layer (guard.ts, routes, oidc.ts) and the CLI both use it.
 */

export interface IdentityOptions {
  db: Kysely<Database>;
  keys: Keyring;
  clock: Clock;
  config: IdentityConfig;
  /** The deprecated shared `server.apiToken`: a service token with the admin role. */
  legacyApiToken?: string;
}

/** The name the deprecated shared token acts under. */
export const LEGACY_TOKEN_NAME = 'server.apiToken';

export class Identity {
  readonly users: Users;
  readonly sessions: Sessions;
  readonly tokens: ApiTokens;
  readonly firstAdmin: FirstAdmin;
  /** Set by the first start without any user: the one-time token that creates the first admin. */
  setupToken?: string;

  readonly keys: Keyring;

  constructor(private readonly o: IdentityOptions) {
    this.keys = o.keys;
    this.users = new Users(o);
    this.sessions = new Sessions(o);
    this.tokens = new ApiTokens(o);
    this.firstAdmin = new FirstAdmin(o, this.users);
  }

  get config(): IdentityConfig {
    return this.o.config;
  }
  get db(): Kysely<Database> {
    return this.o.db;
  }
  get clock(): Clock {
    return this.o.clock;
  }

  /** The caller a bearer token stands for; undefined when it is not a live token. */
  async fromBearer(token: string): Promise<Principal | undefined> {
    if (this.o.legacyApiToken && sameSecret(token, this.o.legacyApiToken))
      return {
        actor: `token:${LEGACY_TOKEN_NAME}`,
        kind: 'token',
        name: LEGACY_TOKEN_NAME,
        roles: ['admin'],
        via: 'token',
        tokenKind: 'legacy',
      };
    return this.tokens.resolve(token);
  }

  /** The signed-in user a session cookie stands for, if the session is live. */
  async fromSession(cookie: string): Promise<Principal | undefined> {
    const s = await this.sessions.resolve(cookie);
    return s ? sessionPrincipal(s) : undefined;
  }
}

export function sessionPrincipal(s: ActiveSession): Principal {
  return {
    actor: `user:${s.user.name}`,
    kind: 'user',
    name: s.user.name,
    roles: rolesOf(s.user.roles),
    via: 'session',
    userId: s.user.id,
    session: { id: s.id, csrf: s.csrf },
  };
}
