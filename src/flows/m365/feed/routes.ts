import { z } from 'zod';
import type { Ticketloop } from '../../../app/build.ts';
import { HttpProblem } from '../../../http/server.ts';
import { personOf } from '../../../identity/http.ts';
import type { M365Integration } from '../config.ts';
import { HealthStore } from '../health/store.ts';
import { MATCH_STATUSES, MatchStore } from './store.ts';
import { recordVerdict, type Verdict } from './verdicts.ts';

/**
 * Agents' answers to the feed's suggestions (role insights): confirm or reject one match, or say
 * "none of these" for an incident. Verdicts are stored with who, when and why, written to the audit
 * log in the same transaction, and taken by the matcher on its next pass: a rejected issue is never
 * suggested again for that incident; a confirmed one raises incidents worded like it.
 */

const tags = ['m365'];
const incidentParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an incident id or number (INC0010001)');
const issueParam = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a health issue id such as EX123456');
const verdictBody = z
  .object({
    integration: z.string().max(80).optional(),
    comment: z.string().trim().max(2000).optional(),
  })
  .strict();
const view = z.record(z.string(), z.unknown());

export function registerMatchRoutes(app: Ticketloop, pick: (name?: string) => M365Integration): void {
  const http = app.http;
  const store = new MatchStore(app.store.db);
  const health = new HealthStore(app.store.db);

  const known = async (i: M365Integration, idOrKey: string) => {
    const incident = await store.incident(i.name, idOrKey);
    if (!incident)
      throw new HttpProblem(404, 'not_found', `incident ${idOrKey} has not been matched by Ticketloop`, [
        { path: 'params.incident', message: 'an incident the feed has read (its id or number)' },
      ]);
    return incident;
  };

  const decide = (
    i: M365Integration,
    incidentId: string,
    incidentKey: string,
    issues: string[],
    status: Verdict,
    actor: string,
    comment: string | undefined,
  ) =>
    app.store.db.transaction().execute((trx) =>
      recordVerdict(app, trx, {
        integration: i.name,
        incidentId,
        incidentKey,
        issues,
        status,
        actor,
        comment,
        via: 'api',
      }),
    );

  http.get(
    '/api/m365/matches',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'Incidents matched to health issues as they arrived: top 3 with reasons, and the verdicts',
        querystring: z.object({
          integration: z.string().max(80).optional(),
          incident: incidentParam.optional(),
          status: z.enum(MATCH_STATUSES).optional(),
        }),
        response: { 200: z.object({ items: z.array(view) }) },
      },
    },
    async (req) => {
      const i = pick(req.query.integration);
      const incident = req.query.incident ? await store.incident(i.name, req.query.incident) : undefined;
      if (req.query.incident && !incident) return { items: [] };
      return { items: await store.list(i.name, { incidentId: incident?.incident_id, status: req.query.status }) };
    },
  );

  for (const [action, status] of [
    ['confirm', 'confirmed'],
    ['reject', 'rejected'],
  ] as const)
    http.post(
      `/api/m365/matches/:incident/:issue/${action}`,
      {
        config: { role: 'insights' },
        schema: {
          tags,
          summary:
            action === 'confirm'
              ? 'Confirm that an incident is caused by a health issue (suggested or not)'
              : 'Reject a suggested health issue for an incident: it is never suggested for it again',
          params: z.object({ incident: incidentParam, issue: issueParam }),
          body: verdictBody.nullish(),
          response: { 200: view },
        },
      },
      async (req) => {
        const i = pick(req.body?.integration);
        const incident = await known(i, req.params.incident);
        const issue = req.params.issue;
        if (!(await store.match(i.name, incident.incident_id, issue)) && !(await health.issue(i.name, issue)))
          throw new HttpProblem(404, 'not_found', `no service health issue ${issue}`, [
            { path: 'params.issue', message: 'a stored health issue id' },
          ]);
        await decide(i, incident.incident_id, incident.incident_key, [issue], status, personOf(req), req.body?.comment);
        const [row] = await store
          .list(i.name, { incidentId: incident.incident_id })
          .then((all) => all.filter((m) => m.issue === issue));
        return row;
      },
    );

  http.post(
    '/api/m365/matches/:incident/none',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'None of the suggestions: reject every suggested health issue for an incident',
        params: z.object({ incident: incidentParam }),
        body: verdictBody.nullish(),
        response: { 200: z.object({ rejected: z.array(z.string()) }) },
      },
    },
    async (req) => {
      const i = pick(req.body?.integration);
      const incident = await known(i, req.params.incident);
      const suggested = (await store.matchesOf(app.store.db, i.name, incident.incident_id))
        .filter((m) => m.status === 'suggested' && m.rank !== null)
        .map((m) => m.issue_id);
      await decide(
        i,
        incident.incident_id,
        incident.incident_key,
        suggested,
        'rejected',
        personOf(req),
        req.body?.comment ?? 'none of the suggestions',
      );
      return { rejected: suggested };
    },
  );
}
