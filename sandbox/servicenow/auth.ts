import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import type { DocStore } from '../shared/persist.ts';
import { SnError, type Actor } from './records.ts';
import type { Roles } from './roles.ts';
import { DEMO } from './seed.ts';
import type { Settings } from './settings.ts';
import type { TableStore } from './store.ts';

interface Token {
  token: string;
  kind: 'access' | 'refresh';
  userName: string;
  clientId: string;
  expiresAt: number;
  /** The refresh token an access token was minted from (password / refresh grants). */
  refreshToken?: string;
}

/**
 * 401 body of the Table API: `{"error":{"message":"User Not Authenticated","detail":"Required to
 * provide Auth information"},"status":"failure"}`, the wording current instances use (fact sheet §1.5
 * lists it beside the older "User is not authenticated").
 */
export const notAuthenticated = () =>
  new SnError(401, 'User Not Authenticated', 'Required to provide Auth information');

/**
 * OAuth error body. Its shape is [U] in the fact sheet; real instances answer a wrong password, a
 * wrong client and a JSON body alike with 401 {"error":"server_error","error_description":"access_denied"},
 * so that is what the sandbox sends (and 400 unsupported_grant_type for an unknown grant).
 */
const oauthDenied = { error: 'server_error', error_description: 'access_denied' };

/**
 * Authentication: Basic, OAuth bearer tokens from `POST /oauth_token.do` (form bodies only),
 * and the `x-sn-apikey` header. Users come from sys_user, their roles from sys_user_has_role
 * (roles.ts); passwords and tokens are kept in the state file outside the tables (they are never
 * readable through the Table API).
 */
export class Auth {
  private readonly tokens = new Map<string, Token>();

  constructor(
    private readonly docs: DocStore,
    private readonly store: TableStore,
    private readonly clock: OffsetClock,
    private readonly settings: Settings,
    private readonly roles: Roles,
  ) {
    // Tokens survive a restart; expired ones are pruned here.
    const now = clock.now();
    docs.transaction(() => {
      for (const t of docs.list<Token>('sn_token')) {
        if (t.expiresAt > now) this.tokens.set(t.token, t);
        else docs.delete('sn_token', t.token);
      }
    });
  }

  setPassword(userName: string, password: string): void {
    this.docs.put('sn_password', userName, { password });
  }

  private checkPassword(userName: string, password: string): boolean {
    const p = this.docs.get<{ password: string }>('sn_password', userName);
    return !!p && p.password === password;
  }

  /** The actor for an active user, or undefined. */
  actorFor(userName: string): Actor | undefined {
    const u = this.store.rows('sys_user').find((r) => r.user_name === userName);
    if (!u || u.active === 'false' || u.locked_out === 'true') return undefined;
    return { userName, sysId: u.sys_id, roles: this.roles.of(u.sys_id) };
  }

  /** Who is calling; throws the 401 envelope when no valid credential is present. */
  authenticate(req: FastifyRequest): Actor {
    const h = req.headers.authorization ?? '';
    const apiKey = req.headers['x-sn-apikey'];
    if (/^basic /i.test(h)) {
      const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const user = decoded.slice(0, i);
      if (i > 0 && this.checkPassword(user, decoded.slice(i + 1))) {
        const a = this.actorFor(user);
        if (a) return a;
      }
      throw notAuthenticated();
    }
    if (/^bearer /i.test(h)) {
      const t = this.tokens.get(h.slice(7).trim());
      if (t && t.kind === 'access' && t.expiresAt > this.clock.now()) {
        const a = this.actorFor(t.userName);
        if (a) return a;
      }
      throw notAuthenticated();
    }
    if (typeof apiKey === 'string' && apiKey !== '') {
      const a = apiKey === DEMO.apiKey ? this.actorFor(DEMO.integration.username) : undefined;
      if (a) return a;
    }
    throw notAuthenticated();
  }

  private issue(
    kind: Token['kind'],
    userName: string,
    clientId: string,
    ttlSeconds: number,
    refreshToken?: string,
  ): Token {
    const t: Token = {
      token: randomBytes(64).toString('base64url'),
      kind,
      userName,
      clientId,
      expiresAt: this.clock.now() + ttlSeconds * 1000,
      refreshToken,
    };
    this.tokens.set(t.token, t);
    this.docs.put('sn_token', t.token, t);
    return t;
  }

  register(app: FastifyInstance): void {
    app.post('/oauth_token.do', async (req, reply) => {
      const ctype = String(req.headers['content-type'] ?? '');
      // The endpoint only understands form bodies; JSON "results in an unspecified error" (§1.8).
      if (!ctype.startsWith('application/x-www-form-urlencoded') || typeof req.body !== 'object' || !req.body) {
        return reply.code(401).send(oauthDenied);
      }
      const b = req.body as Record<string, string>;
      const { accessTokenTtlSeconds: ttl, refreshTokenTtlSeconds: rttl } = this.settings.value.oauth;
      const client = DEMO.oauth;
      if (!b.grant_type)
        return reply.code(400).send({ error: 'invalid_request', error_description: 'grant_type is required' });
      if (!['password', 'refresh_token', 'client_credentials'].includes(b.grant_type)) {
        return reply
          .code(400)
          .send({ error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${b.grant_type}` });
      }
      if (b.client_id !== client.clientId || b.client_secret !== client.clientSecret)
        return reply.code(401).send(oauthDenied);
      const body = (access: Token, refresh?: Token) => ({
        scope: b.scope || 'useraccount',
        token_type: 'Bearer',
        // The documented sample says 1799 for the default 1800 s lifespan.
        expires_in: Math.max(0, ttl - 1),
        ...(refresh ? { refresh_token: refresh.token } : {}),
        access_token: access.token,
      });
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      if (b.grant_type === 'password') {
        if (!b.username || !this.checkPassword(b.username, b.password ?? '') || !this.actorFor(b.username)) {
          return reply.code(401).send(oauthDenied);
        }
        const refresh = this.issue('refresh', b.username, client.clientId, rttl);
        return body(this.issue('access', b.username, client.clientId, ttl, refresh.token), refresh);
      }
      if (b.grant_type === 'refresh_token') {
        const r = this.tokens.get(b.refresh_token ?? '');
        if (
          !r ||
          r.kind !== 'refresh' ||
          r.expiresAt <= this.clock.now() ||
          r.clientId !== client.clientId ||
          !this.actorFor(r.userName)
        ) {
          return reply.code(401).send(oauthDenied);
        }
        // A new access token; the refresh token is not rotated (returned unchanged).
        return body(this.issue('access', r.userName, client.clientId, ttl, r.token), r);
      }
      // client_credentials: the token acts as the OAuth application user.
      if (this.settings.property('glide.oauth.inbound.client.credential.grant_type.enabled') === 'false') {
        return reply.code(401).send(oauthDenied);
      }
      return body(this.issue('access', DEMO.integration.username, client.clientId, ttl));
    });
  }
}
