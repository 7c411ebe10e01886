import { Agent, request } from 'undici';
import type { DemoContext, DemoSandbox, FlowDemo } from '../../app/module.ts';
import { waitUntil } from '../pod/demo-servicenow.ts';
import type { M365Integration } from './config.ts';
import { EscalationService } from './escalation/service.ts';
import { HealthStore } from './health/store.ts';
import { matchAll } from './match/matcher.ts';
import { toMatchIssue } from './match/input.ts';
import { recommend } from './solutions.ts';
import { learnOf } from './learn.ts';

/**
 * `npm start`, Microsoft 365 support: Microsoft posts a health issue (the sandbox's control
 * endpoint), Ticketloop's health sync reads it, a user types an incident in ServiceNow the way
 * users do, Ticketloop matches it to the issue with its reasons and recommends articles, and an
 * admin escalates: a guided hand-off for Exchange Online, a real Azure support ticket for Entra.
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

/** A JSON call to a sandbox server (its CA), the answer parsed. */
async function call(ctx: DemoContext, url: string, method: string, body?: unknown, auth?: string) {
  const agent = new Agent({ connect: { ca: ctx.sandbox.tls.ca } });
  try {
    const r = await request(url, {
      method: method as 'POST',
      dispatcher: agent,
      headers: {
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(auth ? { authorization: auth } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await r.body.json().catch(() => undefined)) as any;
    if (r.statusCode >= 300) throw new Error(`demo: ${method} ${url} → ${r.statusCode} ${JSON.stringify(json)}`);
    return json;
  } finally {
    await agent.close();
  }
}

/** An incident as a user's words reach ServiceNow (the IT support account files it for them). */
async function fileIncident(ctx: DemoContext, short: string, description: string) {
  const { username, password } = ctx.sandbox.servicenow.credentials.itil;
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const r = await call(
    ctx,
    `${ctx.sandbox.servicenow.baseUrl}/api/now/table/incident`,
    'POST',
    {
      short_description: short,
      description,
    },
    basic,
  );
  return r.result as { sys_id: string; number: string; short_description: string; opened_at: string };
}

async function runM365Demo(ctx: DemoContext): Promise<void> {
  const i = ctx.app.integrations<M365Integration>('m365').find((x) => x.name === DEMO_M365 && x.enabled);
  if (!i) return;
  const { step, say, app, sandbox } = ctx;
  const now = app.clock.now();
  await call(ctx, `${sandbox.servicenow.baseUrl}/_sandbox/servicenow/knowledge/seed`, 'POST').catch(() => undefined);

  step('Microsoft 365: Microsoft posts a service health issue for Exchange Online (the sandbox tenant)');
  const issue = (await call(ctx, `${sandbox.microsoft.baseUrl}/_sandbox/m365/issues`, 'POST', {
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

  step("Ticketloop's health sync reads it (Graph, every healthEvery; here at once)");
  await app.engine.enqueue({
    kind: 'm365.health-sync',
    key: `m365-demo-sync:${issue.id}`,
    payload: { integration: i.name },
  });
  app.engine.wake();
  const store = new HealthStore(app.store.db);
  const stored = await waitUntil(`${issue.id} synced`, () => store.issue(i.name, issue.id));
  say(
    `${stored.issue.status}; user impact: ${stored.summary.userImpact?.replace(/\.$/, '')}; next update by: ${stored.summary.nextUpdateBy?.text}`,
  );
  say(`${ctx.url}/api/m365/issues/${issue.id}`);

  step('A user calls the service desk; the agent types what they say: "outlook not sending since 9"');
  const incident = await fileIncident(
    ctx,
    'outlook not sending since 9',
    'emails stuck in the outbox, tried restarting',
  );
  say(`${incident.number} opened ${incident.opened_at} (UTC)`);

  step('Ticketloop matches it to the health issues active when it was opened, with its reasons');
  const issues = (await store.issues(i.name, { openOnly: false })).map(toMatchIssue);
  const [result] = matchAll(issues, [incident], { threshold: i.matchThreshold });
  if (!result.matches.length) say('no match above the threshold (none is a valid answer)');
  for (const m of result.matches) say(`${m.issue} score ${m.score.toFixed(2)}: ${m.why}`);

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

  step('And for an Entra sign-in problem, a real Azure support ticket (Microsoft.Support, 2024-04-01)');
  const entra = await fileIncident(ctx, 'cant sign in, MFA prompt keeps looping', 'since this morning on every device');
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
  const opened = await waitUntil(`the support ticket of ${entra.number}`, async () => {
    const row = await escalations.store.get(azure.id);
    return row && row.status !== 'creating' ? row : undefined;
  });
  say(
    `${entra.number} → support ticket ${opened.ticket_number ?? opened.ticket_name}: ${opened.status}${opened.error ? ` (${opened.error})` : ''}`,
  );
  say(`${ctx.url}/api/m365/escalations  (status and Microsoft's messages come back as work notes)`);
}
