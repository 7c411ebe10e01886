/**
 * Chaos run (`npm run chaos -- [--callouts 10000] [--instances 1|3] [--kills 5] [--fault-rate 0.2]`).
 *
 * The sandbox runs in its own process with real access-package requests waiting for callbacks.
 * Ticketloop runs as 1 (SQLite) or N (one PostgreSQL) real processes; the harness plays Entra (every
 * callout re-sent until some instance answers 2xx), and an IT agent closes tickets as they appear.
 * Meanwhile instance 0 is SIGKILLed `--kills` times at random moments and restarted, and the sandbox
 * injects faults (429 + Retry-After, 5xx, timeouts, dropped webhooks) on ServiceNow and Graph.
 * Faults stay on until 90% of the requests are resumed (bounded), then off; after a bounded wait for quiescence it checks: tickets = accepted callouts with no
 * duplicate correlation id, accepted resumes = resolved tickets with none twice for a request, no job
 * stuck or dead, audit chain intact. Any violation → exit code 1.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPgDatabase } from '../test/helpers/dialects.ts';
import { calloutToken, createWaitingRequests, type Callout } from './harness/entra-requests.ts';
import { sleep } from './harness/http.ts';
import { Closer, resumeCensus, ticketCensus } from './harness/itsm-agent.ts';
import { dueJobs, jobCensus } from './harness/jobs.ts';
import { startSandboxProcess, type SandboxProcess } from './harness/sandbox-proc.ts';
import { freePort, TicketloopProcess } from './harness/ticketloop-proc.ts';
import { saveResult } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    callouts: { type: 'string', default: '10000' },
    instances: { type: 'string', default: '1' },
    kills: { type: 'string', default: '5' },
    'fault-rate': { type: 'string', default: '0.2' },
    'quiesce-timeout': { type: 'string', default: '300' },
    /** Faults stay on after the last callout until 90% of requests are resumed, at most this long (s). */
    'fault-drain': { type: 'string', default: '300' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const N = Number(args.callouts);
const INSTANCES = Number(args.instances);
const KILLS = Number(args.kills);
const FAULT = Number(args['fault-rate']);
const log = (s: string) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${s}`);

const WEBHOOK_SECRET = `chaos-${randomUUID()}`;

function faultSettings(pathPattern: string, extra: Record<string, unknown> = {}) {
  // The 20% split three ways: throttling with Retry-After, server errors, hung-then-dropped connections.
  return {
    rateLimitRate: FAULT * 0.35,
    retryAfterSeconds: 1,
    errorRate: FAULT * 0.35,
    errorStatus: 503,
    timeoutRate: FAULT * 0.3,
    timeoutHangMs: 2000,
    pathPattern,
    ...extra,
  };
}

/** Entra's side: deliver every callout to some live instance, re-sending until a 2xx (bounded). */
class Deliverer {
  accepted = 0;
  duplicates = 0;
  posts = 0;
  resends = 0;
  refused: string[] = [];
  private rr = 0;
  constructor(
    private readonly sb: SandboxProcess,
    private readonly instances: TicketloopProcess[],
    private token: string,
  ) {}

  async deliver(c: Callout): Promise<void> {
    const until = Date.now() + 180_000;
    for (let attempt = 0; Date.now() < until; attempt++) {
      const inst = this.instances[this.rr++ % this.instances.length];
      this.posts++;
      if (attempt > 0) this.resends++;
      try {
        const r = await this.sb.http.call('POST', `${inst.url}/callouts/entitlement`, {
          body: c.payload,
          headers: { authorization: `Bearer ${this.token}` },
          timeoutMs: 15_000,
        });
        if (r.status === 202 || r.status === 200) {
          this.accepted++;
          if (r.json<{ status?: string }>().status === 'duplicate') this.duplicates++;
          return;
        }
        if (r.status < 500 && r.status !== 429 && r.status !== 408) {
          this.refused.push(`${c.stageInstanceId}: ${r.status} ${r.text.slice(0, 200)}`);
          return;
        }
      } catch {
        // No answer: the instance is down or died mid-request. Entra retries.
      }
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
    }
    this.refused.push(`${c.stageInstanceId}: no 2xx within 180 s`);
  }

  async run(callouts: Callout[], concurrency: number): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < callouts.length) await this.deliver(callouts[next++]);
      }),
    );
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-chaos-'));
  log(
    `${N.toLocaleString()} callouts, ${INSTANCES} instance(s), ${KILLS} SIGKILLs, ${Math.round(FAULT * 100)}% faults; scratch ${dir}`,
  );
  const sb = await startSandboxProcess(join(dir, 'sandbox'));
  const db = INSTANCES > 1 ? await createPgDatabase('tl_chaos') : undefined;
  const instances: TicketloopProcess[] = [];
  let closer: Closer | undefined;
  try {
    const base = structuredClone(sb.config);
    // Only the flow under test: its tickets are incidents, opened at the request-created stage.
    base.integrations = [
      {
        name: 'chaos',
        type: 'entitlement',
        servicenow: 'sandbox',
        stages: ['assignmentRequestCreated'],
        table: 'incident',
        onTimeout: 'annotate',
        resumeSource: 'Ticketloop chaos',
      },
    ];
    // Instances on one database share the secret key (it MACs the audit chain they all append to).
    const secretKey = randomBytes(32).toString('base64');
    for (let i = 0; i < INSTANCES; i++) {
      instances.push(
        new TicketloopProcess({
          base,
          dir: join(dir, `tl-${i}`),
          port: await freePort(),
          databaseUrl: db?.url,
          webhookSecret: WEBHOOK_SECRET,
          runtime: 'compiled',
          env: { TICKETLOOP_SECRET_KEY: secretKey },
        }),
      );
    }
    for (const inst of instances) await inst.start();
    const victim = instances[0];
    await sb.sn('PUT', '/_sandbox/servicenow/webhooks', [
      {
        table: 'incident',
        url: `${victim.url}/webhooks/servicenow/sandbox`,
        events: ['insert', 'update'],
        auth: { type: 'hmac', secret: WEBHOOK_SECRET },
      },
    ]);

    const callouts = await createWaitingRequests(sb, N, `${victim.url}/callouts/entitlement`, log);
    const token = await calloutToken(sb);

    // Faults on: ServiceNow Table API (+ dropped business-rule webhooks) and Graph (callouts stay dropped: the harness delivers them).
    await sb.sn('PUT', '/_sandbox/faults', faultSettings('^/api/', { dropWebhookRate: FAULT }));
    await sb.ms('PUT', '/_sandbox/faults', faultSettings('^/(v1\\.0|beta)/', { dropWebhookRate: 1 }));
    closer = new Closer(sb);
    closer.start();

    const deliverer = new Deliverer(sb, instances, token);
    const t0 = Date.now();
    const sending = deliverer.run(callouts, 32);
    let sendingDone = false;
    void sending.then(() => (sendingDone = true));

    // Kills at random moments: most while callouts pour in, the last while the backlog drains.
    const during = Math.max(0, KILLS - 1);
    const thresholds = Array.from({ length: during }, () => 0.05 + Math.random() * 0.85).sort();
    const kill = async (why: string) => {
      await sleep(Math.random() * 500);
      log(`SIGKILL instance 0 (${why})`);
      await victim.kill();
      await sleep(Math.random() * 1500);
      await victim.start();
      log(`instance 0 back (start #${victim.starts})`);
    };
    for (const th of thresholds) {
      while (!sendingDone && deliverer.accepted < th * N) await sleep(50);
      await kill(`${deliverer.accepted.toLocaleString()} callouts accepted`);
    }
    await sending;
    const sendS = (Date.now() - t0) / 1000;
    log(
      `all callouts delivered in ${sendS.toFixed(1)} s: ${deliverer.accepted} accepted, ${deliverer.resends} re-sends, ${deliverer.duplicates} duplicate answers, ${deliverer.refused.length} refused`,
    );
    if (KILLS > during) {
      await sleep(2000 + Math.random() * 8000);
      await kill('while the backlog drains');
    }

    // Faults stay on while most of the backlog drains (tickets opened, closed, resumed), then off.
    const faultsUntil = Date.now() + Number(args['fault-drain']) * 1000;
    while (Date.now() < faultsUntil) {
      const r = await resumeCensus(sb).catch(() => undefined);
      if (r && r.accepted >= 0.9 * deliverer.accepted) break;
      if (r) log(`  under faults: resumes ${r.accepted}/${deliverer.accepted}`);
      await sleep(5000);
    }
    const underFaults = {
      tickets: await ticketCensus(sb).then(
        (x) => x.tickets,
        () => NaN,
      ),
      resumes: await resumeCensus(sb).then(
        (x) => x.accepted,
        () => NaN,
      ),
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    await sb.sn('PUT', '/_sandbox/faults', { dropWebhookRate: 0 });
    await sb.ms('PUT', '/_sandbox/faults', { dropWebhookRate: 1 });
    log('faults off; waiting for quiescence…');
    const until = Date.now() + Number(args['quiesce-timeout']) * 1000;
    const dbRef = { databaseUrl: db?.url, dataDir: join(victim.o.dir, 'data') };
    let quiet = false;
    while (Date.now() < until) {
      const t = await ticketCensus(sb);
      const r = await resumeCensus(sb);
      const due = await dueJobs(dbRef);
      if (t.tickets >= deliverer.accepted && t.resolved === t.tickets && r.accepted >= t.resolved && due === 0) {
        quiet = true;
        break;
      }
      log(
        `  tickets ${t.tickets}/${deliverer.accepted}, resolved ${t.resolved}, resumes ${r.accepted}, due jobs ${due}`,
      );
      await sleep(5000);
    }
    await closer.stop();
    await sleep(3000); // anything in flight lands

    const t = await ticketCensus(sb);
    const r = await resumeCensus(sb);
    const jobs = await jobCensus(dbRef);
    const audit = victim.cli(['audit', 'verify']);
    const deadList = victim.cli(['jobs', 'dead']);
    const expected = deliverer.accepted; // each callout counted once, at its first 2xx
    const report = {
      callouts: N,
      instances: INSTANCES,
      kills: instances.reduce((s, i) => s + i.kills, 0),
      faultRate: FAULT,
      sendSeconds: Math.round(sendS),
      underFaults,
      accepted: expected,
      posts: deliverer.posts,
      resends: deliverer.resends,
      duplicateAnswers: deliverer.duplicates,
      refused: deliverer.refused.length,
      ticketsOpened: t.correlations,
      ticketRows: t.tickets,
      ticketsDuplicated: t.duplicated,
      ticketsResolved: t.resolved,
      closerCloses: closer.closes,
      resumesAccepted: r.accepted,
      resumesRejected: r.rejected,
      resumedRequests: r.requests,
      resumesDuplicated: r.duplicated,
      jobsStuck: jobs.stuck,
      jobsDead: jobs.dead,
      timersPending: jobs.timers,
      jobsByState: jobs.byState,
      auditOk: audit.status === 0,
      quiescent: quiet,
    };
    const violations: string[] = [];
    if (report.refused)
      violations.push(`${report.refused} callouts refused: ${deliverer.refused.slice(0, 3).join(' | ')}`);
    if (expected !== N) violations.push(`accepted ${expected} ≠ ${N} callouts sent`);
    if (t.correlations !== expected)
      violations.push(`tickets opened ${t.correlations} ≠ accepted callouts ${expected}`);
    if (t.duplicated) violations.push(`${t.duplicated} correlation ids have more than one ticket`);
    if (r.accepted !== t.resolved) violations.push(`accepted resumes ${r.accepted} ≠ resolved tickets ${t.resolved}`);
    if (r.duplicated) violations.push(`${r.duplicated} requests were resumed more than once`);
    if (t.resolved !== t.tickets) violations.push(`${t.tickets - t.resolved} tickets still open`);
    if (jobs.stuck) violations.push(`${jobs.stuck} jobs stuck`);
    if (jobs.dead) violations.push(`${jobs.dead} jobs dead: ${JSON.stringify(jobs.deadSamples).slice(0, 400)}`);
    if (!report.auditOk) violations.push(`audit verify failed: ${audit.stdout}${audit.stderr}`);
    if (!quiet) violations.push('no quiescence before the timeout');

    console.log(
      `\nChaos run — ${INSTANCES} instance(s), ${report.kills} SIGKILLs, ${Math.round(FAULT * 100)}% faults on ServiceNow and Graph`,
    );
    console.log(
      `  callouts accepted (2xx)   ${expected} of ${N}  (${report.resends} re-sends, ${report.duplicateAnswers} answered "duplicate")`,
    );
    console.log(
      `  tickets opened            ${t.correlations}  (rows ${t.tickets}, duplicated correlation ids ${t.duplicated})`,
    );
    console.log(`  tickets resolved          ${t.resolved}  (closer PATCHes ${closer.closes})`);
    console.log(
      `  resumes accepted          ${r.accepted}  (requests ${r.requests}, duplicated ${r.duplicated}, rejected by Graph ${r.rejected})`,
    );
    console.log(
      `  jobs stuck / dead         ${jobs.stuck} / ${jobs.dead}  (timers pending ${jobs.timers}; ${JSON.stringify(jobs.byState)})`,
    );
    console.log(`  audit chain               ${report.auditOk ? 'intact' : 'BROKEN'}`);
    console.log(
      `  ticketloop jobs dead:\n${deadList.stdout
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}`,
    );
    console.log(violations.length ? `\nVIOLATIONS:\n  ${violations.join('\n  ')}` : '\nall checks passed');
    if (args.json) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(args.json, JSON.stringify({ ...report, violations }, null, 2));
    }
    const m = (metric: string, value: number | string, unit = '', target?: string, met?: boolean) => ({
      metric,
      value,
      unit,
      ...(target ? { target, met } : {}),
    });
    saveResult({
      name: `chaos-${INSTANCES === 1 ? 'single' : `${INSTANCES}-instances`}`,
      results: [
        m('callouts accepted (2xx)', expected, `of ${N}`, `= ${N}`, expected === N),
        m('tickets opened (distinct correlation ids)', t.correlations, '', '= accepted', t.correlations === expected),
        m('tickets duplicated', t.duplicated, '', '0', t.duplicated === 0),
        m('tickets resolved by the agent', t.resolved),
        m('resumes accepted by Graph', r.accepted, '', '= resolved', r.accepted === t.resolved),
        m('requests resumed more than once', r.duplicated, '', '0', r.duplicated === 0),
        m('resumes rejected by Graph (re-sent after a lost answer)', r.rejected),
        m('jobs stuck', jobs.stuck, '', '0', jobs.stuck === 0),
        m('jobs dead', jobs.dead, '', '0', jobs.dead === 0),
        m('audit chain', report.auditOk ? 'intact' : 'BROKEN', '', 'intact', report.auditOk),
        m('callout re-sends (no answer: process dead)', report.resends),
        m('SIGKILLs', report.kills),
        m('time to deliver all callouts', report.sendSeconds, 's'),
        m(
          `tickets opened / resumes accepted while faults were on (${report.underFaults.seconds} s)`,
          `${report.underFaults.tickets} / ${report.underFaults.resumes}`,
        ),
      ],
      notes: [
        `${INSTANCES} Ticketloop process(es) on ${INSTANCES > 1 ? 'one PostgreSQL' : 'SQLite'}; instance 0 SIGKILLed and restarted at random moments; ${Math.round(FAULT * 100)}% faults (429 + Retry-After, 503, hung connections; ${Math.round(FAULT * 100)}% of ServiceNow webhooks dropped) on the ServiceNow Table API and Graph.`,
        ...(violations.length ? [`VIOLATIONS: ${violations.join('; ')}`] : ['all checks passed']),
      ],
    });
    return violations.length ? 1 : 0;
  } finally {
    await closer?.stop();
    for (const i of instances) await i.stop().catch(() => {});
    await sb.close();
    await db?.drop().catch(() => {});
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((e) => {
  console.error(e);
  return 1;
});
