import { z } from 'zod';
import { HttpProblem } from '../../http/server.ts';
import type { DefenderIntegration } from './config.ts';
import type { Deps } from './effects.ts';
import { FLOW, type ItemState } from './flow.ts';
import { createManualAssignment, manualAssignmentBody, manualAssignmentView } from './manual.ts';
import {
  deleteManualAssignment,
  editManualAssignment,
  getManualAssignment,
  listManualAssignments,
  manualAssignmentDetail,
  manualEditBody,
} from './manual-edit.ts';
import { assessmentJudge, type MetadataCache } from './assessments.ts';
import { defenderDb } from './tables.ts';

/**
 * The manual path's API: an integration's unhealthy recommendations, one recommendation's unhealthy
 * resources (with the assignment each already has), "Create assignment", and its list, edit and
 * delete (manual-edit.ts). The two lists of what is unhealthy read the
 * integration's scope from ARM as a pass does (every page), so they cost one pass's page reads.
 */

const MAX_LISTED = 1000;

const recommendation = z.object({
  assessmentKey: z.string(),
  title: z.string(),
  severity: z.string(),
  unhealthy: z.number(),
});
const resource = z.object({
  resourceId: z.string(),
  assignment: z
    .object({
      manual: z.boolean(),
      status: z.string(),
      owner: z.string().nullable(),
      ticketNumber: z.string().nullable(),
      ticketLink: z.string().nullable(),
    })
    .nullable(),
});

export function registerManualRoutes(d: Deps & { meta: MetadataCache }): void {
  const app = d.app.http;
  const db = defenderDb(d.app.store.db);
  const tags = ['defender'];
  const integration = (name: string) => {
    const i = d.integrations.get(name);
    if (!i) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    return i;
  };

  /** Every unhealthy assessment at the integration's scope that its filters keep, page by page. */
  async function* unhealthy(i: DefenderIntegration) {
    const judge = assessmentJudge(i);
    await d.meta.prime(); // all metadata in one list, not one GET per recommendation
    for await (const page of d.app.connections.microsoft().arm.listAssessments(i.scope, { pageSize: i.pageSize })) {
      for (const a of page.value) {
        const { entry, unhealthy } = judge(a, await d.metadata(a.name));
        if (unhealthy) yield entry;
      }
    }
  }

  app.get(
    '/api/defender/integrations/:name/recommendations',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'Recommendations with unhealthy resources at the integration scope (for Create assignment)',
        params: z.object({ name: z.string().min(1).max(64) }),
        response: { 200: z.object({ recommendations: z.array(recommendation) }) },
      },
    },
    async (req) => {
      const byKey = new Map<string, z.infer<typeof recommendation>>();
      for await (const e of unhealthy(integration(req.params.name))) {
        const key = e.name.toLowerCase();
        const r = byKey.get(key) ?? { assessmentKey: e.name, title: e.title, severity: e.severity, unhealthy: 0 };
        r.unhealthy++;
        byKey.set(key, r);
      }
      return { recommendations: [...byKey.values()].sort((a, b) => a.title.localeCompare(b.title)) };
    },
  );

  app.get(
    '/api/defender/integrations/:name/recommendations/:key/resources',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: "A recommendation's unhealthy resources and the assignment each has",
        params: z.object({ name: z.string().min(1).max(64), key: z.string().min(1).max(64) }),
        response: { 200: z.object({ resources: z.array(resource), truncated: z.boolean() }) },
      },
    },
    async (req) => {
      const i = integration(req.params.name);
      const key = req.params.key.toLowerCase();
      const found: { id: string; resourceId: string }[] = [];
      let truncated = false;
      for await (const e of unhealthy(i)) {
        if (e.name.toLowerCase() !== key) continue;
        if (found.length === MAX_LISTED) {
          truncated = true;
          break;
        }
        found.push({ id: e.id, resourceId: e.resourceId });
      }
      const rows = found.length
        ? await db
            .selectFrom('defender_assessment')
            .select(['id', 'item'])
            .where('integration', '=', i.name)
            .where(
              'id',
              'in',
              found.map((f) => f.id),
            )
            .execute()
        : [];
      const itemOfRow = new Map(rows.map((r) => [r.id, r.item]));
      const items = [...new Set(rows.map((r) => r.item).filter((x): x is string => !!x))];
      const states = items.length
        ? await db
            .selectFrom('flow_state')
            .select(['id', 'state'])
            .where('flow', '=', FLOW)
            .where('id', 'in', items)
            .execute()
        : [];
      const byItem = new Map(states.map((s) => [s.id, JSON.parse(s.state) as ItemState]));
      return {
        truncated,
        resources: found.map((f) => {
          const s = byItem.get(itemOfRow.get(f.id) ?? '');
          return {
            resourceId: f.resourceId,
            assignment: s
              ? {
                  manual: !!s.manual,
                  status: s.status,
                  owner: s.owner ?? null,
                  ticketNumber: s.ticket?.key ?? null,
                  ticketLink: s.ticket?.link ?? null,
                }
              : null,
          };
        }),
      };
    },
  );

  // Opens a ticket and writes governance assignments, as a reconcile pass would: an operator action.
  app.post(
    '/api/defender/assignments',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Create assignment: a recommendation, some of its unhealthy resources, owner, dates and ticket type',
        body: manualAssignmentBody,
        response: { 201: manualAssignmentView },
      },
    },
    async (req, reply) => {
      const created = await createManualAssignment(d, req.body, req.principal!.actor);
      return reply.code(201).send(created);
    },
  );

  const id = z.object({ id: z.string().regex(/^[0-9a-f]{8}$/, 'a manual assignment id') });

  app.get(
    '/api/defender/integrations/:name/manual-assignments',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: "The integration's manual assignments (not deleted), newest first",
        params: z.object({ name: z.string().min(1).max(64) }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(200) }),
        response: { 200: z.object({ assignments: z.array(manualAssignmentDetail) }) },
      },
    },
    async (req) => {
      integration(req.params.name);
      return { assignments: await listManualAssignments(d, req.params.name, req.query.limit) };
    },
  );

  app.get(
    '/api/defender/assignments/:id',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'One manual assignment: its settings, status and ticket',
        params: id,
        response: { 200: manualAssignmentDetail },
      },
    },
    async (req) => getManualAssignment(d, req.params.id),
  );

  // Rewrites the ticket's people and every governance assignment of the members: an operator action, as create.
  app.patch(
    '/api/defender/assignments/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Edit a manual assignment: owner, caller, due date or timeframe, grace period, e-mail reminders',
        params: id,
        body: manualEditBody,
        response: { 200: manualAssignmentDetail },
      },
    },
    async (req) => editManualAssignment(d, req.params.id, req.body, req.principal!.actor),
  );

  app.delete(
    '/api/defender/assignments/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Delete a manual assignment: its governance assignments removed, its open ticket annotated',
        params: id,
        response: { 202: manualAssignmentDetail },
      },
    },
    async (req, reply) => reply.code(202).send(await deleteManualAssignment(d, req.params.id, req.principal!.actor)),
  );
}
