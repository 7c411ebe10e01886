/**
 * ServiceNow client benchmark (`npx tsx bench/servicenow.ts`).
 *
 * The sandbox runs in a CHILD process (this file with `--sandbox <dir>`), so the peak RSS measured
 * here is the client's alone. Steps: seed 100,000 incidents, stream them all through
 * `listAll` (records/s, peak RSS), then 10,000 changed records caught up by one `pollOnce` (s).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { BasicAuth } from '../src/itsm/servicenow/auth.ts';
import { ServiceNowClient } from '../src/itsm/servicenow/client.ts';
import { MemoryWatermarkStore, ServiceNowPoller } from '../src/itsm/servicenow/poller.ts';
import { formatSnDate } from '../src/itsm/servicenow/query.ts';
import { renderTable, saveResult, type Metric } from './lib.ts';

const LIST_N = 100_000;
const CHANGES_N = 10_000;
const PAGE = 2_000;

if (process.argv[2] === '--sandbox') {
  // Child: start the sandbox, report where it is, live until the parent closes stdin.
  const { ensureSandboxTls } = await import('../sandbox/shared/tls.ts');
  const { startServiceNowSandbox } = await import('../sandbox/servicenow/index.ts');
  const dir = process.argv[3];
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const sn = await startServiceNowSandbox({ dataDir: join(dir, 'data'), tls, seedDemoData: false });
  process.stdout.write(`${JSON.stringify({ baseUrl: sn.baseUrl, ca: tls.ca, itil: sn.credentials.itil })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void sn.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-bench-sn-'));
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--sandbox', dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`sandbox exited (${code})`)));
    });
    const { baseUrl, ca, itil } = JSON.parse(first) as {
      baseUrl: string;
      ca: string;
      itil: { username: string; password: string };
    };
    const agent = new Agent({ connect: { ca }, headersTimeout: 600_000, bodyTimeout: 600_000 });
    const admin = async (method: 'POST' | 'GET', path: string, body?: unknown) => {
      const r = await request(`${baseUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.body.text();
      if (r.statusCode >= 400) throw new Error(`${path} → ${r.statusCode} ${text}`);
      return JSON.parse(text);
    };

    console.error(`seeding ${LIST_N.toLocaleString()} incidents…`);
    const seeded = await admin('POST', '/_sandbox/servicenow/seed', {
      table: 'incident',
      count: LIST_N,
      fields: { short_description: 'Bench incident {n}' },
    });
    console.error(`  seeded in ${seeded.ms} ms`);

    const client = new ServiceNowClient({
      baseUrl,
      ca,
      auth: new BasicAuth(itil.username, itil.password),
      timeoutMs: 120_000,
    });
    const fields = [
      'sys_id',
      'number',
      'state',
      'short_description',
      'correlation_id',
      'sys_updated_on',
      'sys_mod_count',
    ];
    // Warm-up (connection, sandbox query cache), then the measured run.
    await client.list('incident', { allowEmpty: true, pageSize: 10, fields });
    const t0 = performance.now();
    let n = 0;
    for await (const r of client.listAll('incident', {
      allowEmpty: true,
      pageSize: PAGE,
      fields,
      excludeReferenceLink: true,
    })) {
      if (r.sys_id) n++;
    }
    const listS = (performance.now() - t0) / 1000;
    const rssMB = process.resourceUsage().maxRSS / 1024;
    if (n !== LIST_N) throw new Error(`listed ${n}, expected ${LIST_N}`);
    console.error(`  listed ${n} in ${listS.toFixed(2)} s`);

    // Poller catch-up: move the sandbox clock 10 minutes on (so the 100k seeded rows are outside the
    // look-back), set the watermark to that moment, then 10,000 records change.
    const clk = await admin('POST', '/_sandbox/clock', { advanceMs: 10 * 60_000 });
    const offsetMs = clk.offsetMs as number;
    const clock = { now: () => Date.now() + offsetMs };
    const store = new MemoryWatermarkStore();
    let changes = 0;
    const poller = new ServiceNowPoller({
      client,
      table: 'incident',
      store,
      clock,
      pageSize: PAGE,
      onChange: async () => void changes++,
    });
    await store.set('servicenow:incident', JSON.stringify({ ts: formatSnDate(clock.now() - 1000) }));
    await admin('POST', '/_sandbox/servicenow/seed', {
      table: 'incident',
      count: CHANGES_N,
      fields: { short_description: 'Changed {n}' },
    });
    const t1 = performance.now();
    const poll = await poller.pollOnce();
    const pollS = (performance.now() - t1) / 1000;
    if (changes !== CHANGES_N)
      throw new Error(`poller saw ${changes} changes, expected ${CHANGES_N} (${JSON.stringify(poll)})`);
    console.error(`  poller caught ${changes} changes in ${pollS.toFixed(2)} s`);
    await client.close();
    await agent.close();

    const results: Metric[] = [
      {
        metric: `list ${LIST_N.toLocaleString()} incidents (listAll, page ${PAGE})`,
        value: Math.round(n / listS),
        unit: 'records/s',
        target: '>= 20000',
        met: n / listS >= 20_000,
      },
      { metric: 'client peak RSS (maxRSS)', value: Math.round(rssMB), unit: 'MB', target: '<= 200', met: rssMB <= 200 },
      {
        metric: `poller catch-up, ${CHANGES_N.toLocaleString()} changes`,
        value: Number(pollS.toFixed(2)),
        unit: 's',
        target: '<= 5',
        met: pollS <= 5,
      },
    ];
    const saved = saveResult({
      name: 'servicenow',
      results,
      notes: [
        'Sandbox in a child process on the same machine (HTTPS, SQLite-backed); the client process is measured alone.',
        `Fields per record: ${fields.join(', ')}; offset paging for the list, keyset paging (sys_updated_on, sys_id) for the poller.`,
      ],
    });
    console.log(renderTable(saved));
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
