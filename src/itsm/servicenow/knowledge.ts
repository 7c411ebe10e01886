import { HttpError } from '../../engine/errors.ts';
import { boundText, type KnowledgeHit, type KnowledgePort } from '../port.ts';
import { str, type ServiceNowClient, type SnRecord } from './client.ts';

/**
 * Knowledge search on ServiceNow (m365-support.md §3): the Knowledge Management REST API
 * (`GET /api/sn_km_api/knowledge/articles`, plugin `sn_km_api`) when the instance has it, else the
 * Table API's text search on `kb_knowledge` (`IR_AND_OR_QUERY=<text>^workflow_state=published^
 * active=true`, ranked, score in `ir_query_score`). A 404 from the knowledge API means the plugin is
 * absent: that is remembered, and the API is tried again only after `recheckMs` (it may be activated
 * later). Every field read is bounded; links point at the article view on the instance.
 */

const KM_PATH = '/api/sn_km_api/knowledge/articles';
const MAX = { id: 64, number: 40, title: 300, snippet: 300, text: 20_000, query: 300 };
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

export interface KnowledgeOptions {
  client: ServiceNowClient;
  /** Links are built on it (default: the client's base URL). */
  instanceUrl?: string;
  now?: () => number;
  /** How long "the plugin is absent" is believed before the API is tried again (default 1 h). */
  recheckMs?: number;
}

type Json = Record<string, any>;

/** Plain text of an article body: tags and entities out, whitespace folded, bounded. */
export function plainText(html: string, max: number): string {
  const text = html
    .slice(0, MAX.text)
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
  return boundText(text, max);
}

/** A search text safe inside an encoded query: no `^` (the term separator), no control characters. */
export function searchText(query: string): string {
  return query
    .replace(/[\^\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX.query);
}

export class ServiceNowKnowledge implements KnowledgePort {
  /** Which search answered last; undefined until the first search. */
  source: 'km_api' | 'table' | undefined;
  private absentSince: number | undefined;
  private readonly instanceUrl: string;
  private readonly now: () => number;
  private readonly recheckMs: number;

  constructor(private readonly o: KnowledgeOptions) {
    this.instanceUrl = (o.instanceUrl ?? o.client.baseUrl).replace(/\/+$/, '');
    this.now = o.now ?? Date.now;
    this.recheckMs = o.recheckMs ?? 3_600_000;
  }

  async searchKnowledge(query: string, o: { limit?: number } = {}): Promise<KnowledgeHit[]> {
    const text = searchText(query);
    if (!text) return [];
    const limit = Math.min(Math.max(Math.floor(o.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
    if (this.absentSince === undefined || this.now() - this.absentSince >= this.recheckMs) {
      try {
        const hits = await this.viaKmApi(text, limit);
        this.absentSince = undefined;
        this.source = 'km_api';
        return hits;
      } catch (e) {
        if (!(e instanceof HttpError && e.status === 404)) throw e;
        this.absentSince = this.now();
      }
    }
    this.source = 'table';
    return this.viaTable(text, limit);
  }

  /** For Test setup: is the knowledge API there? (one search call; reads only) */
  async probe(): Promise<'km_api' | 'table'> {
    this.absentSince = undefined;
    await this.searchKnowledge('test', { limit: 1 });
    return this.source!;
  }

  private link(number: string): string {
    return `${this.instanceUrl}/kb_view.do?sysparm_article=${encodeURIComponent(number)}`;
  }

  private async viaKmApi(text: string, limit: number): Promise<KnowledgeHit[]> {
    const r = await this.o.client.http.request<{ result?: { articles?: unknown } }>({
      method: 'GET',
      path: KM_PATH,
      query: { query: text, limit, fields: 'short_description' },
      headers: { accept: 'application/json' },
    });
    const articles = r.body?.result?.articles;
    if (!Array.isArray(articles)) throw new Error('ServiceNow knowledge API: result.articles is not an array');
    return articles.slice(0, limit).map((a: Json) => {
      const id = typeof a.id === 'string' ? a.id.replace(/^kb_knowledge:/, '') : '';
      const number = bounded(a.number, MAX.number);
      return {
        id: bounded(id, MAX.id),
        number,
        title: bounded(a.title, MAX.title),
        snippet: plainText(typeof a.snippet === 'string' ? a.snippet : '', MAX.snippet),
        url: this.link(number),
        score: finite(a.score),
        source: 'km_api' as const,
      };
    });
  }

  private async viaTable(text: string, limit: number): Promise<KnowledgeHit[]> {
    const page = await this.o.client.list('kb_knowledge', {
      query: `IR_AND_OR_QUERY=${text}^workflow_state=published^active=true`,
      fields: ['sys_id', 'number', 'short_description', 'text', 'ir_query_score'],
      pageSize: limit,
      noCount: true,
      excludeReferenceLink: true,
    });
    return page.records.slice(0, limit).map((r: SnRecord) => {
      const number = bounded(str(r.number), MAX.number);
      return {
        id: bounded(str(r.sys_id), MAX.id),
        number,
        title: bounded(str(r.short_description), MAX.title),
        snippet: plainText(str(r.text), MAX.snippet),
        url: this.link(number),
        score: finite(str(r.ir_query_score)),
        source: 'table' as const,
      };
    });
  }
}

const bounded = (v: unknown, max: number) => (typeof v === 'string' ? boundText(v, max) : '');
const finite = (v: unknown) => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};
