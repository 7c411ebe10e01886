// One engine worker process for the engine benchmark: runs no-op jobs until none are left,
// then prints its claim latencies (ms) as JSON.
import { openStore } from '../src/store/db.ts';
import { Engine } from '../src/engine/engine.ts';
import { countJobsByState } from '../src/engine/jobs.ts';

const store = await openStore({ databaseUrl: process.env.DATABASE_URL, dataDir: process.env.DATA_DIR!, poolSize: 8 });
const claims: number[] = [];
let finished = 0;
const engine = new Engine({
  store,
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  pollIntervalMs: 5,
  metrics: { claimLatency: (ms) => claims.push(ms), jobFinished: () => void finished++ },
});
engine.register('bench.noop', async () => {});
process.stdout.write('ready\n');
await new Promise<void>((r) => process.stdin.once('data', () => r()));
process.stdin.destroy(); // an open stdin would keep this process alive
engine.start();
for (;;) {
  await new Promise((r) => setTimeout(r, 50));
  const c = await countJobsByState(store.db);
  if (process.env.BENCH_DEBUG) process.stderr.write(`worker: ${JSON.stringify(c)}\n`);
  if (c.ready === 0 && c.running === 0) break;
}
await engine.stop();
await store.close();
process.stdout.write(`${JSON.stringify({ finished, claims })}\n`, () => process.exit(0));
