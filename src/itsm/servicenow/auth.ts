import { HttpError } from '../../engine/errors.ts';
import { HttpClient, type AuthProvider, type OutboundRecorder } from '../../connectors/http.ts';
import { systemClock, type Clock } from '../../engine/clock.ts';

/**
 * ServiceNow authentication: Basic, API key (`x-sn-apikey`) and OAuth through `/oauth_token.do`
 * (form body; client_credentials, or password with refresh_token). Secrets live in private
 * fields so they never show up in logs, `JSON.stringify` or `util.inspect`.
 */

export type ServiceNowAuthConfig =
  | { type: 'basic'; username: string; password: string }
  | { type: 'apikey'; apiKey: string }
  | { type: 'oauth'; grant: 'client_credentials'; clientId: string; clientSecret: string; scope?: string }
  | {
      type: 'oauth';
      grant: 'password';
      clientId: string;
      clientSecret: string;
      username: string;
      password: string;
      scope?: string;
    };

export interface ServiceNowAuthOptions {
  baseUrl: string;
  ca?: string | Buffer;
  clock?: Clock;
  timeoutMs?: number;
  recorder?: OutboundRecorder;
}

export class BasicAuth implements AuthProvider {
  readonly #header: string;
  constructor(username: string, password: string) {
    this.#header = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  async headers(): Promise<Record<string, string>> {
    return { authorization: this.#header };
  }
  toJSON() {
    return { type: 'basic' };
  }
}

export class ApiKeyAuth implements AuthProvider {
  readonly #key: string;
  constructor(apiKey: string) {
    this.#key = apiKey;
  }
  async headers(): Promise<Record<string, string>> {
    return { 'x-sn-apikey': this.#key };
  }
  toJSON() {
    return { type: 'apikey' };
  }
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number | string;
  token_type?: string;
}

type OAuthConfig = Extract<ServiceNowAuthConfig, { type: 'oauth' }>;

/**
 * OAuth with a cached access token, refreshed once under concurrency (single flight): every
 * caller waiting for a token shares one `/oauth_token.do` request. With the password grant the
 * refresh token is tried first; if it is refused the password grant runs again.
 */
export class OAuthAuth implements AuthProvider {
  readonly #cfg: OAuthConfig;
  #access: string | undefined;
  #refresh: string | undefined;
  #renewAt = 0;
  #obtainedAt = 0;
  #inflight: Promise<string> | undefined;
  private readonly http: HttpClient;
  private readonly clock: Clock;
  /** Token endpoint calls made so far and the grant of the last one (for tests and metrics). */
  tokenRequests = 0;
  lastGrant: string | undefined;
  /** Renew this long before expiry (at most a tenth of the token's lifetime). */
  skewMs = 60_000;

  constructor(cfg: OAuthConfig, opts: ServiceNowAuthOptions) {
    this.#cfg = cfg;
    this.clock = opts.clock ?? systemClock;
    this.http = new HttpClient({
      upstream: 'servicenow-oauth',
      baseUrl: opts.baseUrl,
      ca: opts.ca,
      timeoutMs: opts.timeoutMs ?? 30_000,
      retries: 2,
      recorder: opts.recorder,
      connections: 4,
    });
  }

  async headers(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token()}` };
  }

  /**
   * Drop the cached access token after a 401. A token obtained in the last two seconds is kept:
   * a burst of requests sent with the previous token all come back 401 and must not each force
   * another token request.
   */
  invalidate(): void {
    if (this.clock.now() - this.#obtainedAt < 2_000) return;
    this.#access = undefined;
    this.#renewAt = 0;
  }

  async token(): Promise<string> {
    if (this.#access && this.clock.now() < this.#renewAt) return this.#access;
    this.#inflight ??= this.fetchToken().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  toJSON() {
    return { type: 'oauth', grant: this.#cfg.grant, clientId: this.#cfg.clientId };
  }

  private async fetchToken(): Promise<string> {
    const cfg = this.#cfg;
    const base = { client_id: cfg.clientId, client_secret: cfg.clientSecret };
    if (this.#refresh) {
      try {
        return this.accept(await this.post({ ...base, grant_type: 'refresh_token', refresh_token: this.#refresh }));
      } catch (e) {
        // A refused refresh token (expired, revoked) falls back to the grant below; other errors go up.
        if (!(e instanceof HttpError) || (e.status !== 400 && e.status !== 401)) throw e;
        this.#refresh = undefined;
      }
    }
    const scope: Record<string, string> = cfg.scope ? { scope: cfg.scope } : {};
    if (cfg.grant === 'client_credentials') {
      return this.accept(await this.post({ ...base, ...scope, grant_type: 'client_credentials' }));
    }
    return this.accept(
      await this.post({ ...base, ...scope, grant_type: 'password', username: cfg.username, password: cfg.password }),
    );
  }

  private async post(form: Record<string, string>): Promise<TokenResponse> {
    this.tokenRequests++;
    this.lastGrant = form.grant_type;
    // Token requests change nothing on the instance, so retrying them on 5xx/network is safe.
    const res = await this.http.request<TokenResponse>({ method: 'POST', path: '/oauth_token.do', form, noAuth: true });
    return res.body;
  }

  private accept(body: TokenResponse): string {
    if (!body || typeof body !== 'object' || typeof body.access_token !== 'string' || !body.access_token) {
      throw new Error('ServiceNow /oauth_token.do answered without an access_token');
    }
    const expiresIn = Number(body.expires_in ?? 1800);
    const now = this.clock.now();
    this.#access = body.access_token;
    this.#obtainedAt = now;
    const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 1800) * 1000;
    this.#renewAt = now + lifetimeMs - Math.min(this.skewMs, lifetimeMs / 10);
    if (body.refresh_token) this.#refresh = body.refresh_token;
    return body.access_token;
  }
}

export function createServiceNowAuth(
  cfg: ServiceNowAuthConfig,
  opts: ServiceNowAuthOptions,
): AuthProvider & { close?(): Promise<void> } {
  switch (cfg.type) {
    case 'basic':
      return new BasicAuth(cfg.username, cfg.password);
    case 'apikey':
      return new ApiKeyAuth(cfg.apiKey);
    case 'oauth':
      return new OAuthAuth(cfg, opts);
  }
}
