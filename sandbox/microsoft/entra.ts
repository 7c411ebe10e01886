import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { DocStore } from '../shared/persist.ts';
import type { OffsetClock } from '../shared/clock.ts';
import { certThumbprint, type SigningKey } from './keys.ts';
import {
  ARM_RESOURCE,
  EM_READWRITE,
  SERVICE_COMMUNICATIONS_READ,
  GRAPH_APP_ID,
  GRAPH_RESOURCE,
  TENANT_DOMAIN,
  TICKETLOOP_APP,
  TICKETLOOP_REDIRECT_URIS,
} from './constants.ts';

/**
 * The sandbox's Entra ID: app registrations, token issuance and token validation. HTTP routes
 * live in entra-routes.ts; sibling sandboxes (ARM) call issueToken/verifyAccessToken in-process.
 */

export interface EntraApp {
  clientId: string;
  displayName: string;
  /** Object id of the app's service principal: the `oid`/`sub` of its app-only tokens. */
  oid: string;
  secretHashes: string[];
  certificates: { pem: string; x5t: string; x5tS256: string }[];
  /** Microsoft Graph application permissions (go into Graph tokens' `roles`). */
  roles: string[];
  /** App roles granted on other resources, keyed by resource (app id or URI). */
  appRoles: Record<string, string[]>;
  /** When this app is itself a resource: 1 → v1 tokens (aud as requested, sts.windows.net issuer), 2 → v2. */
  accessTokenAcceptedVersion: 1 | 2;
  identifierUris: string[];
  /** Where authorization codes may be sent (sign-in); a loopback URI matches any port. */
  redirectUris?: string[];
  createdAt: string;
}

export interface RegisterAppInput {
  clientId?: string;
  clientSecret?: string;
  certificatePem?: string;
  roles?: string[];
  appRoles?: Record<string, string[]>;
  displayName?: string;
  accessTokenAcceptedVersion?: 1 | 2;
  identifierUris?: string[];
  redirectUris?: string[];
}

export interface IssueTokenOptions {
  /** The calling client's app id (`appid` / `azp`). */
  clientId: string;
  /** Resource (aud) exactly as it should appear in the token. */
  audience: string;
  version?: 1 | 2;
  roles?: string[];
  /** Caller's service principal object id; defaults to the registered app's, else a stable derived GUID. */
  oid?: string;
  /** 0 public client, 1 secret, 2 certificate. */
  acr?: '0' | '1' | '2';
  lifetimeSec?: number;
  /** Extra or overriding claims (tests use this to forge tokens). */
  claims?: Record<string, unknown>;
}

export interface ResolvedResource {
  aud: string;
  version: 1 | 2;
  roles: string[];
}

const APPS = 'entra-apps';
const hash = (s: string) => createHash('sha256').update(s).digest();

/** A stable GUID-shaped id derived from a string (for principals we don't store). */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Entra {
  /** Set once the server listens (https://localhost:PORT). */
  authorityHost = '';
  private readonly usedAssertionIds = new Map<string, number>();

  constructor(
    private readonly store: DocStore,
    readonly keys: SigningKey[],
    readonly clock: OffsetClock,
    readonly tenantId: string,
  ) {
    const ticketloop = store.get<EntraApp>(APPS, TICKETLOOP_APP.clientId);
    if (!ticketloop) {
      this.registerApp({
        clientId: TICKETLOOP_APP.clientId,
        clientSecret: TICKETLOOP_APP.clientSecret,
        displayName: TICKETLOOP_APP.displayName,
        roles: [EM_READWRITE, ...SERVICE_COMMUNICATIONS_READ],
        redirectUris: TICKETLOOP_REDIRECT_URIS,
      });
    } else if (!ticketloop.redirectUris) {
      // A sandbox created before sign-in existed.
      store.put(APPS, ticketloop.clientId, { ...ticketloop, redirectUris: TICKETLOOP_REDIRECT_URIS });
    }
  }

  // ---- issuers -------------------------------------------------------------------------------

  /** v1 issuer, identical to the real service's. */
  get issuerV1(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }
  /**
   * v2 issuer. The real one is `https://login.microsoftonline.com/{tid}/v2.0`; the sandbox uses its
   * own authority host so that discovery (`issuer` in the metadata) is self-consistent.
   */
  get issuerV2(): string {
    return `${this.authorityHost}/${this.tenantId}/v2.0`;
  }
  knowsTenant(t: string): boolean {
    return t.toLowerCase() === this.tenantId || t.toLowerCase() === TENANT_DOMAIN;
  }

  // ---- app registrations ---------------------------------------------------------------------

  getApp(clientId: string): EntraApp | undefined {
    return this.store.get<EntraApp>(APPS, clientId.toLowerCase());
  }
  listApps(): EntraApp[] {
    return this.store.list<EntraApp>(APPS);
  }

  /** Create an app, or add a secret/certificate/roles to an existing one. Returns the plain secret once. */
  registerApp(input: RegisterAppInput): { app: EntraApp; clientSecret?: string } {
    const clientId = (input.clientId ?? randomUUID()).toLowerCase();
    const existing = this.getApp(clientId);
    const app: EntraApp = existing ?? {
      clientId,
      displayName: input.displayName ?? `Sandbox app ${clientId.slice(0, 8)}`,
      oid: stableGuid(`sp:${clientId}`),
      secretHashes: [],
      certificates: [],
      roles: [],
      appRoles: {},
      accessTokenAcceptedVersion: 2,
      identifierUris: [`api://${clientId}`],
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    let clientSecret = input.clientSecret;
    if (!clientSecret && !input.certificatePem && !existing) clientSecret = randomBytes(24).toString('base64url');
    if (clientSecret) app.secretHashes.push(hash(clientSecret).toString('base64'));
    if (input.certificatePem) {
      app.certificates.push({
        pem: input.certificatePem,
        x5t: certThumbprint(input.certificatePem, 'sha1'),
        x5tS256: certThumbprint(input.certificatePem, 'sha256'),
      });
    }
    if (input.roles) app.roles = [...input.roles];
    if (input.appRoles) app.appRoles = { ...input.appRoles };
    if (input.displayName) app.displayName = input.displayName;
    if (input.accessTokenAcceptedVersion) app.accessTokenAcceptedVersion = input.accessTokenAcceptedVersion;
    if (input.identifierUris) app.identifierUris = input.identifierUris;
    if (input.redirectUris) app.redirectUris = input.redirectUris;
    this.store.put(APPS, clientId, app);
    return { app, clientSecret };
  }

  checkSecret(app: EntraApp, secret: string): boolean {
    const h = hash(secret);
    return app.secretHashes.some((s) => timingSafeEqual(Buffer.from(s, 'base64'), h));
  }

  /** Remember client-assertion `jti`s until they expire: Entra rejects a replayed assertion. */
  assertionReplayed(jti: string, expSec: number): boolean {
    const now = this.clock.now();
    for (const [k, exp] of this.usedAssertionIds) if (exp * 1000 < now) this.usedAssertionIds.delete(k);
    if (this.usedAssertionIds.has(jti)) return true;
    this.usedAssertionIds.set(jti, expSec);
    return false;
  }

  /**
   * What a `scope=X/.default` (v2) or `resource=X` (v1) names. Microsoft's first-party APIs
   * (Graph, ARM) accept v1 tokens; a registered app decides by its accessTokenAcceptedVersion.
   */
  resolveResource(resource: string, caller: EntraApp | undefined): ResolvedResource | undefined {
    const r = resource.replace(/\/+$/, '');
    const lower = r.toLowerCase();
    if (lower === GRAPH_RESOURCE || lower === GRAPH_APP_ID || lower === 'https://graph.microsoft.us') {
      return { aud: GRAPH_RESOURCE, version: 1, roles: caller?.roles ?? [] };
    }
    if (lower === ARM_RESOURCE || lower === 'https://management.core.windows.net') {
      return {
        aud: resource.startsWith('https://management.core') ? 'https://management.core.windows.net/' : ARM_RESOURCE,
        version: 1,
        roles: [],
      };
    }
    const target = this.listApps().find(
      (a) => a.clientId === lower || a.identifierUris.some((u) => u.toLowerCase() === lower),
    );
    if (!target) return undefined;
    const roles = caller?.appRoles[target.clientId] ?? caller?.appRoles[r] ?? [];
    // v2 tokens always carry the resource's client id; v1 tokens carry what was requested.
    return target.accessTokenAcceptedVersion === 2
      ? { aud: target.clientId, version: 2, roles }
      : { aud: r, version: 1, roles };
  }

  // ---- tokens --------------------------------------------------------------------------------

  /**
   * Sign an app-only access token. `exp` is sandbox time plus the lifetime; `iat`/`nbf` are the
   * earlier of real and sandbox time, minus 5 minutes (Entra backdates them), so a token stays
   * valid for a verifier on real time after the sandbox clock was moved on.
   */
  async issueToken(o: IssueTokenOptions): Promise<string> {
    const version = o.version ?? 1;
    const nowSec = Math.floor(this.clock.now() / 1000);
    const realSec = Math.floor(Date.now() / 1000);
    const lifetime = o.lifetimeSec ?? 3599;
    const app = this.getApp(o.clientId);
    const oid = o.oid ?? app?.oid ?? stableGuid(`sp:${o.clientId}`);
    const acr = o.acr ?? '1';
    const claims: Record<string, unknown> = {
      aud: o.audience,
      iss: version === 1 ? this.issuerV1 : this.issuerV2,
      iat: Math.min(nowSec, realSec) - 300,
      nbf: Math.min(nowSec, realSec) - 300,
      exp: nowSec + lifetime,
      aio: randomBytes(24).toString('base64url'),
      ...(version === 1 ? { appid: o.clientId, appidacr: acr } : { azp: o.clientId, azpacr: acr }),
      idp: this.issuerV1,
      idtyp: 'app',
      oid,
      rh: `0.${randomBytes(12).toString('base64url')}.`,
      ...(o.roles && o.roles.length ? { roles: o.roles } : {}),
      sub: oid,
      tid: this.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: version === 1 ? '1.0' : '2.0',
      xms_tcdt: 1700000000,
      ...o.claims,
    };
    const key = this.keys[0];
    const header =
      version === 1
        ? { alg: 'RS256', typ: 'JWT', x5t: key.x5t, kid: key.kid }
        : { alg: 'RS256', typ: 'JWT', kid: key.kid };
    return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  }

  /**
   * Validate a token this tenant issued: RS256 signature by a published key, v1 or v2 issuer of
   * this tenant, audience, tid and lifetime (sandbox time, 5 minutes skew). Throws on any failure.
   */
  async verifyAccessToken(token: string, o: { audience: string | string[] }): Promise<Record<string, unknown>> {
    const header = decodeProtectedHeader(token);
    if (header.alg !== 'RS256') throw new Error(`unsupported token algorithm ${String(header.alg)}`);
    const jwks = createLocalJWKSet({ keys: this.keys.map((k) => k.jwk) as never });
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ['RS256'],
      issuer: [this.issuerV1, this.issuerV2],
      audience: o.audience,
      currentDate: new Date(this.clock.now()),
      clockTolerance: 300,
      requiredClaims: ['exp', 'tid'],
    });
    const p = payload as JWTPayload & Record<string, unknown>;
    if (p.tid !== this.tenantId) throw new Error('token tid is not this tenant');
    if ((p.ver === '1.0') !== (p.iss === this.issuerV1)) throw new Error('token ver does not match its issuer');
    return p;
  }
}
