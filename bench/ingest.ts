/**
 * Callout ingest benchmark (`npx tsx bench/ingest.ts [--duration 20] [--skip-n8n]`).
 *
 * Callouts/s and p50/p99 at 32 and 128 connections (autocannon in its own process, loopback) into:
 *  (a) Ticketloop's POST /callouts/entitlement — a real process on SQLite, engine on (tickets are
 *      opened in the background as in production), real sandbox Entra token, distinct stage ids;
 *  (b) the floor: bare Fastify 5 + one better-sqlite3 insert per request (WAL, synchronous=NORMAL);
 *  (c) the peer: n8n 1.123.81 (scratch install outside the repo), Webhook → HTTP Request to the
 *      ServiceNow sandbox, with its shipped defaults and tuned (legacy expression engine, SQLite pool
 *      4 = WAL); a fresh n8n process per measured run; finished executions counted as tickets created.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { calloutToken } from './harness/entra-requests.ts';
import { startFloor } from './harness/floor-server.ts';
import { sleep } from './harness/http.ts';
import { runLoad, type LoadResult } from './harness/load.ts';
import { benchWorkflow, ensureN8n, importWorkflow, N8N_VERSION, startN8n } from './harness/n8n.ts';
import { startSandboxProcess, type SandboxProcess } from './harness/sandbox-proc.ts';
import { freePort, TicketloopProcess } from './harness/ticketloop-proc.ts';
import { renderTable, saveResult, type Metric } from './lib.ts';

const { values: args } = parseArgs({
  options: { duration: { type: 'string', default: '20' }, 'skip-n8n': { type: 'boolean', default: false } },
});
const DURATION = Number(args.duration);
const LEVELS = [32, 128];
const log = (s: string) => console.error(`[ingest] ${s}`);

/** ~1 KB Entra callout (wire-format §2.3); __UUID__ = request id and stage instance id, fresh per request. */
const BODY = JSON.stringify({
  AccessPackageAssignmentRequestId: '__UUID__',
  CallbackUriPath: '/identityGovernance/entitlementManagement/assignmentRequests/__UUID__/resume',
  CustomExtensionStageInstanceId: '__UUID__',
  CustomExtensionStageInstanceDetail: 'Bench callout',
  Stage: 'AssignmentRequestCreated',
  RequestType: 'UserAdd',
  State: 'Submitted',
  Status: 'WaitingForCallback',
  Answers: [
    {
      AnsweredQuestion: { TextString: 'Business justification' },
      Value: 'Quarter-end reporting needs read access to the finance share.',
    },
  ],
  CallbackConfiguration: { DurationBeforeTimeout: 'P1D' },
  AccessPackage: {
    Id: '7d1f6c2e-1111-4a2b-9c3d-4e5f6a7b8c9d',
    DisplayName: 'Finance reporting',
    Description: 'Read access to finance reports',
  },
  AccessPackageCatalog: {
    Id: '7d1f6c2e-2222-4a2b-9c3d-4e5f6a7b8c9d',
    DisplayName: 'Finance',
    Description: 'Finance resources',
  },
  Assignment: {
    Id: '7d1f6c2e-3333-4a2b-9c3d-4e5f6a7b8c9d',
    State: null,
    Status: null,
    AssignmentPolicy: { Id: '7d1f6c2e-4444-4a2b-9c3d-4e5f6a7b8c9d', DisplayName: 'Employees' },
    Target: {
      Id: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
      ObjectId: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
      DisplayName: 'Adele Vance',
      Email: 'adele.vance@ticketloopsandbox.onmicrosoft.com',
      PrincipalName: 'adele.vance@ticketloopsandbox.onmicrosoft.com',
    },
  },
  Requestor: {
    Id: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
    ObjectId: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
    DisplayName: 'Adele Vance',
  },
});

const ms = (v: number) => Math.round(v);
const metricOf = (system: string, r: LoadResult, extra?: string): Metric => ({
  metric: `c=${r.connections} ${system}`,
  value: r.rps,
  unit: 'callouts/s',
  note: `p50 ${ms(r.p50)} ms / p99 ${ms(r.p99)} ms${r.non2xx || r.errors || r.timeouts ? `; non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}` : ''}${extra ? `; ${extra}` : ''}`,
});

async function incidentCount(sb: SandboxProcess, query: string): Promise<number> {
  const r = await sb.http.call(
    'GET',
    `${sb.servicenow.baseUrl}/api/now/table/incident?sysparm_query=${encodeURIComponent(query)}&sysparm_limit=1&sysparm_fields=sys_id`,
    {
      headers: {
        authorization: `Basic ${Buffer.from(`${sb.servicenow.admin.username}:${sb.servicenow.admin.password}`).toString('base64')}`,
      },
    },
  );
  return Number(r.headers['x-total-count'] ?? 0);
}

async function benchTicketloop(sb: SandboxProcess, dir: string): Promise<Metric[]> {
  const base = structuredClone(sb.config);
  base.integrations = [
    {
      name: 'ingest',
      type: 'entitlement',
      servicenow: 'sandbox',
      stages: ['assignmentRequestCreated'],
      table: 'incident',
    },
  ];
  const tl = new TicketloopProcess({
    base,
    dir: join(dir, 'tl'),
    port: await freePort(),
    logLevel: 'error',
    runtime: 'compiled',
  });
  await tl.start();
  try {
    const headers = { authorization: `Bearer ${await calloutToken(sb)}` };
    const url = `${tl.url}/callouts/entitlement`;
    await runLoad({ url, headers, bodyTemplate: BODY, connections: 8, durationS: 2 }); // warm-up
    const out: Metric[] = [];
    for (const c of LEVELS) {
      const r = await runLoad({ url, headers, bodyTemplate: BODY, connections: c, durationS: DURATION });
      log(`Ticketloop c=${c}: ${r.rps}/s p50 ${r.p50} p99 ${r.p99} (non-2xx ${r.non2xx})`);
      out.push(metricOf('Ticketloop POST /callouts/entitlement (durably accepted)', r));
    }
    return out;
  } finally {
    await tl.stop();
  }
}

async function benchFloor(dir: string): Promise<Metric[]> {
  const floor = await startFloor(join(dir, 'floor.db'));
  try {
    const url = `${floor.url}/callouts`;
    await runLoad({ url, headers: {}, bodyTemplate: BODY, connections: 8, durationS: 2 });
    const out: Metric[] = [];
    for (const c of LEVELS) {
      const r = await runLoad({ url, headers: {}, bodyTemplate: BODY, connections: c, durationS: DURATION });
      log(`floor c=${c}: ${r.rps}/s p50 ${r.p50} p99 ${r.p99}`);
      out.push(metricOf('floor: Fastify 5 + one better-sqlite3 insert (WAL, synchronous=NORMAL)', r));
    }
    return out;
  } finally {
    await floor.close();
  }
}

async function benchN8n(sb: SandboxProcess, dir: string): Promise<{ metrics: Metric[]; notes: string[] }> {
  const install = await ensureN8n(log);
  if (!install.ok) {
    log(`n8n unavailable: ${install.reason}`);
    return {
      metrics: [{ metric: `n8n ${N8N_VERSION}`, value: 'not measured', unit: '', note: install.reason.slice(0, 300) }],
      notes: [],
    };
  }
  const metrics: Metric[] = [];
  for (const tuned of [false, true]) {
    for (const c of LEVELS) {
      const userFolder = join(dir, `n8n-${tuned ? 'tuned' : 'defaults'}-${c}`);
      mkdirSync(userFolder, { recursive: true });
      const run = { port: await freePort(), userFolder, tuned, caFile: sb.caPath };
      const label = `n8n ${N8N_VERSION} ${tuned ? 'tuned (legacy expressions, SQLite pool 4)' : 'shipped defaults'}, respond when done`;
      try {
        importWorkflow(
          run,
          benchWorkflow({
            path: 'callout',
            snBaseUrl: sb.servicenow.baseUrl,
            user: sb.servicenow.itil.username,
            password: sb.servicenow.itil.password,
          }),
        );
        const child = await startN8n(run);
        try {
          const url = `http://127.0.0.1:${run.port}/webhook/callout`;
          const before = await incidentCount(sb, 'correlation_idSTARTSWITHn8n:');
          const r = await runLoad({
            url,
            headers: {},
            bodyTemplate: BODY,
            connections: c,
            durationS: DURATION,
            timeoutS: 30,
          });
          await sleep(5000); // executions still running when the load stopped finish (or not)
          const created = (await incidentCount(sb, 'correlation_idSTARTSWITHn8n:')) - before;
          const perS = Math.round((created / DURATION) * 10) / 10;
          log(`${label} c=${c}: ${r.rps}/s 2xx, ${created} tickets (${perS}/s), p50 ${r.p50} p99 ${r.p99}`);
          metrics.push({
            ...metricOf(label, r, `${created} tickets created = ${perS}/s finished executions`),
            value: perS,
            unit: 'tickets/s',
          });
        } finally {
          child.kill('SIGTERM');
          await Promise.race([new Promise((res) => child.once('exit', res)), sleep(15_000)]);
          if (child.exitCode === null) child.kill('SIGKILL');
        }
      } catch (e) {
        log(`${label} c=${c} failed: ${(e as Error).message.slice(0, 500)}`);
        metrics.push({
          metric: `c=${c} ${label}`,
          value: 'failed',
          unit: '',
          note: (e as Error).message.slice(0, 200).replace(/\n/g, ' '),
        });
      }
    }
  }
  return { metrics, notes: [] };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-bench-ingest-'));
  // A fresh sandbox for each system: Ticketloop's backlog of tickets must not slow n8n's ServiceNow calls.
  const withSandbox = async <T>(name: string, fn: (sb: SandboxProcess) => Promise<T>): Promise<T> => {
    const sb = await startSandboxProcess(join(dir, `sandbox-${name}`));
    try {
      return await fn(sb);
    } finally {
      await sb.close();
    }
  };
  try {
    const floor = await benchFloor(dir);
    const peer = args['skip-n8n']
      ? { metrics: [{ metric: `n8n ${N8N_VERSION}`, value: 'skipped', unit: '', note: '--skip-n8n' }], notes: [] }
      : await withSandbox('n8n', (sb) => benchN8n(sb, dir));
    const tl = await withSandbox('ticketloop', (sb) => benchTicketloop(sb, dir));
    const byLevel = (c: number, ms: Metric[]) => ms.filter((m) => m.metric.startsWith(`c=${c} `));
    const results = LEVELS.flatMap((c) => [
      ...byLevel(c, floor),
      ...byLevel(c, tl),
      ...byLevel(c, peer.metrics),
    ]).concat(peer.metrics.filter((m) => !m.metric.startsWith('c=')));
    const saved = saveResult({
      name: 'ingest',
      results,
      notes: [
        `autocannon in its own process, ${DURATION} s per run, ~1 KB PascalCase callout, every request a fresh stage instance id; all on one 2-core machine shared with other work (a fresh sandbox process per system).`,
        'Ticketloop: real process, SQLite, engine on (tickets are opened against the sandbox while callouts arrive), Entra bearer from the sandbox verified on each request (cached after the first).',
        'n8n: Webhook → HTTP Request POST /api/now/table/incident on the ServiceNow sandbox (NODE_EXTRA_CA_CERTS = sandbox CA); value = tickets created per second of load (finished executions), not 2xx answers; a fresh n8n per run.',
      ],
    });
    console.log(renderTable(saved));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
