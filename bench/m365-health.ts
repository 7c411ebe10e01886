/**
 * Service-health sync benchmark (`npx tsx bench/m365-health.ts [--issues 2000]`): the Graph twin
 * in-process with its 143 seeded issues plus N added ones, the store on SQLite. A first pass stores
 * everything; then passes with nothing changed must make only the page reads and 0 writes (the
 * issue's cost target); then one new post must make exactly one write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { EntraTokenSource } from '../src/connectors/microsoft/identity.ts';
import { GRAPH_SCOPE, GraphClient } from '../src/connectors/microsoft/graph.ts';
import { ServiceHealthClient } from '../src/connectors/microsoft/service-health.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrations.ts';
import { m365HealthMigrations } from '../src/flows/m365/health/store.ts';
import { syncHealth } from '../src/flows/m365/health/sync.ts';
import { startMicrosoftSandbox } from '../sandbox/microsoft/index.ts';
import { ensureSandboxTls } from '../sandbox/shared/tls.ts';
import { percentile, renderTable, saveResult, type Metric } from './lib.ts';

const ADDED = process.argv.includes('--issues') ? Number(process.argv[process.argv.indexOf('--issues') + 1]) : 2000;
const UNCHANGED_PASSES = 10;
const SERVICES = ['Exchange Online', 'Microsoft Teams', 'SharePoint Online', 'Microsoft 365 suite'];

const dir = mkdtempSync(join(tmpdir(), 'tl-bench-m365-'));
const tls = ensureSandboxTls(join(dir, 'tls'));
const sb = await startMicrosoftSandbox({ dataDir: join(dir, 'sandbox'), tls });
const agent = new Agent({ connect: { ca: tls.ca } });
const control = async (path: string, body: unknown) => {
  const r = await request(`${sb.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  const text = await r.body.text();
  if (r.statusCode !== 201) throw new Error(`${path}: ${r.statusCode} ${text}`);
  return JSON.parse(text) as { id: string };
};

try {
  for (let i = 0; i < ADDED; i++)
    await control('/_sandbox/m365/issues', {
      title: `Bench issue ${i}: users may be unable to reach a feature`,
      service: SERVICES[i % SERVICES.length],
      impactDescription: 'Users may be unable to reach a feature.',
      status: i % 3 === 0 ? 'serviceDegradation' : 'serviceRestored',
      content: `<p>Current status: Bench post ${i}.</p><p>Scope of impact: Some users.</p>`,
    });

  const tokens = new EntraTokenSource({
    authorityHost: sb.authorityHost,
    tenantId: sb.tenantId,
    clientId: sb.apps.ticketloop.clientId,
    clientSecret: sb.apps.ticketloop.clientSecret,
    ca: tls.ca,
  });
  const graph = new GraphClient({ graphUrl: sb.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca: tls.ca });
  const client = new ServiceHealthClient(graph);
  const store = await openStore({ dataDir: join(dir, 'db') });
  await migrateToLatest(store, [m365HealthMigrations]);
  const pass = async () => {
    const t0 = performance.now();
    const r = await syncHealth({ client, db: store.db, integration: 'bench', now: () => sb.clock.now() });
    return { ...r, ms: performance.now() - t0 };
  };

  const first = await pass();
  const unchanged = [];
  for (let i = 0; i < UNCHANGED_PASSES; i++) unchanged.push(await pass());
  const [someIssue] = first.newIssues;
  await control(`/_sandbox/m365/issues/${someIssue}/posts`, { content: '<p>Current status: Bench update.</p>' });
  const onePost = await pass();

  const issues = first.newIssues.length;
  const ms = unchanged.map((p) => p.ms).sort((a, b) => a - b);
  const maxWrites = Math.max(...unchanged.map((p) => p.writes));
  const pageReads = unchanged[0].pageReads;
  const expectedPages = Math.ceil(issues / 1000) + 1;
  const results: Metric[] = [
    { metric: 'issues synced', value: issues, unit: 'issues' },
    { metric: 'first pass', value: Math.round(first.ms), unit: 'ms', note: `${first.writes} writes` },
    {
      metric: 'unchanged pass: writes',
      value: maxWrites,
      unit: 'writes',
      target: '= 0',
      met: maxWrites === 0,
      note: `max over ${UNCHANGED_PASSES} passes`,
    },
    {
      metric: 'unchanged pass: page reads',
      value: pageReads,
      unit: 'GETs',
      target: `= ${expectedPages} (pages of 1000 + messages)`,
      met: unchanged.every((p) => p.pageReads === expectedPages && p.reportReads === 0),
    },
    { metric: 'unchanged pass p50', value: Math.round(percentile(ms, 50)), unit: 'ms' },
    { metric: 'unchanged pass max', value: Math.round(ms[ms.length - 1]), unit: 'ms' },
    {
      metric: 'one new post: writes',
      value: onePost.writes,
      unit: 'writes',
      target: '= 1',
      met: onePost.writes === 1 && onePost.changedIssues.length === 1,
    },
  ];
  const saved = saveResult({
    name: 'm365-health',
    results,
    notes: [`Graph twin in-process (HTTPS), store on SQLite; ${ADDED} issues added to the 143 seeded ones.`],
  });
  console.log(renderTable(saved));
  await graph.close();
  await tokens.close();
  await store.close();
  if (results.some((m) => m.met === false)) process.exitCode = 1;
} finally {
  await agent.close();
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
}
