import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import { csvLines } from '../../http/csv.ts';
import { HttpProblem } from '../../http/server.ts';
import { satisfies } from '../../identity/roles.ts';
import { personOf } from '../../identity/http.ts';
import type { PodIntegration } from './config.ts';
import { listDrift } from './drift.ts';
import { requestItem } from './flow.ts';
import { RequestRefused } from './policy.ts';
import { REQUEST_STATUSES, type RequestState } from './request.ts';
import { ActionRefused, type PodService } from './service.ts';
import { grantsBetween, listRequests, REPORT_COLUMNS, reportRow, requestView } from './views.ts';

/**
 * The permissions-on-demand API (the contract in docs/pod.md): requests and their decisions, active
 * grants from the ledger, the report, and the catalog the request form offers. Every route declares
 * its role; per-request checks (the requester, the policy's approvers) are the service's.
 */

const tags = ['pod'];
const GUID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
const idParam = z.object({ id: z.string().regex(/^[0-9a-f-]{32,36}$/, 'must be a request id') });
const comment = z.object({ comment: z.string().max(2000).default('') }).prefault({});

const requestBody = z
  .object({
    system: z.string().min(1).max(80),
    permission: z.string().min(1).max(80),
    scope: z.string().min(1).max(400).optional(),
    identity: z.object({ type: z.enum(['user', 'servicePrincipal']), id: GUID }).strict(),
    duration: z.string().max(40).optional(),
    justification: z.string().max(2000).optional(),
    ticketNumber: z.string().max(100).optional(),
  })
  .strict();

const viewSchema = z.record(z.string(), z.unknown());

/** The person acting (identity/http.ts personOf), and what their roles let them see and do. */
export function actorOf(req: FastifyRequest): { actor: string; isAdmin: boolean; canRead: boolean } {
  const roles = req.principal!.roles;
  return { actor: personOf(req), isAdmin: satisfies(roles, 'admin'), canRead: satisfies(roles, 'read') };
}

/** Service refusals as HTTP answers naming the field or the reason. */
export async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof RequestRefused)
      throw new HttpProblem(400, 'invalid_request', e.message, [{ path: `body.${e.path}`, message: e.reason }]);
    if (e instanceof ActionRefused)
      throw new HttpProblem(
        e.status,
        e.status === 404 ? 'not_found' : e.status === 403 ? 'forbidden' : 'conflict',
        e.message,
      );
    throw e;
  }
}

/** Who may see a request: its requester, its approvers, and the read roles. */
function maySee(s: RequestState, actor: string, canRead: boolean): boolean {
  return canRead || s.requester === actor || s.policy.approvers.includes(actor);
}

export function registerPodRoutes(app: Ticketloop, service: PodService, integrations: () => PodIntegration[]): void {
  const http = app.http;
  const { db, dialect } = app.store;

  http.post(
    '/api/pod/requests',
    {
      config: { role: 'requester' },
      schema: {
        tags,
        summary: 'Request a permission for a time (for yourself or a workload identity)',
        description: 'An `Idempotency-Key` header makes a repeated submission return the first request.',
        body: requestBody,
        response: {
          201: z.object({ id: z.string(), status: z.string() }),
          200: z.object({ id: z.string(), status: z.string() }),
        },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const r = await answer(() =>
        service.submit(req.body, actorOf(req).actor, {
          idempotencyKey: typeof key === 'string' ? key.slice(0, 200) : undefined,
        }),
      );
      return reply.code(r.created ? 201 : 200).send({ id: r.id, status: r.status });
    },
  );

  for (const decision of ['approve', 'reject'] as const)
    http.post(
      `/api/pod/requests/:id/${decision}`,
      {
        config: { role: 'approver' },
        schema: {
          tags,
          summary: `${decision === 'approve' ? 'Approve' : 'Reject'} a request (with a comment)`,
          params: idParam,
          body: comment,
          response: { 200: viewSchema },
        },
      },
      async (req) => {
        const s = await answer(() => service.decide(req.params.id, actorOf(req).actor, decision, req.body.comment));
        return requestView(req.params.id, s);
      },
    );

  http.post(
    '/api/pod/requests/:id/revoke',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'End an active grant now (the requester, an approver of its policy, or an admin)',
        params: idParam,
        body: comment,
        response: { 200: viewSchema },
      },
    },
    async (req) => {
      const { actor, isAdmin } = actorOf(req);
      return requestView(
        req.params.id,
        await answer(() => service.revoke(req.params.id, actor, isAdmin, req.body.comment || 'revoked')),
      );
    },
  );

  http.post(
    '/api/pod/requests/:id/cancel',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'Withdraw a request still waiting for approval',
        params: idParam,
        response: { 200: viewSchema },
      },
    },
    async (req) => {
      const { actor, isAdmin } = actorOf(req);
      return requestView(req.params.id, await answer(() => service.cancel(req.params.id, actor, isAdmin)));
    },
  );

  http.post(
    '/api/pod/requests/:id/extend',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'Extend an active grant (self-extension if the policy allows, otherwise an approver)',
        params: idParam,
        body: z.object({ duration: z.string().max(40) }).strict(),
        response: { 200: viewSchema },
      },
    },
    async (req) =>
      requestView(
        req.params.id,
        await answer(() => service.extend(req.params.id, actorOf(req).actor, req.body.duration)),
      ),
  );

  http.get(
    '/api/pod/requests/:id',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'One request: status, approvals, grant and what the provider says',
        params: idParam,
        response: { 200: viewSchema },
      },
    },
    async (req) => {
      const { actor, canRead } = actorOf(req);
      const s = await service.load(req.params.id);
      if (!s || !maySee(s, actor, canRead)) throw new HttpProblem(404, 'not_found', `no request ${req.params.id}`);
      const jobs = await db
        .selectFrom('jobs')
        .select(['id', 'kind', 'state', 'attempts', 'last_error', 'run_at'])
        .where('key', 'like', `pod:${requestItem(req.params.id)}:%`)
        .orderBy('created_at')
        .execute();
      return {
        ...requestView(req.params.id, s),
        jobs: jobs.map((j) => ({ ...j, run_at: new Date(Number(j.run_at)).toISOString() })),
      };
    },
  );

  http.get(
    '/api/pod/requests',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'Requests, newest first: mine, my approvals inbox, or (read roles) everyone’s',
        querystring: z.object({
          view: z.enum(['mine', 'inbox', 'all']).default('mine'),
          status: z.enum(REQUEST_STATUSES).optional(),
          system: z.string().max(80).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ items: z.array(viewSchema), more: z.boolean() }) },
      },
    },
    async (req) => {
      const { actor, canRead } = actorOf(req);
      const q = req.query;
      if (q.view === 'all' && !canRead)
        throw new HttpProblem(403, 'forbidden', 'view=all needs a read role (admin, operator, auditor)');
      if (q.view === 'inbox') {
        const waiting = await listRequests(db, dialect, {
          status: ['submitted'],
          system: q.system,
          limit: 5000,
          offset: 0,
        });
        const mine = waiting.items.filter(
          (r) => r.state.policy.approvers.includes(actor) && !r.state.approvals.some((a) => a.actor === actor),
        );
        return {
          items: mine.slice(q.offset, q.offset + q.limit).map((r) => requestView(r.id, r.state)),
          more: mine.length > q.offset + q.limit,
        };
      }
      const r = await listRequests(db, dialect, {
        status: q.status ? [q.status] : undefined,
        requester: q.view === 'mine' ? actor : undefined,
        system: q.system,
        limit: q.limit,
        offset: q.offset,
      });
      return { items: r.items.map((x) => requestView(x.id, x.state)), more: r.more };
    },
  );

  http.get(
    '/api/pod/grants',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'Active grants from the ledger (granted, or being revoked)',
        querystring: z.object({
          identity: z.string().max(40).optional(),
          system: z.string().max(80).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: { 200: z.object({ items: z.array(viewSchema), more: z.boolean() }) },
      },
    },
    async (req) => {
      const r = await listRequests(db, dialect, { status: ['granted', 'revoking', 'revoke_failed'], ...req.query });
      return { items: r.items.map((x) => requestView(x.id, x.state)), more: r.more };
    },
  );

  http.get(
    '/api/pod/report.csv',
    {
      config: { role: 'auditor' },
      schema: {
        tags,
        summary: 'Who had which permission on which scope, from when to when, who approved, the ticket (CSV)',
        querystring: z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) }),
      },
    },
    async (req, reply) => {
      const from = Date.parse(req.query.from);
      const to = Date.parse(req.query.to);
      if (to <= from)
        throw new HttpProblem(400, 'invalid_request', 'to: must be after from', [
          { path: 'querystring.to', message: 'must be after from' },
        ]);
      const rows = await grantsBetween(db, dialect, from, to);
      reply.header('content-type', 'text/csv; charset=utf-8');
      reply.header('content-disposition', 'attachment; filename="pod-report.csv"');
      return reply.send(csvLines([REPORT_COLUMNS, ...rows.map((r) => reportRow(r.id, r.state))]));
    },
  );

  http.get(
    '/api/pod/drift',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'Drift between the grant ledger and the providers: missing, leftover, or granted outside Ticketloop',
        querystring: z.object({
          integration: z.string().max(80).optional(),
          resolved: z.enum(['true', 'false']).default('false'),
        }),
        response: { 200: z.object({ items: z.array(viewSchema) }) },
      },
    },
    async (req) => ({
      items: await listDrift(db, {
        integration: req.query.integration,
        includeResolved: req.query.resolved === 'true',
      }),
    }),
  );

  // The console counts a grant's time left by the server's clock, not the browser's (which may be off).
  http.get(
    '/api/pod/clock',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'The server’s time, by which grants expire (countdowns count from it)',
        response: { 200: z.object({ now: z.string() }) },
      },
    },
    async () => ({ now: new Date(app.clock.now()).toISOString() }),
  );

  http.get(
    '/api/pod/catalog',
    {
      config: { role: 'authenticated' },
      schema: {
        tags,
        summary: 'What can be requested: systems, permissions with their scopes, policy limits',
        response: { 200: z.object({ systems: z.array(viewSchema), permissions: z.array(viewSchema) }) },
      },
    },
    async () => {
      const all = integrations();
      return {
        systems: all.flatMap((i) => i.systems.map((s) => ({ name: s.name, provider: s.provider, scopes: s.scopes }))),
        permissions: all.flatMap((i) =>
          i.permissions.map((p) => {
            const policy = i.policies.find((x) => x.permissions.includes('*') || x.permissions.includes(p.name));
            const system = i.systems.find((s) => s.name === p.system)!;
            return {
              name: p.name,
              system: p.system,
              description: p.description ?? null,
              scopes: p.scopes ?? system.scopes,
              readOnly: p.readOnly,
              policy: policy
                ? {
                    name: policy.name,
                    maxDuration: policy.maxDuration,
                    defaultDuration: policy.defaultDuration,
                    requireJustification: policy.requireJustification,
                    requireTicket: policy.requireTicket,
                    breakGlass: policy.breakGlass,
                  }
                : null,
            };
          }),
        ),
      };
    },
  );
}
