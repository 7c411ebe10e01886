/**
 * Engine throughput: enqueue + complete 100,000 no-op jobs on SQLite (one worker process) and on
 * PostgreSQL (two worker processes), with the p99 claim latency; and, in the same run, the floor:
 * raw inserts/s of the same rows with no engine (one autocommitted INSERT per row).
 * Run: npx tsx bench/engine.ts [--jobs N]
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { enqueueJobs, type JobSpec } from '../src/engine/jobs.ts';
import { createTestDatabase, postgresReachable, type TestDatabase } from '../test/helpers/dialects.ts';
import { percentile, renderTable, saveResult, type Metric } from './lib.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '100000' } } });
const N = Number(values.jobs);
const progress = (m: string) => process.stderr.write(`${m}\n`);
const WORKER = fileURLToPath(new URL('./engine-worker.ts', import.meta.url));

function row(i: number, now: number) {
  return [randomUUID(), 'bench.noop', `floor-${i}`, '{}', 'ready', now, 0, 10, null, null, null, now, now, null];
}
const INSERT = `INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, max_attempts, lease_owner, lease_until, last_error, created_at, updated_at, finished_at)`;

async function floorSqlite(tdb: TestDatabase): Promise<number> {
  const db = new Database(join(tdb.dataDir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    `CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT, key TEXT UNIQUE, payload TEXT, state TEXT, run_at INTEGER, attempts INTEGER, max_attempts INTEGER, lease_owner TEXT, lease_until INTEGER, last_error TEXT, created_at INTEGER, updated_at INTEGER, finished_at INTEGER)`,
  );
  const ins = db.prepare(`${INSERT} VALUES (${Array(14).fill('?').join(',')})`);
  const t0 = performance.now();
  const now = Date.now();
  for (let i = 0; i < N; i++) ins.run(...row(i, now));
  const s = (performance.now() - t0) / 1000;
  db.close();
  return N / s;
}

async function floorPostgres(tdb: TestDatabase): Promise<number> {
  const clients = [new pg.Client({ connectionString: tdb.url }), new pg.Client({ connectionString: tdb.url })];
  await Promise.all(clients.map((c) => c.connect()));
  await clients[0].query(`CREATE TABLE floor_jobs (LIKE jobs INCLUDING ALL)`);
  const t0 = performance.now();
  const now = Date.now();
  await Promise.all(
    clients.map(async (c, w) => {
      for (let i = w; i < N; i += clients.length)
        await c.query({
          name: 'floor',
          text: `${INSERT.replace('jobs', 'floor_jobs')} VALUES (${Array.from({ length: 14 }, (_, k) => `$${k + 1}`).join(',')})`,
          values: row(i, now),
        });
    }),
  );
  const s = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return N / s;
}

async function runWorkers(
  tdb: TestDatabase,
  count: number,
): Promise<{ seconds: number; claims: number[]; finished: number }> {
  const workers = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: { ...process.env, DATA_DIR: tdb.dataDir, ...(tdb.url ? { DATABASE_URL: tdb.url } : {}) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outputs = workers.map(
    (w) =>
      new Promise<string>((resolve, reject) => {
        let out = '';
        w.stdout!.on('data', (d) => (out += d));
        w.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}`))));
      }),
  );
  await Promise.all(workers.map((w) => new Promise<void>((r) => w.stdout!.once('data', () => r()))));
  const t0 = performance.now();
  for (const w of workers) w.stdin!.write('go\n');
  const results = (await Promise.all(outputs)).map(
    (o) => JSON.parse(o.trim().split('\n').at(-1)!) as { finished: number; claims: number[] },
  );
  return {
    seconds: (performance.now() - t0) / 1000,
    claims: results.flatMap((r) => r.claims).sort((a, b) => a - b),
    finished: results.reduce((a, r) => a + r.finished, 0),
  };
}

async function benchDialect(dialect: 'sqlite' | 'postgres', workers: number, target: number): Promise<Metric[]> {
  const tdb = await createTestDatabase(dialect);
  try {
    const store = await tdb.open();
    progress(`${dialect}: floor (raw inserts)…`);
    const floor = dialect === 'sqlite' ? await floorSqlite(tdb) : await floorPostgres(tdb);
    progress(`${dialect}: enqueue ${N}…`);
    const now = Date.now();
    const specs: JobSpec[] = Array.from({ length: N }, (_, i) => ({ kind: 'bench.noop', key: `job-${i}` }));
    const t0 = performance.now();
    await enqueueJobs(store.db, specs, now);
    const enqueueSeconds = (performance.now() - t0) / 1000;
    await store.close();
    progress(`${dialect}: run with ${workers} worker(s)…`);
    const run = await runWorkers(tdb, workers);
    const total = enqueueSeconds + run.seconds;
    const jobsPerSecond = N / total;
    const p99 = percentile(run.claims, 99);
    const label = `${dialect}, ${workers} worker${workers > 1 ? 's' : ''}`;
    if (run.finished !== N) throw new Error(`${label}: ${run.finished} of ${N} jobs finished`);
    return [
      {
        metric: `${label}: enqueue + complete ${N.toLocaleString('en-US')} no-op jobs`,
        value: Math.round(jobsPerSecond),
        unit: 'jobs/s',
        target: `>= ${target}`,
        met: jobsPerSecond >= target,
      },
      { metric: `${label}: enqueue only (batched)`, value: Math.round(N / enqueueSeconds), unit: 'jobs/s' },
      { metric: `${label}: claim + run + complete only`, value: Math.round(N / run.seconds), unit: 'jobs/s' },
      {
        metric: `${label}: p99 claim latency`,
        value: Number(p99.toFixed(2)),
        unit: 'ms',
        target: '<= 50',
        met: p99 <= 50,
      },
      { metric: `${label}: p50 claim latency`, value: Number(percentile(run.claims, 50).toFixed(2)), unit: 'ms' },
      {
        metric: `${dialect} floor: raw autocommitted inserts of the same rows, no engine`,
        value: Math.round(floor),
        unit: 'rows/s',
        note: dialect === 'postgres' ? '2 connections' : 'better-sqlite3, WAL, synchronous=NORMAL',
      },
    ];
  } finally {
    await tdb.drop();
  }
}

const results: Metric[] = [...(await benchDialect('sqlite', 1, 5000))];
const notes: string[] = [
  'Each job is claimed with a lease, run, and marked done in its own statement; workers are separate processes.',
];
if (await postgresReachable()) results.push(...(await benchDialect('postgres', 2, 2000)));
else notes.push('PostgreSQL was not reachable: no PostgreSQL figures in this run.');
const r = saveResult({ name: 'engine', results, notes });
process.stdout.write(renderTable(r));
