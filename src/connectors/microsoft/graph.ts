import {
  HttpClient,
  type AuthProvider,
  type HttpResponse,
  type OutboundRecorder,
  type RequestOptions,
} from '../http.ts';

/**
 * Thin Microsoft Graph client: versioned paths, JSON bodies, `@odata.nextLink` paging. What to call
 * is each flow's business (the entitlement flow's graph-em.ts, for one). Failures are HttpErrors.
 */

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export type ApiVersion = 'v1.0' | 'beta';

export interface GraphClientOptions {
  /** `https://graph.microsoft.com`, or the sandbox's graphUrl. No version segment. */
  graphUrl: string;
  auth: AuthProvider;
  apiVersion?: ApiVersion;
  ca?: string | Buffer;
  recorder?: OutboundRecorder;
  timeoutMs?: number;
}

export interface GraphList<T> {
  value: T[];
  '@odata.nextLink'?: string;
}

export class GraphClient {
  readonly http: HttpClient;
  readonly apiVersion: ApiVersion;

  constructor(o: GraphClientOptions) {
    this.apiVersion = o.apiVersion ?? 'v1.0';
    // Only defined options: HttpClient's defaults are spread under them, so `undefined` would win.
    const optional = Object.fromEntries(
      Object.entries({ ca: o.ca, recorder: o.recorder, timeoutMs: o.timeoutMs }).filter(([, v]) => v !== undefined),
    );
    this.http = new HttpClient({ upstream: 'graph', baseUrl: o.graphUrl, auth: o.auth, ...optional });
  }

  /** `/v1.0/<path>` (or the version asked for). */
  path(path: string, version: ApiVersion = this.apiVersion): string {
    return `/${version}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  request<T>(o: RequestOptions): Promise<HttpResponse<T>> {
    return this.http.request<T>(o);
  }

  async get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return (await this.http.request<T>({ method: 'GET', path: this.path(path), query })).body;
  }

  /** Creation is not idempotent: callers look up what they create (by displayName, say) instead of retrying. */
  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.http.request<T>({ method: 'POST', path: this.path(path), json: body })).body;
  }

  /**
   * A collection page by page, following `@odata.nextLink` verbatim. `headers` go with every page
   * (`Prefer: odata.maxpagesize=…` is a per-request preference).
   */
  async *pages<T>(
    path: string,
    query?: Record<string, string | undefined>,
    headers?: Record<string, string>,
  ): AsyncGenerator<GraphList<T>> {
    let next: string | undefined = this.path(path);
    let q = query;
    while (next) {
      const page: GraphList<T> = (
        await this.http.request<GraphList<T>>({ method: 'GET', path: next, query: q, headers })
      ).body;
      yield page;
      next = page['@odata.nextLink'];
      q = undefined; // the next link carries its own query
    }
  }

  /** Every item of a collection, following `@odata.nextLink`. */
  async listAll<T>(
    path: string,
    query?: Record<string, string | undefined>,
    headers?: Record<string, string>,
  ): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages<T>(path, query, headers)) out.push(...page.value);
    return out;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
