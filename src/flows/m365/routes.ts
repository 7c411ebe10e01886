import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import type { HelpSearchPort } from '../../connectors/learn.ts';
import { loadFlowState } from '../../engine/flow.ts';
import { HttpProblem } from '../../http/server.ts';
import type { M365Integration } from './config.ts';
import { registerEscalationRoutes } from './escalation/routes.ts';
import { registerMatchRoutes } from './feed/routes.ts';
import { FLOW, itemId, type HealthIncidentState } from './flow.ts';
import { HealthStore, type StoredIssue } from './health/store.ts';
import { toMatchIssue } from './match/input.ts';
import { matchAll } from './match/matcher.ts';
import { registerSolutionWriteRoute } from './solution-notes.ts';
import { recommend } from './solutions.ts';

/**
 * The operator API of Microsoft 365 support: service health as the store keeps it, and matching
 * incidents to it. People with the `insights` role see both (as do readers).
 */

const tags = ['m365'];

const incident = z
  .object({
    sys_id: z.string().min(1).max(64),
    number: z.string().max(40).optional(),
    short_description: z.string().max(4000),
    description: z.string().max(32_000).nullish(),
    opened_at: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/, 'ServiceNow time "YYYY-MM-DD HH:mm:ss" (UTC)'),
  })
  .strict();

const solutionSchema = z.object({
  title: z.string(),
  url: z.string(),
  snippet: z.string(),
  source: z.enum(['knowledge', 'learn']),
  number: z.string().optional(),
});

const issueView = (s: StoredIssue) => ({
  id: s.issue.id,
  title: s.issue.title,
  service: s.issue.service,
  feature: s.issue.feature,
  classification: s.issue.classification,
  status: s.issue.status,
  isResolved: s.issue.isResolved,
  startDateTime: s.issue.startDateTime,
  endDateTime: s.issue.endDateTime,
  lastModifiedDateTime: s.issue.lastModifiedDateTime,
  impactDescription: s.issue.impactDescription,
  summary: s.summary,
});

export function registerM365Routes(
  app: Ticketloop,
  integrations: () => M365Integration[],
  learnOf: (i: M365Integration) => HelpSearchPort,
): void {
  const http = app.http;
  const store = new HealthStore(app.store.db);
  const pick = (name?: string) => {
    const all = integrations();
    const i = name ? all.find((x) => x.name === name) : all[0];
    if (!i)
      throw new HttpProblem(404, 'not_found', name ? `no m365 integration "${name}"` : 'no m365 integration', [
        { path: 'query.integration', message: `one of: ${all.map((x) => x.name).join(', ') || '(none configured)'}` },
      ]);
    return i;
  };

  registerEscalationRoutes(app, pick);
  registerSolutionWriteRoute(app, pick, learnOf);
  registerMatchRoutes(app, pick);

  http.get(
    '/api/m365/issues',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'Service health issues as last read from Graph, newest first, with what their posts say',
        querystring: z.object({
          integration: z.string().max(80).optional(),
          open: z.enum(['true', 'false']).default('false'),
        }),
        response: { 200: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) },
      },
    },
    async (req) => {
      const i = pick(req.query.integration);
      const issues = await store.issues(i.name, { openOnly: req.query.open === 'true' });
      return { items: issues.map(issueView) };
    },
  );

  http.get(
    '/api/m365/issues/:id',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'One service health issue with every post seen and its change history',
        params: z.object({ id: z.string().min(1).max(64) }),
        querystring: z.object({ integration: z.string().max(80).optional() }),
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    async (req) => {
      const i = pick(req.query.integration);
      const s = await store.issue(i.name, req.params.id);
      if (!s) throw new HttpProblem(404, 'not_found', `no service health issue ${req.params.id}`);
      const item = await loadFlowState<HealthIncidentState>(app.store.db, FLOW, itemId(i.name, s.issue.id));
      // The issue's own ITSM incident (incidents.enabled), and whether a person has taken it over.
      const incident = item && {
        status: item.status,
        ...(item.ticket ? { key: item.ticket.key, link: item.ticket.link } : {}),
        ...(item.handedOff ? { handedOff: item.handedOff } : {}),
      };
      return { ...issueView(s), posts: s.issue.posts, history: s.history, ...(incident ? { incident } : {}) };
    },
  );

  http.post(
    '/api/m365/match',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'Rank the stored health issues for incidents (top 3 with reasons; none is a valid answer)',
        body: z
          .object({
            integration: z.string().max(80).optional(),
            threshold: z.number().min(0).max(1).optional(),
            incidents: z.array(incident).min(1).max(1000),
          })
          .strict(),
        response: { 200: z.object({ results: z.array(z.record(z.string(), z.unknown())) }) },
      },
    },
    async (req) => {
      const i = pick(req.body.integration);
      const issues = (await store.issues(i.name)).map(toMatchIssue);
      const results = matchAll(issues, req.body.incidents, { threshold: req.body.threshold ?? i.matchThreshold });
      return { results };
    },
  );

  http.get(
    '/api/m365/solutions',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: "Recommended articles for a text: the ITSM's knowledge base and Microsoft Learn, merged, one per URL",
        querystring: z.object({
          q: z.string().trim().min(1, 'required: the problem, in words').max(300),
          integration: z.string().max(80).optional(),
          limit: z.coerce.number().int().min(1).max(20).default(8),
        }),
        response: { 200: z.object({ items: z.array(solutionSchema), warnings: z.array(z.string()) }) },
      },
    },
    async (req) => {
      const i = pick(req.query.integration);
      const knowledge = app.connections.hasItsm(i.itsm) ? app.connections.itsm(i.itsm).knowledge : undefined;
      return recommend(req.query.q, { knowledge, learn: learnOf(i), limit: req.query.limit });
    },
  );
}
