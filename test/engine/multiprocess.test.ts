import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { Engine } from '../../src/engine/engine.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import type { Store } from '../../src/store/db.ts';
import { describeEachDialect, type TestDatabase } from '../helpers/dialects.ts';

const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));

function startWorker(tdb: TestDatabase, env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, DATA_DIR: tdb.dataDir, ...(tdb.url ? { DATABASE_URL: tdb.url } : {}), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
  return { child, ready };
}

/** The workers' scratch table (made by the worker fixture). */
const scratch = (store: Store) => store.db as unknown as Kysely<any>;

async function runsPerKey(store: Store, prefix: string): Promise<Map<string, number>> {
  const rows = await scratch(store).selectFrom('mp_run').select('key').where('key', 'like', `run:${prefix}%`).execute();
  const m = new Map<string, number>();
  for (const r of rows) {
    const jobKey = r.key.split(':')[1];
    m.set(jobKey, (m.get(jobKey) ?? 0) + 1);
  }
  return m;
}

await describeEachDialect('engine across processes', (ctx) => {
  test('a worker killed mid-job: the job runs again elsewhere and completes once', async () => {
    const engine = new Engine({ store: ctx.store, leaseMs: 1_500, pollIntervalMs: 20 });
    await engine.enqueue({ kind: 'mp.slow', key: 'slow-1' });
    const w = startWorker(ctx.tdb, { LEASE_MS: '1500', SLOW_MS: '60000', WORKER_ID: 'doomed' });
    await w.ready;
    // Wait until the child has started the job, then kill it without warning.
    for (let i = 0; i < 200; i++) {
      const started = await scratch(ctx.store)
        .selectFrom('mp_run')
        .select('key')
        .where('key', 'like', 'started:slow-1:%')
        .execute();
      if (started.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    w.child.kill('SIGKILL');
    await once(w.child, 'exit').catch(() => {});
    const [mid] = await listJobs(ctx.store.db, { kind: 'mp.slow' });
    assert.equal(mid.state, 'running');
    assert.equal(mid.lease_owner, 'doomed');

    // A second real process picks it up once the lease has run out.
    const w2 = startWorker(ctx.tdb, { LEASE_MS: '1500', SLOW_MS: '10', WORKER_ID: 'survivor', EXIT_WHEN_IDLE: '1' });
    await w2.ready;
    await once(w2.child, 'exit');
    const [job] = await listJobs(ctx.store.db, { kind: 'mp.slow' });
    assert.equal(job.state, 'done');
    assert.equal(job.attempts, 2);
    assert.equal((await runsPerKey(ctx.store, 'slow-1')).get('slow-1'), 1, 'completed exactly once');
  });

  test('two processes claiming 1,000 jobs: each job runs exactly once', async () => {
    const engine = new Engine({ store: ctx.store });
    await engine.enqueue(Array.from({ length: 1000 }, (_, i) => ({ kind: 'mp.count', key: `count-${i}` })));
    const workers = [1, 2].map((n) => startWorker(ctx.tdb, { WORKER_ID: `w${n}`, EXIT_WHEN_IDLE: '1' }));
    await Promise.all(workers.map((w) => once(w.child, 'exit')));
    const runs = await runsPerKey(ctx.store, 'count-');
    assert.equal(runs.size, 1000, 'every job ran');
    const twice = [...runs].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'no job ran twice');
    const byWorker = await scratch(ctx.store)
      .selectFrom('mp_run')
      .select(['worker', (eb) => eb.fn.countAll<number>().as('n')])
      .where('key', 'like', 'run:count-%')
      .groupBy('worker')
      .execute();
    assert.ok(byWorker.length >= 1);
  });
});
