import { z } from 'zod';
import { csvCell } from '../../http/csv.ts';
import { HttpProblem } from '../../http/server.ts';
import { SEVERITIES, type DefenderIntegration } from './config.ts';
import type { Deps } from './effects.ts';
import { ACTIVE, FLOW, type ItemState } from './flow.ts';
import { registerIntegrationStatusRoutes } from './integration-status.ts';
import { SECRET_FIELDS } from './integrations.ts';
import { missingPeople, type PersonProblem } from './people.ts';
import type { MetadataCache } from './assessments.ts';
import { finishedStats } from './reconcile.ts';
import { registerManualRoutes } from './manual-routes.ts';
import { defenderDb } from './tables.ts';

/**
 * The Defender API: integrations (list, create, show, delete → cascade, reconcile now) and a query
 * API over assignments — one per tracked unhealthy assessment, joined with its ticket item — with
 * keyset paging and a CSV export of the same query.
 */

const STATUSES = ['open', 'ticket_open', 'resolving', 'resolved', 'closed_unhealthy', 'deleted', 'capped'] as const;

const assignment = z.object({
  integration: z.string(),
  assessmentKey: z.string(),
  resourceId: z.string(),
  severity: z.string(),
  title: z.string(),
  status: z.enum(STATUSES),
  owner: z.string().nullable(),
  dueDate: z.string().nullable(),
  overdue: z.boolean(),
  ticketNumber: z.string().nullable(),
  ticketLink: z.string().nullable(),
  ticketStatus: z.string().nullable(),
  governanceWritten: z.boolean(),
  /** Made by "Create assignment" (its owner, dates and ticket type are its own). */
  manual: z.boolean(),
});
type Assignment = z.infer<typeof assignment>;

const query = z.object({
  integration: z.string().optional(),
  /** Prefix of the resource id: a subscription, resource group or resource. */
  scope: z.string().optional(),
  severity: z.enum(SEVERITIES).optional(),
  status: z.enum(STATUSES).optional(),
  owner: z.string().optional(),
  overdue: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
});
type Query = z.infer<typeof query>;

const SCAN_CHUNK = 1000;
const MAX_SCAN = 50_000;

export interface RouteDeps extends Deps {
  meta: MetadataCache;
  activate(i: DefenderIntegration): Promise<void>;
}

/**
 * What stops the integration: people its mapping leaves out (seen in the configuration, before any
 * pass) and those the last pass found unknown in the ITSM.
 */
function problemsOf(i: DefenderIntegration, blocked: string | null): PersonProblem[] {
  const missing = missingPeople(i);
  const found = blocked ? (JSON.parse(blocked) as PersonProblem[]) : [];
  return [...missing, ...found.filter((p) => !missing.some((m) => m.field === p.field))];
}

export function registerDefenderRoutes(d: RouteDeps): void {
  const app = d.app.http;
  const db = defenderDb(d.app.store.db);
  const view = async (name: string) => {
    const e = d.integrations.entry(name);
    if (!e) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    const pass = await db
      .selectFrom('defender_pass')
      .select(['last_stats', 'blocked'])
      .where('integration', '=', name)
      .executeTakeFirst();
    return {
      name,
      source: e.source,
      config: redact(e.config),
      lastReconcile: finishedStats(pass?.last_stats ?? null),
      problems: problemsOf(e.config, pass?.blocked ?? null),
    };
  };
  const integrationView = z.object({
    name: z.string(),
    source: z.enum(['config', 'api']),
    config: z.record(z.string(), z.unknown()),
    lastReconcile: z.record(z.string(), z.unknown()).nullable(),
    /** Why reconcile is stopped (the last pass's finding): each names the mapping field and e-mail. */
    problems: z.array(
      z.object({ field: z.string(), email: z.string().nullable(), message: z.string(), fix: z.string().optional() }),
    ),
  });
  const tags = ['defender'];
  const name = z.object({ name: z.string().min(1).max(64) });

  app.get(
    '/api/defender/integrations',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'Defender integrations',
        response: { 200: z.object({ integrations: z.array(integrationView) }) },
      },
    },
    async () => ({
      integrations: await Promise.all(d.integrations.list().map((e) => view(e.config.name))),
    }),
  );

  // Says where Ticketloop connects and with which secret: an admin action (as is DELETE below).
  app.post(
    '/api/defender/integrations',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Create a Defender integration (same fields as the config file)',
        body: z.record(z.string(), z.unknown()),
        response: { 201: integrationView },
      },
    },
    async (req, reply) => {
      const i = await d.integrations.create(req.body);
      await d.activate(i);
      return reply.code(201).send(await view(i.name));
    },
  );

  app.get(
    '/api/defender/integrations/:name',
    { config: { role: 'read' }, schema: { tags, params: name, response: { 200: integrationView } } },
    async (req) => view(req.params.name),
  );

  app.delete(
    '/api/defender/integrations/:name',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Delete: removes its governance assignments and annotates its tickets',
        params: name,
        response: { 202: z.object({ deleted: z.string() }) },
      },
    },
    async (req, reply) => {
      const i = await d.integrations.remove(req.params.name);
      const run = String(d.app.clock.now());
      await d.app.engine.enqueue({
        kind: 'defender.purge',
        key: `defender-purge:${i.name}:${run}:0`,
        payload: { integration: i.name, run, round: 0 },
      });
      return reply.code(202).send({ deleted: i.name });
    },
  );

  app.post(
    '/api/defender/integrations/:name/reconcile',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Run a reconcile pass now',
        params: name,
        response: { 202: z.object({ queued: z.boolean() }) },
      },
    },
    async (req, reply) => {
      if (!d.integrations.get(req.params.name))
        throw new HttpProblem(404, 'not_found', `no defender integration named "${req.params.name}"`);
      const n = await d.app.engine.enqueue({
        kind: 'defender.reconcile',
        key: `defender-reconcile-now:${req.params.name}:${d.app.clock.now()}`,
        payload: { integration: req.params.name },
        maxAttempts: 3,
      });
      return reply.code(202).send({ queued: n > 0 });
    },
  );

  app.get(
    '/api/defender/assignments',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'Query assignments (tracked unhealthy assessments and their tickets)',
        querystring: query,
        response: { 200: z.object({ assignments: z.array(assignment), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const r = await scan(d, req.query, req.query.limit);
      return { assignments: r.out, nextCursor: r.cursor };
    },
  );

  app.get(
    '/api/defender/assignments.csv',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'The same query as CSV (all pages)',
        querystring: query.omit({ limit: true, cursor: true }),
      },
    },
    async (req, reply) => {
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="defender-assignments.csv"');
      const cols = Object.keys(assignment.shape) as (keyof Assignment)[];
      const lines = [cols.join(',')];
      let cursor: string | undefined;
      do {
        const r = await scan(d, { ...req.query, limit: 1000, cursor }, 1000);
        for (const a of r.out) lines.push(cols.map((c) => csvCell(a[c])).join(','));
        cursor = r.cursor ?? undefined;
      } while (cursor);
      return reply.send(lines.join('\r\n') + '\r\n');
    },
  );

  registerIntegrationStatusRoutes(d);
  registerManualRoutes(d);
}

/** Secrets are write-only: the view says whether one is set, never what it is. */
function redact(i: DefenderIntegration): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(i)) as Record<string, any>;
  for (const path of SECRET_FIELDS) {
    const parent = path.slice(0, -1).reduce<Record<string, any> | undefined>((o, k) => o?.[k], out);
    const key = path.at(-1)!;
    if (parent?.[key] !== undefined) parent[key] = { set: true };
  }
  return out;
}

const encodeCursor = (integration: string, id: string) => Buffer.from(`${integration}\n${id}`).toString('base64url');
function decodeCursor(c: string | undefined): { integration: string; id: string } | undefined {
  if (!c) return undefined;
  const [integration, id] = Buffer.from(c, 'base64url').toString().split('\n');
  if (integration === undefined || id === undefined)
    throw new HttpProblem(400, 'invalid_request', 'cursor is not valid');
  return { integration, id };
}

/** Keyset scan over (integration, id), filtered after the join with item state; bounded per request. */
async function scan(d: Deps, q: Query, limit: number): Promise<{ out: Assignment[]; cursor: string | null }> {
  const db = defenderDb(d.app.store.db);
  const now = d.app.clock.now();
  let after = decodeCursor(q.cursor);
  const out: Assignment[] = [];
  const scope = q.scope?.toLowerCase().replace(/\/+$/, '');
  for (let scanned = 0; scanned < MAX_SCAN;) {
    let sel = db.selectFrom('defender_assessment').selectAll().orderBy('integration').orderBy('id').limit(SCAN_CHUNK);
    if (q.integration) sel = sel.where('integration', '=', q.integration);
    if (q.severity) sel = sel.where('severity', '=', q.severity);
    if (after) {
      const a = after;
      sel = sel.where((eb) =>
        eb.or([
          eb('integration', '>', a.integration),
          eb.and([eb('integration', '=', a.integration), eb('id', '>', a.id)]),
        ]),
      );
    }
    const rows = await sel.execute();
    if (!rows.length) return { out, cursor: null };
    scanned += rows.length;
    const itemIds = [...new Set(rows.map((r) => r.item).filter((x): x is string => !!x))];
    const states = itemIds.length
      ? await db
          .selectFrom('flow_state')
          .select(['id', 'state'])
          .where('flow', '=', FLOW)
          .where('id', 'in', itemIds)
          .execute()
      : [];
    const byItem = new Map(states.map((s) => [s.id, JSON.parse(s.state) as ItemState]));
    for (const r of rows) {
      const s = r.item ? byItem.get(r.item) : undefined;
      const a: Assignment = {
        integration: r.integration,
        assessmentKey: r.name,
        resourceId: r.resource_id,
        severity: r.severity,
        title: s?.title ?? r.name,
        status: s ? s.status : 'capped',
        owner: s?.owner ?? null,
        dueDate: s ? new Date(s.dueAt).toISOString() : null,
        overdue: !!s && ACTIVE.includes(s.status) && (s.overdue || now > s.dueAt),
        ticketNumber: s?.ticket?.key ?? null,
        ticketLink: s?.ticket?.link ?? null,
        ticketStatus: s?.ticket?.status ?? null,
        governanceWritten: r.governed_ticket !== null,
        manual: !!s?.manual,
      };
      after = { integration: r.integration, id: r.id };
      if (scope && !(a.resourceId.toLowerCase() === scope || a.resourceId.toLowerCase().startsWith(`${scope}/`)))
        continue;
      if (q.status && a.status !== q.status) continue;
      if (q.owner && (a.owner ?? '').toLowerCase() !== q.owner.toLowerCase()) continue;
      if (q.overdue && String(a.overdue) !== q.overdue) continue;
      out.push(a);
      if (out.length >= limit) return { out, cursor: encodeCursor(after.integration, after.id) };
    }
    if (rows.length < SCAN_CHUNK) return { out, cursor: null };
  }
  return { out, cursor: after ? encodeCursor(after.integration, after.id) : null };
}
