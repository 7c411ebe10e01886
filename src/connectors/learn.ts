import { HttpClient, type OutboundRecorder } from './http.ts';

/**
 * Microsoft's public help articles, behind a small port so another source (the Learn MCP server,
 * `https://learn.microsoft.com/api/mcp`) can stand in later (m365-support.md §2.3). This adapter
 * calls Learn's search, `GET {base}/api/search?search=<q>&locale=en-us&$top=<n>` → `results[{title,
 * url,description}]` — undocumented, hence the port and a cache: answers are kept for `cacheTtlMs`
 * (identical concurrent searches share one call); failures are not cached. Every field read is
 * bounded, and only http(s) links are passed on.
 */

export interface HelpArticle {
  title: string;
  url: string;
  description: string;
  source: 'learn';
}

export interface HelpSearchPort {
  searchArticles(query: string, o?: { limit?: number; locale?: string }): Promise<HelpArticle[]>;
}

export interface LearnSearchOptions {
  /** `https://learn.microsoft.com` in production; the Microsoft sandbox's baseUrl in tests. */
  baseUrl?: string;
  ca?: string | Buffer;
  timeoutMs?: number;
  recorder?: OutboundRecorder;
  /** Default 1 hour. */
  cacheTtlMs?: number;
  /** Most queries kept (oldest dropped first); default 500. */
  cacheSize?: number;
  now?: () => number;
}

const MAX = { title: 300, url: 2048, description: 500, query: 300 };
const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 25;
const LOCALE = /^[a-z]{2}(-[a-z0-9]{2,4})?$/;

const cut = (v: unknown, max: number) => {
  if (typeof v !== 'string') return '';
  const t = v.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
};

export class LearnSearch implements HelpSearchPort {
  readonly http: HttpClient;
  private readonly cache = new Map<string, { at: number; value: Promise<HelpArticle[]> }>();
  private readonly ttl: number;
  private readonly size: number;
  private readonly now: () => number;

  constructor(o: LearnSearchOptions = {}) {
    this.http = new HttpClient({
      upstream: 'learn',
      baseUrl: o.baseUrl ?? 'https://learn.microsoft.com',
      ca: o.ca,
      timeoutMs: o.timeoutMs ?? 10_000,
      recorder: o.recorder,
    });
    this.ttl = o.cacheTtlMs ?? 3_600_000;
    this.size = o.cacheSize ?? 500;
    this.now = o.now ?? Date.now;
  }

  async searchArticles(query: string, o: { limit?: number; locale?: string } = {}): Promise<HelpArticle[]> {
    const search = query
      .replace(/\p{Cc}/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, MAX.query);
    if (!search) return [];
    const locale = (o.locale ?? 'en-us').toLowerCase();
    if (!LOCALE.test(locale)) throw new Error(`locale ${JSON.stringify(o.locale)} is not a locale such as en-us`);
    const limit = Math.min(Math.max(Math.floor(o.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
    const key = `${locale}|${limit}|${search.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttl) return hit.value;
    const value = this.fetch(search, locale, limit);
    this.cache.delete(key);
    this.cache.set(key, { at: this.now(), value });
    while (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    return value;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async fetch(search: string, locale: string, limit: number): Promise<HelpArticle[]> {
    const r = await this.http.request<{ results?: unknown }>({
      method: 'GET',
      path: '/api/search',
      query: { search, locale, $top: limit },
      headers: { accept: 'application/json' },
    });
    const results = Array.isArray(r.body?.results) ? r.body.results : [];
    const out: HelpArticle[] = [];
    for (const v of results.slice(0, limit) as Array<Record<string, unknown>>) {
      const url = this.link(v?.url);
      const title = cut(v?.title, MAX.title);
      if (url && title) out.push({ title, url, description: cut(v?.description, MAX.description), source: 'learn' });
    }
    return out;
  }

  /** An absolute http(s) link (relative ones resolved on the base), else undefined. */
  private link(v: unknown): string | undefined {
    if (typeof v !== 'string' || v.length > MAX.url) return undefined;
    try {
      const u = new URL(v, this.http.baseUrl);
      return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
    } catch {
      return undefined;
    }
  }
}
