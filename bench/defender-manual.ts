/**
 * Defender "Create assignment" benchmark (`npx tsx bench/defender-manual.ts`): one recommendation
 * unhealthy on 1,000 resources (a generated ARM set), all of them picked in ONE manual assignment
 * through the API as the console does (recommendations → resources → create), then the engine
 * drained until the ticket and every governance assignment are written. Then an automatic pass over
 * the same resources, which must write nothing and keep the assignment's owner and due date; then
 * an edit of its owner and due date, which rewrites the ticket's people and every governance assignment.
 * The sandbox runs in a child process (bench/sandbox-child.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { buildTicketloop, createLogger } from '../src/app/build.ts';
import { validateConfig } from '../src/app/config.ts';
import { ITSM_MODULES } from '../src/app/registry.ts';
import type { OutboundCall } from '../src/connectors/http.ts';
import { loadFlowState } from '../src/engine/flow.ts';
import { FLOW, type ItemState } from '../src/flows/defender/flow.ts';
import { defenderModule } from '../src/flows/defender/module.ts';
import { reconcileNow } from '../src/flows/defender/runtime.ts';
import { defenderDb } from '../src/flows/defender/tables.ts';
import { renderTable, saveResult, type Metric } from './lib.ts';
import { startSandboxChild } from './sandbox-child.ts';

const RESOURCES = 1000;
const SUBSCRIPTION = '00000000-0000-4000-8000-00000000a551';
const NAME = 'bench-manual';
const OWNER = 'beth.anglin@example.com';

const dir = mkdtempSync(join(tmpdir(), 'tl-bench-defender-manual-'));
const sandbox = await startSandboxChild(join(dir, 'sandbox'));
try {
  const s = sandbox.info;
  const agent = new Agent({ connect: { ca: s.ca } });
  const generated = await request(`${s.armUrl}/_sandbox/azure/generate`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      subscriptionId: SUBSCRIPTION,
      count: RESOURCES,
      recommendations: 1,
      unhealthyRatio: 1,
      seed: 7,
    }),
  });
  if (generated.statusCode >= 400) throw new Error(`generate → ${generated.statusCode} ${await generated.body.text()}`);
  await generated.body.text();
  await agent.close();

  const config = validateConfig(
    {
      dataDir: join(dir, 'tl'),
      log: { level: 'warn' },
      engine: { concurrency: 32, pollIntervalMs: 20 },
      servicenow: [
        {
          name: 'sandbox',
          instanceUrl: s.sn.baseUrl,
          caFile: s.caPath,
          auth: {
            type: 'oauth',
            grant: 'client_credentials',
            clientId: s.sn.oauth.clientId,
            clientSecret: s.sn.oauth.clientSecret,
          },
          pollIntervalSeconds: 3600,
        },
      ],
      microsoft: { ...s.ms, armUrl: s.armUrl, caFile: s.caPath },
      integrations: [
        {
          name: NAME,
          type: 'defender',
          // The benchmark runs the pass itself: no schedule.
          enabled: false,
          servicenow: 'sandbox',
          scope: `/subscriptions/${SUBSCRIPTION}`,
          grouping: 'recommendation',
          dailyCap: 0,
          mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
        },
      ],
    },
    'bench',
  );
  const app = await buildTicketloop(config, {
    logger: createLogger('warn'),
    itsm: ITSM_MODULES,
    flows: [defenderModule],
  });
  let calls: OutboundCall[] = [];
  const record = app.outbound.record.bind(app.outbound);
  app.outbound.record = (c: OutboundCall) => {
    calls.push({ upstream: c.upstream, method: c.method, url: '', status: c.status, durationMs: 0 });
    record(c);
  };
  const count = () => ({
    sn: calls.filter((c) => c.upstream === 'servicenow' && !c.url.includes('oauth_token')).length,
    snWrites: calls.filter((c) => c.upstream === 'servicenow' && c.method !== 'GET').length,
    armGets: calls.filter((c) => c.upstream === 'arm' && c.method === 'GET').length,
    armWrites: calls.filter((c) => c.upstream === 'arm' && c.method !== 'GET').length,
  });
  try {
    const { token } = await app.identity.tokens.create(
      { kind: 'service', name: 'bench-operator', roles: ['operator'] },
      'bench',
    );
    const api = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => {
      const r = await app.http.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
      if (r.statusCode >= 400) throw new Error(`${method} ${url} → ${r.statusCode} ${r.body}`);
      return r.json();
    };
    // What the console's Create assignment page reads first.
    const { recommendations } = await api('GET', `/api/defender/integrations/${NAME}/recommendations`);
    const key = recommendations[0].assessmentKey as string;
    const { resources } = await api('GET', `/api/defender/integrations/${NAME}/recommendations/${key}/resources`);
    const resourceIds = (resources as { resourceId: string }[]).map((r) => r.resourceId);
    if (resourceIds.length !== RESOURCES)
      throw new Error(`${resourceIds.length} unhealthy resources, not ${RESOURCES}`);

    console.error(`creating one manual assignment of ${RESOURCES} resources…`);
    calls = [];
    const t0 = performance.now();
    const created = await api('POST', '/api/defender/assignments', {
      integration: NAME,
      assessmentKey: key,
      resourceIds,
      assignedTo: OWNER,
      ticketType: 'change_request',
      remediationTimeframeDays: 10,
      gracePeriod: false,
    });
    const answeredS = (performance.now() - t0) / 1000;
    await app.engine.drain(1_000_000);
    const writtenS = (performance.now() - t0) / 1000;
    const c1 = count();
    const db = defenderDb(app.store.db);
    const governed = await db
      .selectFrom('defender_assessment')
      .select((eb) => eb.fn.count('governed_ticket').as('n'))
      .where('integration', '=', NAME)
      .executeTakeFirstOrThrow();
    const item = (
      await db
        .selectFrom('defender_manual_assignment')
        .select('item')
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow()
    ).item;
    const before = (await loadFlowState<ItemState>(app.store.db, FLOW, item))!;
    console.error(`  answered ${answeredS.toFixed(1)} s, all written ${writtenS.toFixed(1)} s`, c1, governed);
    if (!before.ticket || Number(governed.n) !== RESOURCES)
      throw new Error('not every governance assignment is written');

    console.error('automatic pass over the same resources…');
    calls = [];
    const t1 = performance.now();
    const pass = await reconcileNow(app, NAME);
    await app.engine.drain();
    const passS = (performance.now() - t1) / 1000;
    const c2 = count();
    const after = (await loadFlowState<ItemState>(app.store.db, FLOW, item))!;
    const kept =
      after.owner === before.owner && after.dueAt === before.dueAt && after.ticket?.key === before.ticket.key;
    console.error(`  pass ${passS.toFixed(1)} s`, c2, { kept });

    console.error('editing its owner and due date…');
    calls = [];
    const t2 = performance.now();
    await api('PATCH', `/api/defender/assignments/${created.id}`, {
      assignedTo: 'david.miller@example.com',
      remediationTimeframeDays: 20,
    });
    await app.engine.drain(1_000_000);
    const editS = (performance.now() - t2) / 1000;
    const c3 = count();
    console.error(`  edit ${editS.toFixed(1)} s`, c3);

    const per = (n: number) => Number((n / RESOURCES).toFixed(3));
    const results: Metric[] = [
      {
        metric: 'POST /api/defender/assignments answered (1,000 resources checked in ARM)',
        value: Number(answeredS.toFixed(1)),
        unit: 's',
      },
      {
        metric: 'until the ticket and all 1,000 governance assignments are written',
        value: Number(writtenS.toFixed(1)),
        unit: 's',
        note: `${before.ticket.key}; ${Number(governed.n).toLocaleString('en-US')} governance assignments`,
      },
      {
        metric: 'ServiceNow calls per resource',
        value: per(c1.sn),
        unit: 'calls',
        note: `${c1.sn} in all, ${c1.snWrites} write (one ticket for the 1,000); the rest are look-ups`,
      },
      {
        metric: 'ARM calls per resource',
        value: per(c1.armGets + c1.armWrites),
        unit: 'calls',
        note: `${c1.armGets} GET (each resource's assessment checked), ${c1.armWrites} governance PUT`,
      },
      {
        metric: 'automatic pass over the same resources',
        value: Number(passS.toFixed(1)),
        unit: 's',
        note: `${pass.pages} ARM page(s)`,
      },
      {
        metric: 'writes by that pass (ServiceNow + ARM)',
        value: c2.snWrites + c2.armWrites,
        unit: 'calls',
        target: '0',
        met: c2.snWrites + c2.armWrites === 0,
        note: `${c2.sn} ServiceNow calls, ${c2.armGets} ARM GET`,
      },
      {
        metric: "after that pass: the assignment's owner, due date and ticket kept",
        value: kept ? 'yes' : 'no',
        unit: '',
        target: 'yes',
        met: kept,
      },
      {
        metric: 'edit (owner + due date) until the ticket and all governance assignments are rewritten',
        value: Number(editS.toFixed(1)),
        unit: 's',
        target: `${RESOURCES} PUT, 2 ServiceNow writes`,
        met: c3.armWrites === RESOURCES && c3.snWrites === 2,
        note: `${c3.armWrites} governance PUT, ${c3.snWrites} ServiceNow writes (people, work note)`,
      },
    ];
    const saved = saveResult({
      name: 'defender-manual',
      results,
      notes: [
        'Sandbox (ServiceNow, Entra, ARM) in a child process; Ticketloop on SQLite, engine concurrency 32.',
        `One generated recommendation unhealthy on ${RESOURCES.toLocaleString('en-US')} resources; one manual assignment (change request, owner ${OWNER}, 10 days, no grace) of all of them through the API, as the console makes it.`,
      ],
    });
    process.stdout.write(renderTable(saved));
  } finally {
    await app.stop();
  }
} finally {
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
}
