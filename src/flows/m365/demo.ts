import type { DemoContext, DemoSandbox, FlowDemo } from '../../app/module.ts';
import { loadFlowState } from '../../engine/flow.ts';
import { waitUntil } from '../../app/demo-wait.ts';
import type { M365Integration } from './config.ts';
import { asInsightsAgent, call, serviceDesk } from './demo-calls.ts';
import { EscalationService } from './escalation/service.ts';
import { MatchStore } from './feed/store.ts';
import { FLOW, itemId, type HealthIncidentState } from './flow.ts';
import { HealthStore } from './health/store.ts';
import { learnOf } from './learn.ts';
import { recommend } from './solutions.ts';

/**
 * `npm start`, Microsoft 365 support: Microsoft posts a health issue (the sandbox's control
 * endpoint) and Ticketloop's health sync opens the issue's own incident; a user's incident typed in
 * ServiceNow the way users do is matched by the incident feed (a work note, and the issue's incident
 * as its parent) and an agent confirms it; articles are recommended and an admin escalates (a guided
 * hand-off); Microsoft's update becomes a work note and its resolution resolves the issue's incident;
 * and an Entra sign-in problem becomes a real Azure support ticket. The demo runs the scheduled jobs
 * at once rather than waiting for their interval, and waits for what they do, never a fixed time.
 */

export const DEMO_M365 = 'demo-m365';

export const m365Demo: FlowDemo = {
  integrations: (s) => [m365DemoIntegration(s)],
  run: (ctx) => runM365Demo(ctx),
};

export function m365DemoIntegration(s: DemoSandbox): Record<string, unknown> {
  return {
    name: DEMO_M365,
    type: 'm365',
    itsm: 'sandbox',
    learnUrl: s.microsoft.baseUrl, // the sandbox serves Learn's search too
    testEnvironment: true,
    incidents: { enabled: true },
    feed: { enabled: true },
    escalation: {
      mode: 'both',
      subscription: s.azure.demo.prodSubscription,
      contact: {
        firstName: 'Adele',
        lastName: 'Vance',
        primaryEmailAddress: 'adele.vance@ticketloopsandbox.onmicrosoft.com',
        preferredTimeZone: 'W. Europe Standard Time',
        country: 'deu',
      },
    },
  };
}

/** Run the health sync now (its schedule would, every healthEvery) and wait until `done` says it has. */
async function syncNow<T>(ctx: DemoContext, i: M365Integration, key: string, what: string, done: () => Promise<T>) {
  await ctx.app.engine.enqueue({
    kind: `${FLOW}.health-sync`,
    key: `m365-demo-sync:${key}`,
    payload: { integration: i.name },
  });
  return waitUntil(what, async () => (await done()) ?? undefined);
}

async function runM365Demo(ctx: DemoContext): Promise<void> {
  const i = ctx.app.integrations<M365Integration>('m365').find((x) => x.name === DEMO_M365 && x.enabled);
  if (!i) return;
  const { step, say, app, sandbox } = ctx;
  const now = app.clock.now();
  const desk = serviceDesk(ctx);
  const health = new HealthStore(app.store.db);
  const issueIncident = (id: string) => loadFlowState<HealthIncidentState>(app.store.db, FLOW, itemId(i.name, id));
  await call(ctx, `${sandbox.servicenow.baseUrl}/_sandbox/servicenow/knowledge/seed`, 'POST').catch(() => undefined);

  step('Microsoft 365: Microsoft posts a service health issue for Exchange Online; Ticketloop opens its incident');
  const posts = `${sandbox.microsoft.baseUrl}/_sandbox/m365/issues`;
  const issue = (await call(ctx, posts, 'POST', {
    title: 'Users may be unable to send email messages from Outlook',
    service: 'Exchange Online',
    feature: 'E-Mail and calendar access',
    classification: 'incident',
    status: 'serviceDegradation',
    impactDescription: 'Users may be unable to send email messages using any connection method.',
    startDateTime: new Date(now - 20 * 60_000).toISOString(),
    content:
      '<p>Title: Users may be unable to send email</p><p>User impact: Users may be unable to send email messages.</p>' +
      '<p>Current status: We are reviewing telemetry to find the cause.</p><p>Scope of impact: Any user sending mail through Outlook may be affected.</p>' +
      `<p>Next update by: ${new Date(now + 2 * 3600_000).toUTCString()}</p>`,
  })) as { id: string };
  say(`${issue.id}: GET ${sandbox.microsoft.graphUrl}/v1.0/admin/serviceAnnouncement/issues/${issue.id}`);
  // The health sync (every healthEvery; here at once) stores it and, in the same transaction, asks for its incident.
  const opened = await syncNow(ctx, i, issue.id, `the incident of ${issue.id}`, async () => {
    const item = await issueIncident(issue.id);
    return item?.ticket && item.status === 'open' ? item.ticket : undefined;
  });
  const stored = (await health.issue(i.name, issue.id))!;
  say(
    `${stored.issue.status}; user impact: ${stored.summary.userImpact?.replace(/\.$/, '')}; next update by: ${stored.summary.nextUpdateBy?.text}`,
  );
  say(`${opened.key}: ${(await desk.incident(opened.id)).short_description}  ${opened.link}`);

  step('A user calls the service desk; the agent types what they say in ServiceNow: "outlook not sending since 9"');
  const incident = await desk.file('outlook not sending since 9', 'emails stuck in the outbox, tried restarting');
  say(`${incident.number} opened ${incident.opened_at} (UTC)  ${desk.link(incident.sys_id)}`);

  step("Ticketloop's incident feed reads it (every feed.every; here at once) and matches it, with its reasons");
  await app.engine.enqueue({
    kind: `${FLOW}.match-feed`,
    key: `m365-demo-feed:${incident.sys_id}`,
    payload: { integration: i.name },
  });
  const matches = new MatchStore(app.store.db);
  const ranked = await waitUntil(`${incident.number} matched, noted and linked`, async () => {
    const rows = (await matches.matchesOf(app.store.db, i.name, incident.sys_id)).filter((m) => m.rank !== null);
    const top = rows.find((m) => m.rank === 1);
    // The top match's note written and the incident linked to that issue's own incident.
    if (!top || top.noted_at === null || top.linked_at === null) return undefined;
    return rows.sort((a, b) => a.rank! - b.rank!);
  });
  for (const m of ranked) say(`${m.issue_id} score ${Number(m.score).toFixed(2)}: ${m.why}`);
  const child = await desk.incident(incident.sys_id);
  const note = (await desk.workNotes(incident.sys_id)).find((n) => n.value.startsWith('Possibly related'));
  say(`work note on ${incident.number}: "${note?.value}"`);
  const parent =
    child.parent_incident === opened.id ? `${opened.key}, the incident of ${issue.id}` : child.parent_incident;
  say(`${incident.number} parent_incident: ${parent || '(none)'}`);

  step(`An agent confirms it: POST /api/m365/matches/${incident.number}/${ranked[0].issue_id}/confirm`);
  const confirmed = await asInsightsAgent(ctx, (auth) =>
    call(
      ctx,
      `${ctx.url}/api/m365/matches/${incident.number}/${ranked[0].issue_id}/confirm`,
      'POST',
      { integration: i.name, comment: 'same symptoms as the outage' },
      auth,
    ),
  );
  say(
    `${confirmed.issue} ${confirmed.status} for ${incident.number} by ${confirmed.verdictBy} at ${confirmed.verdictAt}`,
  );
  say(`${ctx.url}/api/m365/matches?incident=${incident.number}`);

  step('Recommended solutions: the ServiceNow knowledge base and Microsoft Learn, one per URL');
  const knowledge = app.connections.itsm(i.itsm).knowledge;
  const found = await recommend(incident.short_description, { knowledge, learn: learnOf(app, i), limit: 3 });
  for (const s of found.items.slice(0, 3)) say(`[${s.source}] ${s.title} — ${s.url}`);
  for (const w of found.warnings) say(`warning: ${w}`);

  step('An admin escalates it: a guided hand-off (Microsoft 365 has no public case API)');
  const escalations = new EscalationService(app);
  const guided = await escalations.escalate(
    i,
    { incident: { sys_id: incident.sys_id }, kind: 'guided', severity: 'moderate', issues: [issue.id] },
    'user:demo-admin',
  );
  say(`${guided.id}: ${guided.status}; the summary (test environment marked) is on ${incident.number} as a work note`);
  say('the admin opens the case at https://admin.microsoft.com/#/support and records its number here');

  step(`Microsoft posts an update on ${issue.id}: one work note on ${opened.key}`);
  const update = (await call(ctx, `${posts}/${issue.id}/posts`, 'POST', {
    content:
      '<p>Current status: We have identified a configuration change that is blocking outbound mail and are reverting it.</p>',
  })) as { posts: { createdDateTime: string }[] };
  const updatedAt = update.posts[update.posts.length - 1].createdDateTime;
  await syncNow(ctx, i, `${issue.id}:update`, `the update's note on ${opened.key}`, async () => {
    const item = await issueIncident(issue.id);
    return item?.notedThrough === updatedAt && !item.noting ? item : undefined;
  });
  const notes = await desk.workNotes(opened.id);
  say(
    `work note on ${opened.key}: "${notes[notes.length - 1]?.value.split('\n').filter(Boolean).slice(0, 2).join(' ')}"`,
  );

  step(`Microsoft resolves ${issue.id} (service restored): Ticketloop resolves ${opened.key}`);
  await call(ctx, `${posts}/${issue.id}/posts`, 'POST', {
    status: 'serviceRestored',
    content: '<p>Final status: The configuration change has been reverted and outbound mail is flowing again.</p>',
  });
  await syncNow(ctx, i, `${issue.id}:resolved`, `${opened.key} resolved`, async () =>
    (await issueIncident(issue.id))?.status === 'resolved' ? true : undefined,
  );
  const resolved = await desk.incident(opened.id);
  say(`${opened.key}: state ${resolved.state} (resolved); close notes: ${resolved.close_notes.split('\n')[0]}`);

  step('And for an Entra sign-in problem, a real Azure support ticket (Microsoft.Support, 2024-04-01)');
  const entra = await desk.file('cant sign in, MFA prompt keeps looping', 'since this morning on every device');
  const azure = await escalations.escalate(
    i,
    {
      incident: { sys_id: entra.sys_id },
      kind: 'azure-support',
      severity: 'minimal',
      service: 'Azure Active Directory Sign-In',
      problemClassification: 'sign-in failures',
    },
    'user:demo-admin',
  );
  app.engine.wake();
  const ticket = await waitUntil(`the support ticket of ${entra.number}`, async () => {
    const row = await escalations.store.get(azure.id);
    return row && row.status !== 'creating' ? row : undefined;
  });
  say(
    `${entra.number} → support ticket ${ticket.ticket_number ?? ticket.ticket_name}: ${ticket.status}${ticket.error ? ` (${ticket.error})` : ''}`,
  );
  say(`${ctx.url}/api/m365/escalations  (status and Microsoft's messages come back as work notes)`);
}
