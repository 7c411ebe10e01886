import { createHash, X509Certificate } from 'node:crypto';
import { Agent, request } from 'undici';
import type {
  ConfidentialClientApplication,
  Configuration,
  INetworkModule,
  NetworkRequestOptions,
  NetworkResponse,
} from '@azure/msal-node';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { HttpError } from '../../engine/errors.ts';
import { HttpClient, type AuthProvider, type OutboundRecorder } from '../http.ts';
import { systemClock, type Clock } from '../../engine/clock.ts';

/**
 * Microsoft identity platform, both directions:
 *  (a) outbound: app-only tokens for Ticketloop (client credentials, secret or certificate) via
 *      MSAL, cached until shortly before expiry, exposed as an HttpClient AuthProvider;
 *  (b) inbound: validation of Entra-issued bearer tokens (the entitlement-management callout).
 * Tokens are never logged or put into error messages.
 */

/** Authority hosts MSAL knows itself; any other host (the sandbox, a proxy) is a "known authority". */
const MICROSOFT_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

function isMicrosoftHost(authorityHost: string): boolean {
  return MICROSOFT_HOSTS.has(new URL(authorityHost).host.toLowerCase());
}

/** MSAL's transport over undici, so it trusts the same extra CA as the rest of Ticketloop. */
class UndiciNetworkModule implements INetworkModule {
  constructor(
    private readonly agent: Agent,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }
  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }
  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const r = await request(url, {
      method,
      headers: options?.headers,
      body: options?.body,
      dispatcher: this.agent,
      signal: AbortSignal.timeout(timeout ?? this.timeoutMs),
    });
    const text = await r.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response', error_description: `non-JSON answer (HTTP ${r.statusCode})` };
    }
    return { headers, body: body as T, status: r.statusCode };
  }
}

export interface EntraClientOptions {
  /** `https://login.microsoftonline.com`, or the sandbox's authorityHost. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Certificate credential: the PEM certificate uploaded to the app and its private key. */
  certificate?: { certificatePem: string; privateKeyPem: string; sendX5c?: boolean };
  /** Extra CA to trust (the sandbox CA). */
  ca?: string | Buffer;
  timeoutMs?: number;
  clock?: Clock;
  /** Refresh this long before expiry (default 5 minutes). */
  refreshBeforeMs?: number;
}

/** Token acquisition failed; `retryable` says whether trying later can help (network, 5xx, 429). */
export class TokenAcquisitionError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly errorCode?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TokenAcquisitionError';
  }
}

const PERMANENT_CODES = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_resource',
  'invalid_request',
  'unsupported_grant_type',
  'invalid_grant',
]);

/** Client-credentials tokens for one app, per scope, cached and refreshed before they expire. */
export class EntraTokenSource {
  /** MSAL is loaded on the first token request: a service that never calls Microsoft does not carry it. */
  private msal: Promise<ConfidentialClientApplication> | undefined;
  private readonly msalConfig: Configuration;
  private readonly agent: Agent;
  private readonly clock: Clock;
  private readonly cache = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly forceRefresh = new Set<string>();

  constructor(private readonly o: EntraClientOptions) {
    if (!o.clientSecret && !o.certificate) throw new Error('EntraTokenSource needs a clientSecret or a certificate');
    this.clock = o.clock ?? systemClock;
    this.agent = new Agent({ connect: o.ca ? { ca: o.ca } : undefined, connections: 4 });
    const host = o.authorityHost.replace(/\/+$/, '');
    let clientCertificate;
    if (o.certificate) {
      const x509 = new X509Certificate(o.certificate.certificatePem);
      clientCertificate = {
        thumbprintSha256: createHash('sha256').update(x509.raw).digest('hex'),
        privateKey: o.certificate.privateKeyPem,
        ...(o.certificate.sendX5c ? { x5c: o.certificate.certificatePem } : {}),
      };
    }
    this.msalConfig = {
      auth: {
        clientId: o.clientId,
        authority: `${host}/${o.tenantId}`,
        // Outside Microsoft's clouds MSAL must not run instance discovery against login.microsoftonline.com.
        knownAuthorities: isMicrosoftHost(host) ? [] : [new URL(host).host],
        ...(o.clientSecret ? { clientSecret: o.clientSecret } : { clientCertificate }),
      },
      system: { networkClient: new UndiciNetworkModule(this.agent, o.timeoutMs ?? 30_000) },
    };
  }

  /** A bearer token for `scope` (e.g. `https://graph.microsoft.com/.default`). */
  async getToken(scope: string): Promise<string> {
    const hit = this.cache.get(scope);
    if (hit && hit.expiresAt - (this.o.refreshBeforeMs ?? 300_000) > this.clock.now()) return hit.token;
    let p = this.pending.get(scope);
    if (!p) {
      p = this.acquire(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, p);
    }
    return p;
  }

  /** Drop a token the resource refused (401); the next call goes to the token endpoint. */
  invalidate(scope: string): void {
    this.cache.delete(scope);
    this.forceRefresh.add(scope);
  }

  private async acquire(scope: string): Promise<string> {
    const skipCache = this.forceRefresh.delete(scope);
    try {
      this.msal ??= import('@azure/msal-node').then((m) => new m.ConfidentialClientApplication(this.msalConfig));
      const r = await (await this.msal).acquireTokenByClientCredential({ scopes: [scope], skipCache });
      if (!r?.accessToken) throw new TokenAcquisitionError(`no token returned for ${scope}`, true);
      const expiresAt = r.expiresOn ? r.expiresOn.getTime() : this.clock.now() + 3_000_000;
      this.cache.set(scope, { token: r.accessToken, expiresAt });
      return r.accessToken;
    } catch (e) {
      if (e instanceof TokenAcquisitionError) throw e;
      const err = e as { errorCode?: string; errorMessage?: string; message?: string; status?: number };
      const code = err.errorCode ?? '';
      // MSAL's message carries the AADSTS description (no secrets); keep it for the operator.
      const msg = `token for ${scope} (client ${this.o.clientId}): ${code ? `${code}: ` : ''}${err.errorMessage ?? err.message ?? String(e)}`;
      const status = typeof err.status === 'number' ? err.status : undefined;
      const retryable =
        status !== undefined && status >= 400 ? status === 429 || status >= 500 : !PERMANENT_CODES.has(code);
      throw new TokenAcquisitionError(msg, retryable, code || undefined, status);
    }
  }

  /**
   * An HttpClient AuthProvider that sends `Authorization: Bearer` for `scope`. A failed token
   * request surfaces as an HttpError of the token endpoint (HttpClient passes those up unchanged),
   * so the retry policy tells a wrong secret (permanent) from an outage (retry later).
   */
  authProvider(scope: string): AuthProvider {
    const tokenUrl = `${this.o.authorityHost.replace(/\/+$/, '')}/${this.o.tenantId}/oauth2/v2.0/token`;
    return {
      headers: async () => {
        try {
          return { authorization: `Bearer ${await this.getToken(scope)}` };
        } catch (e) {
          if (!(e instanceof TokenAcquisitionError)) throw e;
          const status = e.status ?? (e.retryable ? 0 : 400);
          throw new HttpError(
            'entra',
            'POST',
            tokenUrl,
            status,
            { error: e.errorCode ?? 'token_error', error_description: e.message },
            {},
          );
        }
      },
      invalidate: () => this.invalidate(scope),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Shorthand: one AuthProvider for one scope. */
export function createEntraAuthProvider(
  o: EntraClientOptions & { scope: string },
): AuthProvider & { source: EntraTokenSource } {
  const source = new EntraTokenSource(o);
  return { ...source.authProvider(o.scope), source };
}

// ---- inbound verification ------------------------------------------------------------------------

export type TokenRejectReason =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'unknownKey'
  | 'signature'
  | 'expired'
  | 'notYetValid'
  | 'tenant'
  | 'issuer'
  | 'audience'
  | 'appid'
  | 'keysUnavailable';

/** The bearer token was refused; `reason` is safe to log and to count, the token itself never is. */
export class TokenRejected extends Error {
  constructor(
    readonly reason: TokenRejectReason,
    message: string,
  ) {
    super(`token rejected (${reason}): ${message}`);
    this.name = 'TokenRejected';
  }
}

export interface EntraTokenVerifierOptions {
  authorityHost: string;
  tenantId: string;
  /** Accepted `aud` values (the extension's resourceId: our app id or App ID URI). */
  audiences: string[];
  /** Accepted calling apps (`appid` v1 / `azp` v2), e.g. the EM app 810dcf14-1858-4bf2-8134-4c369fa3235b. */
  allowedAppIds: string[];
  ca?: string | Buffer;
  clock?: Clock;
  /** Allowed clock skew for exp/nbf (default 120 s). */
  clockSkewSec?: number;
  recorder?: OutboundRecorder;
}

export interface EntraTokenVerifier {
  /** Validate an `Authorization` header value; resolves to the token's claims. */
  verify(authorizationHeader: string | undefined): Promise<JWTPayload & Record<string, unknown>>;
  close(): Promise<void>;
}

const KEYS_MAX_AGE_MS = 24 * 3600_000; // Entra's guidance: refresh signing keys about daily
const MIN_REFRESH_INTERVAL_MS = 60_000; // an unknown kid must not let callers hammer the JWKS endpoint

export function createEntraTokenVerifier(o: EntraTokenVerifierOptions): EntraTokenVerifier {
  if (o.audiences.length === 0 || o.allowedAppIds.length === 0)
    throw new Error('audiences and allowedAppIds must not be empty');
  const clock = o.clock ?? systemClock;
  const skew = o.clockSkewSec ?? 120;
  const host = o.authorityHost.replace(/\/+$/, '');
  const tid = o.tenantId.toLowerCase();
  // Real v2 tokens name login.microsoftonline.com; the sandbox names its own host (self-consistent discovery).
  const issuers = { '1.0': `https://sts.windows.net/${tid}/`, '2.0': `${host}/${tid}/v2.0` };
  const allowedApps = new Set(o.allowedAppIds.map((a) => a.toLowerCase()));
  const http = new HttpClient({
    upstream: 'entra-keys',
    baseUrl: host,
    retries: 2,
    timeoutMs: 10_000,
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.recorder ? { recorder: o.recorder } : {}),
  });
  let keys: JSONWebKeySet | undefined;
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined; // imported keys are cached inside it
  let fetchedAt = 0;
  let inflight: Promise<void> | undefined;

  const refresh = () =>
    (inflight ??= (async () => {
      try {
        const r = await http.request<JSONWebKeySet>({ method: 'GET', path: `/${o.tenantId}/discovery/v2.0/keys` });
        if (!Array.isArray(r.body?.keys)) throw new Error('JWKS answer has no keys');
        keys = r.body;
        keySet = createLocalJWKSet(r.body);
        fetchedAt = clock.now();
      } finally {
        inflight = undefined;
      }
    })());

  async function keySetFor(kid: string | undefined, x5t: string | undefined) {
    const has = () => keys?.keys.some((k) => (kid ? k.kid === kid : k.x5t === x5t));
    const stale = clock.now() - fetchedAt > KEYS_MAX_AGE_MS;
    if (!keys || stale || (!has() && clock.now() - fetchedAt > MIN_REFRESH_INTERVAL_MS)) {
      try {
        await refresh();
      } catch (e) {
        if (!keys)
          throw new TokenRejected('keysUnavailable', `signing keys could not be fetched: ${(e as Error).message}`);
      }
    }
    if (!has()) throw new TokenRejected('unknownKey', 'the token names a signing key this tenant does not publish');
    return keySet!;
  }

  return {
    async verify(authorizationHeader) {
      if (!authorizationHeader) throw new TokenRejected('missing', 'no Authorization header');
      const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i.exec(authorizationHeader);
      if (!m) throw new TokenRejected('malformed', 'Authorization is not a Bearer JWT');
      const token = m[1];
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw new TokenRejected('malformed', 'unreadable token header');
      }
      // Only RS256: refuses `none`, HMAC with the public key as secret, and anything unexpected.
      if (header.alg !== 'RS256') throw new TokenRejected('algorithm', `alg ${String(header.alg)} is not accepted`);
      const jwks = await keySetFor(header.kid, header.x5t as string | undefined);
      let claims: JWTPayload & Record<string, unknown>;
      try {
        const r = await jwtVerify(token, jwks, {
          algorithms: ['RS256'],
          currentDate: new Date(clock.now()),
          clockTolerance: skew,
          requiredClaims: ['exp', 'iss', 'aud', 'tid'],
        });
        claims = r.payload as JWTPayload & Record<string, unknown>;
      } catch (e) {
        if (e instanceof joseErrors.JWTExpired) throw new TokenRejected('expired', 'the token has expired');
        if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'nbf')
          throw new TokenRejected('notYetValid', 'the token is not valid yet');
        if (e instanceof joseErrors.JWSSignatureVerificationFailed)
          throw new TokenRejected('signature', 'signature verification failed');
        if (e instanceof joseErrors.JWKSNoMatchingKey)
          throw new TokenRejected('unknownKey', 'no published key matches the token');
        throw new TokenRejected('malformed', (e as Error).message);
      }
      if (String(claims.tid).toLowerCase() !== tid)
        throw new TokenRejected('tenant', 'the token was issued for another tenant');
      const ver = claims.ver === '2.0' ? '2.0' : claims.ver === '1.0' ? '1.0' : undefined;
      if (!ver || claims.iss !== issuers[ver]) throw new TokenRejected('issuer', 'unexpected issuer for this tenant');
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.some((a) => a && o.audiences.includes(a)))
        throw new TokenRejected('audience', 'the token is meant for another audience');
      const app = String((ver === '1.0' ? claims.appid : claims.azp) ?? '').toLowerCase();
      if (!allowedApps.has(app)) throw new TokenRejected('appid', 'the calling application is not allowed');
      return claims;
    },
    close: () => http.close(),
  };
}
