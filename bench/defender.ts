/**
 * Defender reconcile benchmark (`npx tsx bench/defender.ts [--only 100000]`).
 *
 * The sandbox (ServiceNow + Entra + ARM) runs in a CHILD process (this file with `--sandbox <dir>`),
 * so the peak RSS measured here is Ticketloop's alone. Per size: the ARM sandbox generates N
 * assessments over 100 recommendations; an integration groups by recommendation (one ticket per
 * recommendation, no daily cap); the first pass streams every page, opens the tickets and writes
 * a governance assignment per unhealthy assessment; a second pass with nothing changed follows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { buildTicketloop, createLogger } from '../src/app/build.ts';
import { ITSM_MODULES } from '../src/app/registry.ts';
import { validateConfig } from '../src/app/config.ts';
import type { OutboundCall } from '../src/connectors/http.ts';
import { defenderModule } from '../src/flows/defender/module.ts';
import { reconcileNow } from '../src/flows/defender/runtime.ts';
import { renderTable, saveResult, type Metric } from './lib.ts';

const SIZES = process.argv.includes('--only')
  ? [Number(process.argv[process.argv.indexOf('--only') + 1])]
  : [100_000, 1_000_000];
const RECOMMENDATIONS = 100;
const UNHEALTHY = 0.05;
/** A subscription id per size: scopes are validated as ARM scopes, so it must be a GUID. */
const benchSubscription = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

if (process.argv[2] === '--sandbox') {
  const { startSandbox } = await import('../sandbox/index.ts');
  const sb = await startSandbox({ dataDir: process.argv[3] });
  const ms = sb.microsoft;
  process.stdout.write(
    `${JSON.stringify({
      caPath: sb.tls.caPath,
      ca: sb.tls.ca,
      sn: { baseUrl: sb.servicenow.baseUrl, oauth: sb.servicenow.credentials.oauth },
      ms: {
        tenantId: ms.tenantId,
        clientId: ms.apps.ticketloop.clientId,
        clientSecret: ms.apps.ticketloop.clientSecret,
        authorityHost: ms.authorityHost,
        graphUrl: ms.graphUrl,
      },
      armUrl: sb.azure.baseUrl,
    })}\n`,
  );
  process.stdin.resume();
  process.stdin.on('end', () => void sb.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-bench-defender-'));
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--sandbox', join(dir, 'sandbox')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const results: Metric[] = [];
  const notes: string[] = [];
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`sandbox exited (${code})`)));
    });
    const s = JSON.parse(line);
    const agent = new Agent({ connect: { ca: s.ca }, headersTimeout: 600_000, bodyTimeout: 600_000 });
    const admin = async (path: string, body: unknown) => {
      const r = await request(`${s.armUrl}${path}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await r.body.text();
      if (r.statusCode >= 400) throw new Error(`${path} → ${r.statusCode} ${text}`);
      return JSON.parse(text);
    };
    const integrations = SIZES.map((n) => ({
      name: `bench-${n}`,
      type: 'defender',
      // The benchmark runs each pass itself: no schedule (which would start every pass at once).
      enabled: false,
      servicenow: 'sandbox',
      scope: `/subscriptions/${benchSubscription(n)}`,
      grouping: 'recommendation',
      dailyCap: 0,
      mapping: { mode: 'default', assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
      pageSize: 5000,
    }));
    for (const n of SIZES)
      await admin('/_sandbox/azure/generate', {
        subscriptionId: benchSubscription(n),
        count: n,
        recommendations: RECOMMENDATIONS,
        unhealthyRatio: UNHEALTHY,
        seed: 7,
      });

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
            timeoutMs: 120_000,
          },
        ],
        microsoft: { ...s.ms, armUrl: s.armUrl, caFile: s.caPath },
        integrations,
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
      snAll: calls.filter((c) => c.upstream === 'servicenow').length,
      snWrites: calls.filter((c) => c.upstream === 'servicenow' && c.method !== 'GET').length,
      armGets: calls.filter((c) => c.upstream === 'arm' && c.method === 'GET').length,
      armWrites: calls.filter((c) => c.upstream === 'arm' && c.method !== 'GET').length,
    });
    const rss = () => Math.round(process.resourceUsage().maxRSS / 1024);
    try {
      for (const n of SIZES) {
        const label = n.toLocaleString('en-US');
        console.error(`reconciling ${label} assessments…`);
        calls = [];
        const t0 = performance.now();
        const first = await reconcileNow(app, `bench-${n}`);
        const passS = (performance.now() - t0) / 1000;
        await app.engine.drain(1_000_000);
        const totalS = (performance.now() - t0) / 1000;
        const c1 = count();
        console.error(`  pass ${passS.toFixed(1)} s, with effects ${totalS.toFixed(1)} s`, first, c1);
        calls = [];
        const t1 = performance.now();
        const second = await reconcileNow(app, `bench-${n}`);
        await app.engine.drain();
        const secondS = (performance.now() - t1) / 1000;
        const c2 = count();
        console.error(`  unchanged pass ${secondS.toFixed(1)} s`, c2);
        const big = n >= 1_000_000;
        results.push(
          {
            metric: `${label}: first pass (stream + diff + state)`,
            value: Number(passS.toFixed(1)),
            unit: 's',
            ...(big ? { target: '<= 120', met: passS <= 120 } : {}),
          },
          {
            metric: `${label}: first run incl. tickets + governance writes drained`,
            value: Number(totalS.toFixed(1)),
            unit: 's',
            note: `${first.unhealthy.toLocaleString('en-US')} unhealthy`,
          },
          {
            metric: `${label}: ServiceNow calls, first run`,
            value: c1.snAll,
            unit: 'calls',
            note: `${c1.snWrites} writes (ticket creates; the rest are correlation and sys_user look-ups)`,
          },
          {
            metric: `${label}: ARM calls, first run`,
            value: c1.armGets + c1.armWrites,
            unit: 'calls',
            note: `${c1.armGets} GET (pages + metadata), ${c1.armWrites} governance PUT`,
          },
          { metric: `${label}: unchanged second pass`, value: Number(secondS.toFixed(1)), unit: 's' },
          {
            metric: `${label}: ServiceNow writes, unchanged second pass`,
            value: c2.snWrites,
            unit: 'calls',
            target: '0',
            met: c2.snWrites === 0,
            note: `${c2.snAll} ServiceNow calls in all`,
          },
          {
            metric: `${label}: ARM calls, unchanged second pass`,
            value: c2.armGets + c2.armWrites,
            unit: 'calls',
            target: `${second.pages} (pages)`,
            met: c2.armGets + c2.armWrites === second.pages,
          },
          {
            metric: `${label}: Ticketloop peak RSS so far (maxRSS)`,
            value: rss(),
            unit: 'MB',
            ...(big ? { target: '<= 512', met: rss() <= 512 } : {}),
          },
        );
      }
    } finally {
      await app.stop();
    }
    notes.push(
      `Sandbox (ServiceNow, Entra, ARM) in a child process; Ticketloop (SQLite, engine concurrency 32) measured alone. ARM page size $top=5000.`,
      `Generated sets: ${RECOMMENDATIONS} recommendations, ${UNHEALTHY * 100}% unhealthy; grouping by recommendation (one ticket per recommendation), no daily cap; one governance assignment PUT per unhealthy assessment.`,
      'The first pass time is the streaming diff that stores state and enqueues the effects; the "incl." line adds the tickets and governance writes the engine then runs.',
    );
    const saved = saveResult({ name: 'defender', results, notes });
    process.stdout.write(renderTable(saved));
    await agent.close();
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
