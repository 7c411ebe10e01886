import type { HelpSearchPort } from '../../connectors/learn.ts';
import type { KnowledgePort } from '../../itsm/port.ts';

/**
 * Recommended solutions for a problem in words: the customer's own knowledge base first, Microsoft
 * Learn beside it, taken in turns so neither crowds the other out, one entry per URL. A source that
 * fails is named in `warnings`; the other still answers.
 */

export interface Solution {
  title: string;
  url: string;
  snippet: string;
  source: 'knowledge' | 'learn';
  /** The knowledge article's number (KB0010001). */
  number?: string;
}

/** The form URLs are compared in: no fragment, no trailing slash, lower case. */
export const normalUrl = (u: string) => u.trim().replace(/#.*$/, '').replace(/\/+$/, '').toLowerCase();

export async function recommend(
  query: string,
  o: { knowledge?: Pick<KnowledgePort, 'searchKnowledge'>; learn: HelpSearchPort; limit: number },
): Promise<{ items: Solution[]; warnings: string[] }> {
  const warnings: string[] = [];
  const failed = (what: string) => (e: unknown) => {
    warnings.push(`${what}: ${(e instanceof Error ? e.message : String(e)).slice(0, 300)}`);
    return [];
  };
  const [kb, learn] = await Promise.all([
    o.knowledge ? o.knowledge.searchKnowledge(query, { limit: o.limit }).catch(failed('knowledge base')) : [],
    o.learn.searchArticles(query, { limit: o.limit }).catch(failed('Microsoft Learn')),
  ]);
  if (!o.knowledge) warnings.push('knowledge base: the ITSM connection has no knowledge search');
  const own: Solution[] = [...kb]
    .sort((a, b) => b.score - a.score)
    .map((h) => ({ title: h.title, url: h.url, snippet: h.snippet, source: 'knowledge', number: h.number }));
  const microsoft: Solution[] = learn.map((a) => ({
    title: a.title,
    url: a.url,
    snippet: a.description,
    source: 'learn',
  }));
  const items: Solution[] = [];
  const seen = new Set<string>();
  for (let n = 0; items.length < o.limit && (n < own.length || n < microsoft.length); n++)
    for (const s of [own[n], microsoft[n]])
      if (s && items.length < o.limit && !seen.has(normalUrl(s.url))) {
        seen.add(normalUrl(s.url));
        items.push(s);
      }
  return { items, warnings };
}
