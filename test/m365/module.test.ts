import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { runChecks } from '../../src/app/doctor.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { EM_READWRITE, SERVICE_HEALTH_READ } from '../../sandbox/microsoft/constants.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { tokenFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';

// Issue #14 item 2 and 3 wired into the service: an `m365` integration reads the tenant's service
// health on its schedule into the store, and the API ranks the stored issues for incidents.

interface M365Env {
  sandbox: Sandbox;
  agent: Agent;
  app: Ticketloop;
  url: string;
  /** A control call on a sandbox server. */
  control(base: string, method: string, path: string, body?: unknown, auth?: string): Promise<Response>;
  /** The sandbox ServiceNow admin's Authorization header. */
  basic: string;
  close(): Promise<void>;
}

/** The sandbox and a Ticketloop with one m365 integration; `prepare` runs on the sandbox first. */
async function startM365(
  prepare: (e: Pick<M365Env, 'sandbox' | 'control'>) => Promise<void> = async () => {},
): Promise<M365Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-m365-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const control: M365Env['control'] = (base, method, path, body, auth) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      dispatcher: agent,
    } as RequestInit);
  const admin = sandbox.servicenow.credentials.admin;
  const basic = `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}`;
  assert.equal(
    (await control(sandbox.servicenow.baseUrl, 'POST', '/_sandbox/servicenow/knowledge/seed', undefined, basic)).status,
    200,
  );
  await prepare({ sandbox, control });
  const c = sandboxConnections(sandbox);
  const app = await buildTicketloop(
    validateConfig(
      {
        dataDir: join(dir, 'tl'),
        server: { port: 0 },
        servicenow: [c.servicenow],
        microsoft: c.microsoft,
        integrations: [{ name: 'm365', type: 'm365', itsm: c.servicenow.name, learnUrl: sandbox.microsoft.baseUrl }],
      },
      'test',
    ),
    { itsm: ITSM_MODULES, flows: FLOW_MODULES, logger: createLogger(process.env.TL_TEST_LOG ?? 'silent') },
  );
  const url = await app.start();
  return {
    sandbox,
    agent,
    app,
    url,
    control,
    basic,
    async close() {
      await app.stop();
      await agent.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('an m365 integration syncs service health on its schedule; the API shows it and matches an incident to it', async () => {
  let issue = { id: '' };
  let now = 0;
  const env = await startM365(async ({ sandbox, control }) => {
    now = sandbox.clock.now();
    const added = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/m365/issues', {
      title: 'Users may be unable to send email messages from Outlook',
      service: 'Exchange Online',
      feature: 'E-Mail and calendar access',
      classification: 'incident',
      status: 'serviceDegradation',
      impactDescription: 'Users may be unable to send email messages using any connection method.',
      startDateTime: new Date(now - 20 * 60_000).toISOString(),
    });
    assert.equal(added.status, 201);
    issue = (await added.json()) as { id: string };
  });
  const { app, url } = env;
  try {
    const insights = await tokenFor(app, 'insights');
    const requester = await tokenFor(app, 'requester');
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    const listed = await until(async () => {
      const r = await call(insights, 'GET', '/api/m365/issues?open=true');
      return r.body.items?.some((i: { id: string }) => i.id === issue.id) ? r.body.items : undefined;
    }, 'the added issue synced');
    const mine = listed.find((i: { id: string }) => i.id === issue.id);
    assert.equal(mine.service, 'Exchange Online');
    assert.equal(mine.status, 'serviceDegradation');
    assert.ok(listed.length > 1, 'the seeded real records are there too');

    const one = await call(insights, 'GET', `/api/m365/issues/${issue.id}`);
    assert.equal(one.status, 200);
    assert.ok(one.body.posts.length >= 0 && Array.isArray(one.body.history));
    assert.equal((await call(insights, 'GET', '/api/m365/issues/EX0')).status, 404);

    const openedAt = new Date(now).toISOString().slice(0, 19).replace('T', ' ');
    const matched = await call(insights, 'POST', '/api/m365/match', {
      incidents: [
        { sys_id: 'a1', short_description: 'outlook not sending since 9', opened_at: openedAt },
        { sys_id: 'b2', short_description: 'please order a new laptop charger', opened_at: openedAt },
      ],
    });
    assert.equal(matched.status, 200);
    const [outlook, charger] = matched.body.results;
    assert.equal(outlook.matches[0].issue, issue.id);
    assert.match(outlook.matches[0].why, /outlook/i);
    assert.deepEqual(charger.matches, [], 'none is a valid answer');

    const bad = await call(insights, 'POST', '/api/m365/match', {
      incidents: [{ sys_id: 'x', short_description: 'y', opened_at: 'yesterday' }],
    });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /opened_at/);
    assert.equal((await call(requester, 'GET', '/api/m365/issues')).status, 403);

    // Recommended solutions: the knowledge base and Learn, merged, one per URL.
    const found = await call(insights, 'GET', '/api/m365/solutions?q=outlook%20not%20sending%20email');
    assert.equal(found.status, 200, JSON.stringify(found.body));
    const sources = new Set(found.body.items.map((s: { source: string }) => s.source));
    assert.deepEqual([...sources].sort(), ['knowledge', 'learn'], JSON.stringify(found.body));
    const urls = found.body.items.map((s: { url: string }) => s.url);
    assert.equal(new Set(urls).size, urls.length);
    assert.deepEqual(found.body.warnings, []);
    const none = await call(insights, 'GET', '/api/m365/solutions?q=');
    assert.equal(none.status, 400);
    assert.match(JSON.stringify(none.body), /q/);
  } finally {
    await env.close();
  }
});

test('Test setup: each m365 check passes or names its fix', async () => {
  const env = await startM365(async ({ sandbox, control }) => {
    // No ServiceMessage.Read.All, and no knowledge API plugin.
    const roles = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/entra/apps', {
      clientId: sandbox.microsoft.apps.ticketloop.clientId,
      roles: [EM_READWRITE, SERVICE_HEALTH_READ],
    });
    assert.equal(roles.status, 201);
  });
  try {
    const off = await env.control(
      env.sandbox.servicenow.baseUrl,
      'PUT',
      '/_sandbox/servicenow/plugins',
      { sn_km_api: false },
      env.basic,
    );
    assert.equal(off.status, 200);
    const results = (await runChecks(env.app, FLOW_MODULES)).filter((r) => r.target === 'm365 m365');
    const by = Object.fromEntries(results.map((r) => [r.check, r]));
    assert.equal(by['read service health'].ok, true);
    assert.equal(by['read the message center'].ok, false);
    assert.match(by['read the message center'].fix!, /ServiceMessage\.Read\.All.*admin consent/);
    assert.equal(by['knowledge search'].ok, true);
    assert.match(by['knowledge search'].detail, /plugin not active: articles will come from the Table API/);
    assert.equal(by['Microsoft Learn search'].ok, true);
  } finally {
    await env.close();
  }
});
