import { sql } from 'kysely';
import { z } from 'zod';
import { jsonText } from '../store/json.ts';
import { listJobs, retryDeadJobs } from '../engine/jobs.ts';
import type { Ticketloop } from '../app/build.ts';
import { HttpProblem } from './server.ts';

/** Operator API: jobs (list, dead letters, retry), audit verification and export. */

const jobView = z.object({
  id: z.string(),
  kind: z.string(),
  key: z.string(),
  state: z.enum(['ready', 'running', 'done', 'dead']),
  attempts: z.number(),
  maxAttempts: z.number(),
  runAt: z.string(),
  lastError: z.string().nullable(),
  updatedAt: z.string(),
});

export function registerAdminRoutes(t: Ticketloop): void {
  const app = t.http;
  app.get(
    '/api/jobs',
    {
      config: { role: 'read' },
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: z.object({
          state: z.enum(['ready', 'running', 'done', 'dead']).optional(),
          kind: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ jobs: z.array(jobView) }) },
      },
    },
    async (req) => {
      const rows = await listJobs(t.store.db, req.query);
      return {
        jobs: rows.map((j) => ({
          id: j.id,
          kind: j.kind,
          key: j.key,
          state: j.state,
          attempts: Number(j.attempts),
          maxAttempts: Number(j.max_attempts),
          runAt: new Date(Number(j.run_at)).toISOString(),
          lastError: j.last_error,
          updatedAt: new Date(Number(j.updated_at)).toISOString(),
        })),
      };
    },
  );
  app.post(
    '/api/jobs/:id/retry',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['jobs'],
        summary: 'Put a dead-lettered job back in the queue',
        params: z.object({ id: z.string().uuid() }),
        response: { 200: z.object({ retried: z.number() }) },
      },
    },
    async (req) => {
      const n = await retryDeadJobs(t.store.db, t.clock.now(), req.params.id);
      if (n === 0) throw new HttpProblem(404, 'not_found', `no dead job with id ${req.params.id}`);
      t.engine.wake();
      return { retried: n };
    },
  );
  app.post(
    '/api/jobs/retry-dead',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['jobs'],
        summary: 'Retry every dead-lettered job',
        response: { 200: z.object({ retried: z.number() }) },
      },
    },
    async () => {
      const n = await retryDeadJobs(t.store.db, t.clock.now());
      t.engine.wake();
      return { retried: n };
    },
  );
  app.get(
    '/api/sync/status',
    {
      config: { role: 'read' },
      schema: {
        tags: ['sync'],
        summary: 'What each ITSM instance last told us (push, poll or reconcile); stale when quiet too long',
        response: {
          200: z.object({
            instances: z.array(
              z.object({
                instance: z.string(),
                lastSeenAt: z.string().optional(),
                source: z.string().optional(),
                stale: z.boolean(),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ instances: t.watch.status() }),
  );
  app.get(
    '/api/audit/verify',
    {
      config: { role: 'read' },
      schema: {
        tags: ['audit'],
        summary: 'Verify the audit chain (hashes, MACs) against the signed checkpoints',
        response: {
          200: z.object({
            ok: z.boolean(),
            rows: z.number(),
            problem: z.string().optional(),
            seq: z.number().optional(),
            missing: z.object({ from: z.number(), to: z.number() }).optional(),
            legacyRows: z.number(),
            checkpoints: z.object({
              read: z.number(),
              unverified: z.number(),
              damaged: z.number(),
              lastSeq: z.number().optional(),
              lastAt: z.string().optional(),
            }),
          }),
        },
      },
    },
    async () => t.verifyAudit(),
  );
  app.get(
    '/api/audit',
    {
      config: { role: 'auditor' },
      schema: {
        tags: ['audit'],
        summary: 'Search and export audit rows in order, oldest first; page with afterSeq = the last seq seen',
        querystring: z.object({
          afterSeq: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          kind: z.enum(['state', 'outbound', 'inbound', 'job', 'admin', 'security']).optional(),
          actor: z.string().max(200).optional(),
          subject: z.string().max(300).optional().describe('exact, e.g. entitlement/<id> or user:<name>'),
          action: z.string().max(200).optional().describe("the row's action (state rows) or event (security rows)"),
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
        }),
        response: {
          200: z.object({
            entries: z.array(
              z.object({
                seq: z.number(),
                at: z.string(),
                kind: z.string(),
                actor: z.string(),
                subject: z.string(),
                detail: z.unknown(),
                hash: z.string(),
              }),
            ),
            nextAfterSeq: z.number().nullable(),
          }),
        },
      },
    },
    async (req) => {
      let q = t.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>', req.query.afterSeq)
        .orderBy('seq')
        .limit(req.query.limit);
      if (req.query.kind) q = q.where('kind', '=', req.query.kind);
      if (req.query.actor) q = q.where('actor', '=', req.query.actor);
      if (req.query.subject) q = q.where('subject', '=', req.query.subject);
      if (req.query.since) q = q.where('at', '>=', Date.parse(req.query.since));
      if (req.query.until) q = q.where('at', '<', Date.parse(req.query.until));
      if (req.query.action) {
        const dialect = t.store.dialect;
        const action = sql`coalesce(${jsonText(dialect, 'detail', 'action')}, ${jsonText(dialect, 'detail', 'event')})`;
        q = q.where(action, '=', req.query.action);
      }
      const rows = await q.execute();
      return {
        entries: rows.map((r) => ({
          seq: Number(r.seq),
          at: new Date(Number(r.at)).toISOString(),
          kind: r.kind,
          actor: r.actor,
          subject: r.subject,
          detail: JSON.parse(r.detail) as unknown,
          hash: r.hash,
        })),
        nextAfterSeq: rows.length === req.query.limit ? Number(rows[rows.length - 1].seq) : null,
      };
    },
  );
}
