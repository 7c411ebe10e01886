/**
 * `npm run bench [-- --only engine,ingest]`: every benchmark, one after another, each as its own
 * child process (`npx tsx bench/<name>.ts`), then bench/results/README.md rebuilt from all result
 * files. A benchmark whose file does not exist yet is skipped with a message; a failing one is
 * reported and makes the exit code non-zero, the others still run. Each benchmark writes its own
 * bench/results/<name>.json with the same run's floor beside Ticketloop's figure.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeTable } from './lib.ts';

const ALL = [
  'engine',
  'servicenow',
  'entitlement',
  'defender',
  'defender-manual',
  'ingest',
  'startup',
  'console',
  'pod',
  'pod-extend',
  'm365',
  'm365-health',
];
const { values } = parseArgs({ options: { only: { type: 'string' } } });
const wanted = values.only ? values.only.split(',').map((s) => s.trim()) : ALL;

const outcome: { name: string; result: string; seconds: number }[] = [];
for (const name of wanted) {
  const file = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(file)) {
    console.error(`\n=== ${name}: skipped — bench/${name}.ts does not exist yet`);
    outcome.push({ name, result: 'skipped (no file)', seconds: 0 });
    continue;
  }
  console.error(`\n=== ${name}: npx tsx bench/${name}.ts`);
  const t0 = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn('npx', ['tsx', file], { stdio: 'inherit', cwd: join(import.meta.dirname, '..') });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    child.on('error', () => resolve(1));
  });
  outcome.push({
    name,
    result: code === 0 ? 'ok' : `FAILED (exit ${code})`,
    seconds: Math.round((Date.now() - t0) / 1000),
  });
}

writeTable();
console.error('\n=== summary (bench/results/README.md rebuilt)');
for (const o of outcome) console.error(`  ${o.name.padEnd(12)} ${o.result}${o.seconds ? ` in ${o.seconds} s` : ''}`);
process.exitCode = outcome.some((o) => o.result.startsWith('FAILED')) ? 1 : 0;
