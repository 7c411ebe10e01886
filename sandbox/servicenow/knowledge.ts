import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SnContext } from './routes.ts';
import { SnError } from './records.ts';
import { SYSTEM_ACTOR } from './seed.ts';
import type { Row } from './store.ts';

/**
 * Knowledge search (m365-support.md §3):
 * - the Table API's text search on any table with text fields: `IR_AND_OR_QUERY=<text>` (also
 *   `IR_AND_QUERY`, `IR_OR_QUERY` and the older `123TEXTQUERY321=`), rows ranked by relevance with
 *   the score as `ir_query_score` (`textSearch`, called by routes.ts's list);
 * - the Knowledge Management REST API (plugin `sn_km_api`): `GET /api/sn_km_api/knowledge/articles`
 *   → `{result:{meta:{…,count,ts_query_id,status}, articles:[{link,rank,id:"kb_knowledge:<sys_id>",
 *   title,snippet,score,number,fields}]}}`. Published, active articles only.
 * The plugin can be switched off (`PUT /_sandbox/servicenow/plugins {"sn_km_api": false}`): the API
 * then answers 404 "Requested URI does not represent any resource", as an instance without it does.
 * `POST /_sandbox/servicenow/knowledge/seed` loads a few Microsoft 365 articles (idempotent).
 * The relevance score is the sandbox's own (term hits, title weighted); real instances use Zing/AI Search.
 */

const STOP = new Set(
  'a an and are as at be but by for from has have i in is it its my not of on or our since the to was we were with'.split(
    ' ',
  ),
);
const PLUGIN_PROPERTY = 'sandbox.plugin.sn_km_api';

/** Lower-case words without stop words, lightly stemmed (sending/sends/sent → send…). */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/<[^>]*>/g, ' ')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w && !STOP.has(w))
    .map(stem);
}

function stem(w: string): string {
  if (w.length > 5 && w.endsWith('ing')) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith('ed')) return w.slice(0, -2);
  if (w.length > 4 && w.endsWith('es')) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

const TITLE_FIELDS = ['short_description'];
const BODY_FIELDS = ['text', 'description', 'meta'];

/** Relevance of `row` to the terms: title hits count 3, body hits 1; `all` requires every term. */
export function relevance(row: Row, terms: string[], mode: 'and' | 'or' | 'and_or'): number {
  if (terms.length === 0) return 0;
  const title = words(TITLE_FIELDS.map((f) => row[f] ?? '').join(' '));
  const body = words(BODY_FIELDS.map((f) => row[f] ?? '').join(' '));
  let score = 0;
  let matched = 0;
  for (const t of new Set(terms)) {
    const hits = title.filter((w) => w === t).length * 3 + body.filter((w) => w === t).length;
    if (hits > 0) matched++;
    score += Math.log1p(hits);
  }
  if (matched === 0 || (mode === 'and' && matched < new Set(terms).size)) return 0;
  // AND-OR: rows with every term rank above rows with some.
  const all = matched === new Set(terms).size ? 1.5 : 1;
  return Math.round(score * all * 100) / 100;
}

export interface TextSearch {
  /** The encoded query without the text term. */
  rest: string;
  score(row: Row): number;
}

/** Pull a text-search term out of an encoded query, if it has one. */
export function textSearch(query: string): TextSearch | undefined {
  const parts = query.split('^');
  const i = parts.findIndex((p) => /^(IR_AND_OR_QUERY|IR_AND_QUERY|IR_OR_QUERY|123TEXTQUERY321)=/.test(p));
  if (i < 0) return undefined;
  const [op, ...v] = parts[i].split('=');
  const terms = words(v.join('='));
  const mode = op === 'IR_AND_QUERY' ? 'and' : op === 'IR_OR_QUERY' ? 'or' : 'and_or';
  const rest = [...parts.slice(0, i), ...parts.slice(i + 1)].filter((p) => p !== '').join('^');
  return { rest, score: (row) => relevance(row, terms, mode) };
}

const pluginOn = (ctx: SnContext) => ctx.settings.property(PLUGIN_PROPERTY) !== 'false';

function snippet(row: Row, terms: string[]): string {
  const plain = (row.text ?? '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const lower = plain.toLowerCase();
  const at = Math.max(0, Math.min(...terms.map((t) => lower.indexOf(t)).filter((n) => n >= 0), plain.length));
  const start = at >= plain.length ? 0 : Math.max(0, at - 60);
  return (start > 0 ? '…' : '') + plain.slice(start, start + 200) + (start + 200 < plain.length ? '…' : '');
}

export function registerKnowledgeApi(app: FastifyInstance, ctx: SnContext): void {
  app.get('/api/sn_km_api/knowledge/articles', async (req: FastifyRequest, reply) => {
    if (!pluginOn(ctx)) throw new SnError(404, 'Requested URI does not represent any resource', null);
    const actor = ctx.auth.authenticate(req);
    if (actor.roles.length === 0) throw new SnError(403, 'User Not Authorized', 'Failed API level ACL Validation');
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    const query = String(q.query ?? '');
    const limit = Math.min(Math.max(Number(q.limit ?? 30) || 30, 1), 100);
    const offset = Math.max(Number(q.offset ?? 0) || 0, 0);
    const fields = String(q.fields ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    const kb = String(q.kb ?? '');
    const terms = words(query);
    const ranked = ctx.store
      .rows('kb_knowledge')
      .filter((r) => r.workflow_state === 'published' && r.active !== 'false')
      .filter((r) => !kb || kb.split(',').includes(r.kb_knowledge_base))
      .map((r) => ({ r, score: query ? relevance(r, terms, 'and_or') : 1 }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || a.r.number.localeCompare(b.r.number));
    const page = ranked.slice(offset, offset + limit);
    reply.type('application/json; charset=utf-8');
    return {
      result: {
        meta: {
          start: offset,
          end: offset + page.length,
          fields: fields.join(','),
          query,
          filter: String(q.filter ?? ''),
          kb,
          language: String(q.language ?? 'en'),
          count: ranked.length,
          ts_query_id: createHash('sha1').update(`${query}|${ctx.clock.now()}`).digest('hex').slice(0, 32),
          status: { code: 200 },
        },
        articles: page.map(({ r, score }, i) => ({
          link: `?id=kb_article_view&sysparm_article=${r.number}`,
          rank: offset + i + 1,
          id: `kb_knowledge:${r.sys_id}`,
          title: r.short_description,
          snippet: snippet(r, terms),
          score,
          number: r.number,
          fields: Object.fromEntries(
            fields
              .filter((f) => f in r)
              .map((f) => [
                f,
                {
                  display_value: ctx.fmt.display('kb_knowledge', r, f),
                  name: f,
                  label: f,
                  type: 'string',
                  value: r[f],
                },
              ]),
          ),
        })),
      },
    };
  });

  app.get('/_sandbox/servicenow/plugins', async () => ({ sn_km_api: pluginOn(ctx) }));
  app.put('/_sandbox/servicenow/plugins', async (req) => {
    const b = (req.body ?? {}) as { sn_km_api?: unknown };
    if (typeof b.sn_km_api !== 'boolean') throw new SnError(400, 'Bad Request', "'sn_km_api' must be true or false");
    ctx.settings.value.properties[PLUGIN_PROPERTY] = String(b.sn_km_api);
    ctx.settings.save();
    return { sn_km_api: pluginOn(ctx) };
  });

  app.post('/_sandbox/servicenow/knowledge/seed', async () => ({ inserted: seedM365Articles(ctx) }));
}

/** Fixed sys_ids from the article number, so a second load inserts nothing. */
const fixedId = (key: string) => createHash('sha1').update(`tl-kb:${key}`).digest('hex').slice(0, 32);

const M365_ARTICLES: Array<{ number: string; short_description: string; text: string }> = [
  {
    number: 'KB0010101',
    short_description: 'Outlook not sending e-mail: messages stuck in the Outbox',
    text: '<p>If Outlook is not sending mail, check the service health page for Exchange Online first. Then restart Outlook, check Work Offline is off and clear the Outbox.</p>',
  },
  {
    number: 'KB0010102',
    short_description: 'Teams meetings: cannot join or audio drops',
    text: '<p>When users cannot join Teams meetings, check the Teams service health, sign out and back in, and clear the Teams cache.</p>',
  },
  {
    number: 'KB0010103',
    short_description: 'SharePoint site or intranet page loads slowly or not at all',
    text: '<p>For SharePoint Online sites that will not load, check service health, try another browser and check the site permissions.</p>',
  },
  {
    number: 'KB0010104',
    short_description: 'MFA prompt loops when signing in to Microsoft 365',
    text: '<p>Repeated multi-factor authentication prompts: check the Authenticator app time, re-register the method, and review Conditional Access sign-in logs.</p>',
  },
  {
    number: 'KB0010105',
    short_description: 'OneDrive sync is paused or stuck on processing changes',
    text: '<p>Reset the OneDrive client, check free disk space and make sure file paths are shorter than 400 characters.</p>',
  },
];

export function seedM365Articles(ctx: SnContext): number {
  const baseId = fixedId('base');
  let inserted = 0;
  if (!ctx.store.get('kb_knowledge_base', baseId)) {
    ctx.records.insert(
      'kb_knowledge_base',
      {
        sys_id: baseId,
        title: 'Microsoft 365',
        description: 'Microsoft 365 help for the service desk',
        active: 'true',
      },
      SYSTEM_ACTOR,
      { seeding: true },
    );
  }
  for (const a of M365_ARTICLES) {
    const sysId = fixedId(a.number);
    if (ctx.store.get('kb_knowledge', sysId)) continue;
    ctx.records.insert(
      'kb_knowledge',
      { ...a, sys_id: sysId, workflow_state: 'published', kb_knowledge_base: baseId, active: 'true' },
      SYSTEM_ACTOR,
      { seeding: true },
    );
    inserted++;
  }
  return inserted;
}
