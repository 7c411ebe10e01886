/**
 * Entitlement callout benchmark (`npx tsx bench/entitlement.ts`).
 *
 * Three processes: this one (orchestrator + the sandbox), Ticketloop (compiled, harness/entitlement-server.mjs,
 * SQLite), and the load generator (`--load`, autocannon, its own process). Measures:
 *  1. callouts accepted durably per second and p50/p99 at 128 connections (10 s, engine off so the
 *     intake alone is measured; every callout a distinct stage instance id; pre-minted tokens);
 *  2. 20,000 callouts turned into sandbox tickets end to end (engine on), Ticketloop peak RSS;
 *  3. ticket closed → resume received by Graph, with push (webhook) and with polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { percentile, renderTable, saveResult, type Metric } from './lib.ts';

const CONNECTIONS = 128;
const INTAKE_SECONDS = 10;
const E2E_N = 20_000;
const RESUME_N = 20;
const POLL_SECONDS = 5;
/** `TL_BENCH_PHASES=intake,e2e,resume` (default all) — for trying one part. */
const PHASES = new Set((process.env.TL_BENCH_PHASES ?? 'intake,e2e,resume').split(','));
const EM_APP = '810dcf14-1858-4bf2-8134-4c369fa3235b';
/** The Ticketloop process's entry on the compiled runtime (needs `npm run build`). */
const SERVER = join(import.meta.dirname, 'harness', 'entitlement-server.mjs');

// ---- Ticketloop child -----------------------------------------------------------------------

// ---- load child: autocannon, each request a new stage instance id ----------------------------

async function load(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon'); // CommonJS, no bundled types
  const o = JSON.parse(process.env.TL_LOAD!) as {
    url: string;
    tokens: string[];
    template: string;
    prefix: string;
    amount?: number;
    duration?: number;
  };
  let n = 0;
  const parts = o.template.split('@@ID@@');
  const result = await autocannon({
    url: o.url,
    connections: CONNECTIONS,
    // autocannon ignores `duration` when `amount` is set: one or the other.
    ...(o.amount ? { amount: o.amount } : { duration: o.duration }),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: Record<string, unknown>) => {
          const i = n++;
          const id = `${o.prefix}-${(i & 0xffff).toString(16).padStart(4, '0')}-4000-8000-${i.toString(16).padStart(12, '0')}`;
          return {
            ...req,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${o.tokens[i % o.tokens.length]}` },
            body: parts.join(id),
          };
        },
      },
    ],
  });
  process.stdout.write(
    `${JSON.stringify({ sent: n, ok2xx: result['2xx'], non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, duration: result.duration, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max })}\n`,
  );
}

// ---- orchestrator ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (line: string) => process.stderr.write(`[bench/entitlement] ${line}\n`);

function child(args: string[], env: Record<string, string>): { proc: ChildProcess; firstLine: Promise<any> } {
  const prof =
    args[0] === '--server' && process.env.TL_BENCH_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TL_BENCH_PROF}`]
      : [];
  // The Ticketloop process runs the compiled JavaScript (dist/), as `ticketloop start` does.
  const entry = args[0] === '--server' ? [SERVER] : ['--import', 'tsx', import.meta.filename, ...args];
  const proc = spawn(process.execPath, [...prof, ...entry], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const firstLine = new Promise<any>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { proc, firstLine };
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function stop(p: ChildProcess): Promise<void> {
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await done;
}

async function main(): Promise<void> {
  const { startSandbox } = await import('../sandbox/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'tl-bench-ent-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const agent = new Agent({ connect: { ca: sandbox.tls.ca }, connections: 8 });
  const call = async (method: string, url: string, json?: unknown, headers: Record<string, string> = {}) => {
    const r = await request(url, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        accept: 'application/json',
        ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, body: text ? JSON.parse(text) : undefined };
  };
  const sn = sandbox.servicenow;
  const ms = sandbox.microsoft;
  const basic = `Basic ${Buffer.from(`${sn.credentials.itil.username}:${sn.credentials.itil.password}`).toString('base64')}`;
  const WEBHOOK_SECRET = 'bench-webhook-secret';
  const connections = (await import('../src/cli/demo.ts')).sandboxConnections(sandbox);
  const configFor = (dbDir: string, o: { webhook: boolean; concurrency?: number }) => ({
    dataDir: dbDir,
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    engine: { concurrency: o.concurrency ?? 16, pollIntervalMs: 50 },
    servicenow: [
      {
        ...connections.servicenow,
        pollIntervalSeconds: POLL_SECONDS,
        ...(o.webhook ? { webhook: { type: 'hmac', secret: WEBHOOK_SECRET } } : {}),
      },
    ],
    microsoft: connections.microsoft,
    integrations: [{ name: 'bench', type: 'entitlement', servicenow: 'sandbox' }],
  });
  const startServer = async (name: string, o: { webhook: boolean; engine: boolean; concurrency?: number }) => {
    const dbDir = join(dir, name);
    const c = child(['--server'], { TL_BENCH: JSON.stringify({ config: configFor(dbDir, o), engine: o.engine }) });
    const { url } = await c.firstLine;
    return { proc: c.proc, url: url as string, dbDir };
  };
  const tokens = await Promise.all(
    Array.from({ length: 8 }, () =>
      ms.entra.issueToken({ clientId: EM_APP, audience: ms.apps.ticketloop.clientId, version: 1 }),
    ),
  );
  const requestId = randomUUID();
  const template = JSON.stringify({
    AccessPackageAssignmentRequestId: requestId,
    CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${requestId}/resume`,
    CustomExtensionStageInstanceId: '@@ID@@',
    Stage: 'AssignmentRequestApproved',
    RequestType: 'UserAdd',
    State: 'Delivering',
    Status: 'WaitingForCallback',
    Answers: [{ AnsweredQuestion: { TextString: 'Business justification' }, Value: 'Month-end close' }],
    CallbackConfiguration: { DurationBeforeTimeout: 'P14D' },
    AccessPackage: { Id: randomUUID(), DisplayName: 'Finance app', Description: 'SAP finance' },
    AccessPackageCatalog: { Id: randomUUID(), DisplayName: 'Finance', Description: 'Finance apps' },
    Assignment: {
      Id: randomUUID(),
      State: null,
      Status: null,
      AssignmentPolicy: { Id: randomUUID(), DisplayName: 'Ticketed' },
      Target: {
        Id: randomUUID(),
        ObjectId: randomUUID(),
        DisplayName: 'Adele Vance',
        Email: 'adele@contoso.test',
        PrincipalName: 'adele@contoso.test',
      },
    },
    Requestor: { Id: randomUUID(), ObjectId: randomUUID(), DisplayName: 'Adele Vance' },
  });
  const runLoad = async (url: string, o: { amount?: number; duration?: number }) => {
    const prefix = randomUUID().slice(0, 8);
    const c = child(['--load'], {
      TL_LOAD: JSON.stringify({ url: `${url}/callouts/entitlement`, tokens, template, prefix, ...o }),
    });
    const r = await c.firstLine;
    await new Promise((res) => (c.proc.exitCode !== null ? res(null) : c.proc.once('exit', res)));
    return r;
  };
  const results: Metric[] = [];
  const notes: string[] = [
    `Load average at start (other work on the shared machine): ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}.`,
  ];

  try {
    // 1. Intake.
    if (PHASES.has('intake')) {
      progress('intake: 2 s warm-up, then 10 s at 128 connections');
      const s = await startServer('intake', { webhook: false, engine: false });
      await runLoad(s.url, { duration: 2 }); // warm-up: JWKS fetched once, JIT
      const r = await runLoad(s.url, { duration: INTAKE_SECONDS });
      const rss = peakRssMb(s.proc.pid!);
      await stop(s.proc);
      const { default: SQLite } = await import('better-sqlite3');
      const db = new SQLite(join(s.dbDir, 'ticketloop.db'), { readonly: true });
      const stored = (db.prepare("select count(*) n from flow_state where flow = 'entitlement'").get() as { n: number })
        .n;
      const jobs = (db.prepare("select count(*) n from jobs where kind like 'entitlement.%'").get() as { n: number }).n;
      db.close();
      const rate = Math.round(r.ok2xx / (r.duration || INTAKE_SECONDS));
      results.push(
        {
          metric: `callouts accepted durably (202), ${CONNECTIONS} connections, ${INTAKE_SECONDS} s`,
          value: rate,
          unit: 'callouts/s',
          target: '>= 8000',
          met: rate >= 8000,
        },
        { metric: 'callout latency p50', value: r.p50, unit: 'ms' },
        { metric: 'callout latency p99', value: r.p99, unit: 'ms', target: '<= 20', met: r.p99 <= 20 },
        { metric: 'non-2xx / errors / timeouts', value: `${r.non2xx} / ${r.errors} / ${r.timeouts}`, unit: '' },
        { metric: 'Ticketloop peak RSS during intake', value: rss, unit: 'MB' },
      );
      notes.push(
        `Intake: ${r.ok2xx} callouts answered 202; ${stored} items stored (incl. warm-up), ${jobs} effect jobs; engine off so only the intake is measured.`,
      );
    }

    // 2. End to end: callouts → sandbox tickets, engine on.
    if (PHASES.has('e2e')) {
      progress(`end to end: ${E2E_N} callouts → sandbox tickets`);
      const s = await startServer('e2e', { webhook: false, engine: true, concurrency: 64 });
      const count = async () => {
        const r = await call(
          'GET',
          `${sn.baseUrl}/api/now/table/sc_req_item?sysparm_query=correlation_idSTARTSWITHtl:entitlement:&sysparm_limit=1&sysparm_fields=sys_id`,
          undefined,
          { authorization: basic },
        );
        return Number(r.headers['x-total-count'] ?? 0);
      };
      const before = await count();
      const cpu0 = { tl: cpuSeconds(s.proc.pid!), sandbox: process.cpuUsage() };
      const t0 = performance.now();
      const r = await runLoad(s.url, { amount: E2E_N });
      const accepted = performance.now() - t0;
      let n = 0;
      let maxRss = 0;
      const deadline = Date.now() + 600_000;
      let lastLog = 0;
      while ((n = (await count()) - before) < r.ok2xx && Date.now() < deadline) {
        maxRss = Math.max(maxRss, peakRssMb(s.proc.pid!));
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          process.stderr.write(`  e2e: ${n} tickets after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
        }
        await sleep(500);
      }
      const seconds = (performance.now() - t0) / 1000;
      maxRss = Math.max(maxRss, peakRssMb(s.proc.pid!));
      const sb = process.cpuUsage(cpu0.sandbox);
      const cpuMs = { tl: ((cpuSeconds(s.proc.pid!) - cpu0.tl) * 1000) / n, sandbox: (sb.user + sb.system) / 1000 / n };
      await stop(s.proc);
      const rate = Math.round(n / seconds);
      results.push(
        {
          metric: `${E2E_N.toLocaleString('en-US')} callouts → sandbox tickets, end to end`,
          value: rate,
          unit: 'tickets/s',
          target: '>= 3000',
          met: rate >= 3000,
          note: `${n} tickets in ${seconds.toFixed(1)} s; callouts all accepted after ${(accepted / 1000).toFixed(1)} s`,
        },
        { metric: 'Ticketloop peak RSS (end to end)', value: maxRss, unit: 'MB', target: '<= 300', met: maxRss <= 300 },
        {
          metric: 'CPU per ticket: Ticketloop (intake + engine + ServiceNow client)',
          value: Number(cpuMs.tl.toFixed(2)),
          unit: 'ms',
        },
        {
          metric: 'CPU per ticket: sandbox ServiceNow (lookup + create, HTTPS)',
          value: Number(cpuMs.sandbox.toFixed(2)),
          unit: 'ms',
        },
        {
          metric: 'ceiling on this machine: 2 cores / (Ticketloop + sandbox CPU per ticket)',
          value: Math.round(2000 / (cpuMs.tl + cpuMs.sandbox)),
          unit: 'tickets/s',
          note: 'before the load generator takes its share',
        },
      );
    }

    // 3. Ticket closed → resume received, push and poll.
    for (const push of PHASES.has('resume') ? [true, false] : []) {
      progress(`close → resume (${push ? 'push' : 'poll'}), ${RESUME_N} tickets`);
      // A fresh instance's first poll would otherwise catch up on the end-to-end phase's 20,000 tickets
      // first, and this phase would measure that backlog instead of the close → resume path.
      await call('DELETE', `${sn.baseUrl}/_sandbox/servicenow/table/sc_req_item`);
      const s = await startServer(push ? 'push' : 'poll', { webhook: push, engine: true });
      await call(
        'PUT',
        `${sn.baseUrl}/_sandbox/servicenow/webhooks`,
        push
          ? [
              {
                table: 'sc_req_item',
                url: `${s.url}/webhooks/servicenow/sandbox`,
                events: ['update'],
                auth: { type: 'hmac', secret: WEBHOOK_SECRET },
              },
            ]
          : [],
      );
      const tok = (
        await call('POST', `${ms.baseUrl}/_sandbox/entra/token`, {
          clientId: ms.apps.ticketloop.clientId,
          audience: 'https://graph.microsoft.com',
          roles: ['EntitlementManagement.ReadWrite.All'],
        })
      ).body.access_token;
      const g = (method: string, path: string, json?: unknown) =>
        call(method, `${ms.baseUrl}/v1.0/identityGovernance/entitlementManagement${path}`, json, {
          authorization: `Bearer ${tok}`,
        });
      const cat = (await g('POST', '/catalogs', { displayName: `bench ${push}` })).body;
      const ext = (
        await g('POST', `/catalogs/${cat.id}/customWorkflowExtensions`, {
          '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
          displayName: 'Ticketloop',
          endpointConfiguration: {
            '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
            url: `${s.url}/callouts/entitlement`,
          },
          authenticationConfiguration: {
            '@odata.type': '#microsoft.graph.azureAdTokenAuthentication',
            resourceId: ms.apps.ticketloop.clientId,
          },
          callbackConfiguration: { timeoutDuration: 'P14D' },
        })
      ).body;
      const pkg = (await g('POST', '/accessPackages', { displayName: 'bench', catalog: { id: cat.id } })).body;
      const pol = (
        await g('POST', '/assignmentPolicies', {
          displayName: 'bench',
          accessPackage: { id: pkg.id },
          allowedTargetScope: 'allMemberUsers',
          customExtensionStageSettings: [{ stage: 'assignmentRequestApproved', customExtension: { id: ext.id } }],
        })
      ).body;
      const users = (await call('POST', `${ms.baseUrl}/_sandbox/entra/users`, { count: RESUME_N })).body.value as {
        id: string;
      }[];
      const reqs = await Promise.all(
        users.map(
          async (u) =>
            (
              await g('POST', '/assignmentRequests', {
                requestType: 'adminAdd',
                assignment: { targetId: u.id, assignmentPolicyId: pol.id, accessPackageId: pkg.id },
              })
            ).body.id as string,
        ),
      );
      const tickets: { sysId: string; requestId: string }[] = [];
      for (const requestId of reqs) {
        for (let i = 0; i < 400; i++) {
          const r = await g('GET', `/assignmentRequests/${requestId}`);
          const inst = r.body.customExtensionCalloutInstances?.[0]?.id;
          const t =
            inst &&
            (
              await call(
                'GET',
                `${sn.baseUrl}/api/now/table/sc_req_item?sysparm_query=correlation_id=tl:entitlement:${inst}&sysparm_fields=sys_id`,
                undefined,
                { authorization: basic },
              )
            ).body.result[0];
          if (t) {
            tickets.push({ sysId: t.sys_id, requestId });
            break;
          }
          await sleep(50);
        }
      }
      progress(`  ${tickets.length} tickets open`);
      const latencies: number[] = [];
      for (const t of tickets) {
        const closedAt = Date.now();
        await call(
          'PATCH',
          `${sn.baseUrl}/api/now/table/sc_req_item/${t.sysId}`,
          { state: '3', close_notes: 'bench' },
          { authorization: basic },
        );
        let rec: { receivedAt: string } | undefined;
        for (let i = 0; i < 1000 && !rec; i++) {
          rec = (await call('GET', `${ms.baseUrl}/_sandbox/graph/resumes?requestId=${t.requestId}`)).body.value.find(
            (x: { accepted: boolean }) => x.accepted,
          );
          if (!rec) await sleep(20);
        }
        if (rec) latencies.push(Date.parse(rec.receivedAt) - closedAt);
        else progress(`  no resume seen for ${t.requestId}`);
        if (!push) await sleep(Math.random() * 1000); // spread closes over the poll cycle
      }
      await stop(s.proc);
      progress(`  latencies (ms): ${latencies.join(' ')}`);
      latencies.sort((a, b) => a - b);
      const p50 = percentile(latencies, 50);
      const max = latencies[latencies.length - 1] ?? NaN;
      const target = push ? 1000 : POLL_SECONDS * 1000 + 1000;
      results.push(
        {
          metric: `close → resume, ${push ? 'pushed (webhook)' : `polling every ${POLL_SECONDS} s`}: p50`,
          value: p50,
          unit: 'ms',
        },
        {
          metric: `close → resume, ${push ? 'pushed (webhook)' : `polling every ${POLL_SECONDS} s`}: max of ${latencies.length}`,
          value: max,
          unit: 'ms',
          target: `<= ${target}`,
          met: max <= target && latencies.length === RESUME_N,
        },
      );
    }
    await call('PUT', `${sn.baseUrl}/_sandbox/servicenow/webhooks`, []);
    notes.push(
      'Ticketloop (SQLite, one process) and autocannon (one process) each take one of the 2 cores; the sandbox runs in the orchestrator process.',
      'Tokens: 8 pre-minted Entra v1 tokens (Entra reuses a token for many callouts); each token is RS256-verified once, then served from the verified-token cache until it expires.',
      'Intake: callouts arriving in the same event-loop turn are stored in one transaction (group commit); end to end: engine concurrency 64, every ticket = correlation lookup + create on the sandbox.',
      "What limits the intake: Ticketloop's one thread at 100% CPU — HTTP and JSON parsing, validation, templates, 4 row writes per callout (state, 2 jobs, audit row with its hash) and ~14% GC; latency is one group commit of the ~128 callouts in flight, so p99 follows throughput.",
      'What limits end to end: CPU. The "CPU per ticket" rows give the ceiling for 2 cores before autocannon takes its share; 3,000 tickets/s does not fit on this machine with the sandbox on it.',
      'What limits RSS: ~170 MB is Node + tsx at start (tsx runs its loader in a second V8 isolate); under this allocation rate V8 grows the heap to ~200 MB while ~60 MB is live. Run with NODE_OPTIONS=--max-old-space-size=256 and the same run stays near 290 MB at the same throughput.',
    );
    // A partial run (TL_BENCH_PHASES) keeps the other phases' last numbers.
    const file = join(import.meta.dirname, 'results', 'entitlement.json');
    const previous =
      PHASES.size < 3 && existsSync(file)
        ? (JSON.parse(readFileSync(file, 'utf8')) as { results: Metric[]; notes?: string[] })
        : undefined;
    const merged = [
      ...(previous?.results ?? []).filter((m) => !results.some((x) => x.metric === m.metric)),
      ...results,
    ];
    const r = saveResult({
      name: 'entitlement',
      results: merged,
      notes: [...new Set([...(previous?.notes ?? []).filter((x) => !x.startsWith('Load average')), ...notes])],
    });
    process.stdout.write(`\n${renderTable(r)}\n`);
  } finally {
    await agent.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Last, so every module-level constant above is initialised before any mode runs.
const mode = process.argv[2];
if (mode === '--load') await load();
else await main();
