import { createHash } from 'node:crypto';
import type { Kysely, Migration } from 'kysely';
import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import type { HelpSearchPort } from '../../connectors/learn.ts';
import type { JobHandler } from '../../engine/engine.ts';
import { PermanentError } from '../../engine/errors.ts';
import { HttpProblem } from '../../http/server.ts';
import { boundText, type Ticket, type TicketRef } from '../../itsm/port.ts';
import { appendAudit } from '../../store/audit.ts';
import type { Dialect } from '../../store/db.ts';
import type { Database } from '../../store/schema.ts';
import { personOf } from '../../identity/http.ts';
import { incidentRef } from './escalation/routes.ts';
import type { M365Integration } from './config.ts';
import { normalUrl, recommend, type Solution } from './solutions.ts';

/**
 * Recommended solutions written to an incident on request: one bounded work note listing the chosen
 * articles with their links. Written once per (incident, set of URLs): the row is the record of the
 * request, inserted with its audit row and the note's job in one transaction; asking again with the
 * same articles finds the row and writes nothing.
 */

export const SOLUTION_NOTE_MAX = 4000;
/** At most this many articles in one note. */
export const SOLUTION_NOTE_ARTICLES = 10;
/** Without `urls`, the first this many recommendations. */
const DEFAULT_ARTICLES = 5;

export interface M365SolutionNoteTable {
  integration: string;
  /** The ITSM's id of the incident. */
  incident_id: string;
  /** sha256 of the sorted, normalized URLs: the set, whatever the order. */
  digest: string;
  /** JSON TicketRef. */
  incident: string;
  query: string;
  /** JSON array of the URLs, in the note's order. */
  urls: string;
  text: string;
  created_by: string;
  created_at: number;
  written_at: number | null;
}

type NotesDb = Kysely<Database & { m365_solution_notes: M365SolutionNoteTable }>;
const notesDb = (db: Kysely<Database>) => db as unknown as NotesDb;

export function m365SolutionNoteMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0015_m365_solution_notes': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('m365_solution_notes')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('incident_id', 'text', (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('incident', 'text', (c) => c.notNull())
          .addColumn('query', 'text', (c) => c.notNull())
          .addColumn('urls', 'text', (c) => c.notNull())
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('written_at', bigint)
          .addPrimaryKeyConstraint('m365_solution_notes_pk', ['integration', 'incident_id', 'digest'])
          .execute();
      },
    },
  };
}

export const digestOf = (urls: string[]) =>
  createHash('sha256')
    .update([...new Set(urls.map(normalUrl))].sort().join('\n'))
    .digest('hex');

/** The work note: the articles in order, each with its link, bounded. */
export function solutionNote(query: string, items: Solution[]): string {
  const lines = items.map((s, n) => {
    const from = s.source === 'knowledge' ? `knowledge base${s.number ? ` ${s.number}` : ''}` : 'Microsoft Learn';
    const snippet = s.snippet ? `\n   ${boundText(s.snippet.replace(/\s+/g, ' ').trim(), 240)}` : '';
    return `${n + 1}. ${boundText(s.title, 200)} (${from})\n   ${s.url}${snippet}`;
  });
  return boundText(`Recommended solutions (Ticketloop, for "${query}"):\n\n${lines.join('\n\n')}`, SOLUTION_NOTE_MAX);
}

const writeBody = z
  .object({
    integration: z.string().max(80).optional(),
    /** As in POST /api/m365/escalations: the incident's record id or its number. */
    incident: incidentRef,
    /** The search text; default: the incident's short description. */
    q: z.string().trim().min(1).max(300).optional(),
    /** The articles to write, among the recommendations for `q`; default: the first five. */
    urls: z.array(z.url('a URL from the recommended solutions')).min(1).max(SOLUTION_NOTE_ARTICLES).optional(),
  })
  .strict();

const bad = (field: string, message: string) =>
  new HttpProblem(400, 'invalid_request', `${field}: ${message}`, [{ path: `body.${field}`, message }]);

async function findIncident(app: Ticketloop, i: M365Integration, asked: { sys_id?: string; number?: string }) {
  const port = app.connections.itsm(i.itsm);
  let ticket: Ticket | undefined;
  if (asked.sys_id) ticket = await port.getTicket({ kind: 'incident', id: asked.sys_id });
  else if (!port.findByKey)
    throw bad('incident.number', `the ITSM ${i.itsm} cannot look tickets up by number: give the id`);
  else ticket = await port.findByKey('incident', asked.number!);
  if (!ticket)
    throw new HttpProblem(404, 'not_found', `no incident ${asked.sys_id ?? asked.number} in ${i.itsm}`, [
      { path: asked.sys_id ? 'body.incident.sys_id' : 'body.incident.number', message: 'not found' },
    ]);
  return ticket;
}

/** The articles to write: the ones asked for (each must be recommended for the text), or the first few. */
function chosen(found: Solution[], urls: string[] | undefined, query: string): Solution[] {
  if (!urls) return found.slice(0, DEFAULT_ARTICLES);
  const byUrl = new Map(found.map((s) => [normalUrl(s.url), s]));
  const items = urls.map((u, n) => {
    const s = byUrl.get(normalUrl(u));
    if (!s) throw bad(`urls.${n}`, `not among the recommended solutions for "${query}"`);
    return s;
  });
  return items.filter((s, n) => items.indexOf(s) === n);
}

/** `POST /api/m365/solutions/write` (role insights: the people who see the recommendations use them). */
export function registerSolutionWriteRoute(
  app: Ticketloop,
  pick: (name?: string) => M365Integration,
  learnOf: (i: M365Integration) => HelpSearchPort,
): void {
  const articleView = z.object({ title: z.string(), url: z.string() });
  const answer = z.object({
    state: z.enum(['writing', 'already-written']),
    incident: z.string(),
    articles: z.array(articleView),
  });
  app.http.post(
    '/api/m365/solutions/write',
    {
      config: { role: 'insights' },
      schema: {
        tags: ['m365'],
        summary: 'Write recommended solutions to an incident as one work note, once per incident and set of articles',
        body: writeBody,
        response: { 200: answer, 202: answer },
      },
    },
    async (req, reply) => {
      const i = pick(req.body.integration);
      const ticket = await findIncident(app, i, req.body.incident);
      const query = req.body.q ?? ticket.fields.short_description?.trim();
      if (!query) throw bad('q', 'the incident has no short description: say what to search for');
      const port = app.connections.itsm(i.itsm);
      const found = await recommend(query, { knowledge: port.knowledge, learn: learnOf(i), limit: 20 });
      const items = chosen(found.items, req.body.urls, query);
      if (!items.length)
        throw bad(
          'q',
          `no recommended solution for "${query}"${found.warnings.length ? `: ${found.warnings[0]}` : ''}`,
        );
      const articles = items.map((s) => ({ title: s.title, url: s.url }));
      const row: M365SolutionNoteTable = {
        integration: i.name,
        incident_id: ticket.ref.id,
        digest: digestOf(articles.map((a) => a.url)),
        incident: JSON.stringify(ticket.ref),
        query,
        urls: JSON.stringify(articles.map((a) => a.url)),
        text: solutionNote(query, items),
        created_by: personOf(req),
        created_at: app.clock.now(),
        written_at: null,
      };
      const inserted = await app.store.db.transaction().execute(async (trx) => {
        const r = await notesDb(trx)
          .insertInto('m365_solution_notes')
          .values(row)
          .onConflict((oc) => oc.columns(['integration', 'incident_id', 'digest']).doNothing())
          .executeTakeFirst();
        if (!Number(r.numInsertedOrUpdatedRows ?? 0)) return false;
        const detail = { action: 'solutions-written', incident: ticket.ref.key, urls: articles.map((a) => a.url) };
        await appendAudit(
          trx,
          [{ kind: 'state', actor: row.created_by, subject: `m365/solutions/${ticket.ref.key}`, detail }],
          row.created_at,
          app.store.keys,
        );
        const payload = { integration: i.name, incident: row.incident_id, digest: row.digest };
        await app.engine.enqueue(
          [
            {
              kind: 'm365.solutions-note',
              key: `m365-solutions-note:${i.name}:${row.incident_id}:${row.digest}`,
              payload,
            },
          ],
          trx,
        );
        return true;
      });
      if (inserted) app.engine.wake();
      const state = inserted ? ('writing' as const) : ('already-written' as const);
      return reply.code(inserted ? 202 : 200).send({ state, incident: ticket.ref.key, articles });
    },
  );
}

/** The job that writes the note, once: the row's `written_at` says it was. */
export function solutionNoteEffects(
  app: Ticketloop,
  integration: (name: string) => M365Integration | undefined,
): Record<string, JobHandler> {
  return {
    async 'solutions-note'(p: { integration: string; incident: string; digest: string }) {
      const db = notesDb(app.store.db);
      const row = await db
        .selectFrom('m365_solution_notes')
        .selectAll()
        .where('integration', '=', p.integration)
        .where('incident_id', '=', p.incident)
        .where('digest', '=', p.digest)
        .executeTakeFirst();
      if (!row || row.written_at !== null) return;
      const i = integration(row.integration);
      if (!i) throw new PermanentError(`m365 integration ${row.integration} is not configured`);
      await app.connections.itsm(i.itsm).addWorkNote(JSON.parse(row.incident) as TicketRef, row.text);
      await db
        .updateTable('m365_solution_notes')
        .set({ written_at: app.clock.now() })
        .where('integration', '=', p.integration)
        .where('incident_id', '=', p.incident)
        .where('digest', '=', p.digest)
        .execute();
    },
  };
}
