import { sql } from 'kysely';
import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import { HttpProblem } from '../../http/server.ts';
import { jsonText } from '../../store/json.ts';
import { FLOW, type EntitlementState } from './flow.ts';

/**
 * The read API the console's entitlement pages use: items by status with paging, and one item with
 * its timeline (its audit rows) and its jobs (a dead resume is retried with POST /api/jobs/{id}/retry).
 */

const STATUSES = ['received', 'ticket_open', 'resuming', 'resumed', 'denied', 'expired', 'failed', 'closed'] as const;

const itemView = z.object({
  id: z.string(),
  integration: z.string(),
  status: z.enum(STATUSES),
  stage: z.string(),
  requestId: z.string().nullable(),
  ticket: z.object({ system: z.string(), kind: z.string(), key: z.string(), link: z.string() }).nullable(),
  receivedAt: z.string(),
  deadline: z.string().nullable(),
  reason: z.string().nullable(),
  updatedAt: z.string(),
});

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function viewOf(id: string, s: EntitlementState, updatedAt: number): z.infer<typeof itemView> {
  return {
    id,
    integration: s.integration,
    status: s.status,
    stage: s.stage,
    requestId: s.requestId ?? null,
    ticket: s.ticket ? { system: s.ticket.system, kind: s.ticket.kind, key: s.ticket.key, link: s.ticket.link } : null,
    receivedAt: new Date(s.receivedAt).toISOString(),
    deadline: iso(s.deadline),
    reason: s.reason ?? s.resume?.detail ?? null,
    updatedAt: new Date(updatedAt).toISOString(),
  };
}

export function registerItemRoutes(app: Ticketloop): void {
  const db = app.store.db;
  const status = jsonText(app.store.dialect, 'state', 'status');
  const integration = jsonText(app.store.dialect, 'state', 'integration');
  app.http.get(
    '/api/entitlement/items',
    {
      config: { role: 'read' },
      schema: {
        tags: ['entitlement'],
        summary: 'Access-request stages Ticketloop handles, newest first, by status and integration',
        querystring: z.object({
          status: z.enum(STATUSES).optional(),
          integration: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ items: z.array(itemView), total: z.number() }) },
      },
    },
    async (req) => {
      let q = db.selectFrom('flow_state').where('flow', '=', FLOW);
      if (req.query.status) q = q.where(status, '=', req.query.status);
      if (req.query.integration) q = q.where(integration, '=', req.query.integration);
      const [rows, count] = await Promise.all([
        q
          .select(['id', 'state', 'updated_at'])
          .orderBy('created_at', 'desc')
          .orderBy('id')
          .limit(req.query.limit)
          .offset(req.query.offset)
          .execute(),
        q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ]);
      return {
        items: rows.map((r) => viewOf(r.id, JSON.parse(r.state) as EntitlementState, Number(r.updated_at))),
        total: Number(count?.n ?? 0),
      };
    },
  );

  app.http.get(
    '/api/entitlement/items/:id',
    {
      config: { role: 'read' },
      schema: {
        tags: ['entitlement'],
        summary: 'One item with its timeline (audit rows, oldest first) and its jobs',
        params: z.object({ id: z.string().min(1).max(300) }),
        response: {
          200: z.object({
            item: itemView,
            timeline: z.array(
              z.object({ seq: z.number(), at: z.string(), kind: z.string(), actor: z.string(), action: z.string() }),
            ),
            jobs: z.array(
              z.object({
                id: z.string(),
                kind: z.string(),
                state: z.enum(['ready', 'running', 'done', 'dead']),
                attempts: z.number(),
                lastError: z.string().nullable(),
                runAt: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const id = req.params.id;
      // Effect jobs are keyed `<flow>:<item>:<effect>` (engine/flow.ts effectJob).
      const prefix = `${FLOW}:${id}:`;
      const row = await db
        .selectFrom('flow_state')
        .select(['state', 'updated_at'])
        .where('flow', '=', FLOW)
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) throw new HttpProblem(404, 'not_found', `no entitlement item ${id}`);
      const [audit, jobs] = await Promise.all([
        db
          .selectFrom('audit_log')
          .select(['seq', 'at', 'kind', 'actor', 'detail'])
          .where('subject', '=', `${FLOW}/${id}`)
          .orderBy('seq')
          .limit(500)
          .execute(),
        db
          .selectFrom('jobs')
          .select(['id', 'kind', 'state', 'attempts', 'last_error', 'run_at'])
          .where(sql`substr(${sql.ref('key')}, 1, ${prefix.length})`, '=', prefix)
          .orderBy('created_at')
          .execute(),
      ]);
      return {
        item: viewOf(id, JSON.parse(row.state) as EntitlementState, Number(row.updated_at)),
        timeline: audit.map((a) => {
          const detail = JSON.parse(a.detail) as { action?: string; event?: string };
          return {
            seq: Number(a.seq),
            at: new Date(Number(a.at)).toISOString(),
            kind: a.kind,
            actor: a.actor,
            action: detail.action ?? detail.event ?? a.kind,
          };
        }),
        jobs: jobs.map((j) => ({
          id: j.id,
          kind: j.kind,
          state: j.state,
          attempts: Number(j.attempts),
          lastError: j.last_error,
          runAt: new Date(Number(j.run_at)).toISOString(),
        })),
      };
    },
  );
}
