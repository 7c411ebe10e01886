import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * Benchmark results: one JSON file per benchmark in bench/results/, and a Markdown table
 * (bench/results/README.md) rebuilt from all of them, which the project README links.
 */
export interface Metric {
  metric: string;
  value: number | string;
  unit: string;
  /** e.g. ">= 5000" — shown beside the value; `met` says whether it was reached. */
  target?: string;
  met?: boolean;
  note?: string;
}

export interface BenchResult {
  name: string;
  date: string;
  machine: { cores: number; memoryGiB: number; node: string };
  results: Metric[];
  notes?: string[];
}

// A compiled run (runCompiled) lives elsewhere and is told where the results go.
export const RESULTS_DIR = process.env.TL_BENCH_RESULTS ?? join(import.meta.dirname, 'results');

/**
 * Run this benchmark again as plain `node` on an esbuild bundle of it, the way Ticketloop runs in
 * production (compiled): under tsx the loader alone adds ~60 MB to the process whose memory is
 * measured. Resolves with the exit code, or undefined when this already is the compiled run.
 */
export async function runCompiled(file: string): Promise<number | undefined> {
  if (process.env.TL_BENCH_COMPILED) return undefined;
  const { build } = await import('esbuild');
  // Inside node_modules, so the bundle's bare imports (the packages, kept external) resolve.
  const outfile = join(import.meta.dirname, '..', 'node_modules', '.cache', 'ticketloop-bench', 'bench.mjs');
  await build({ entryPoints: [file], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile });
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TL_BENCH_COMPILED: '1', TL_BENCH_RESULTS: RESULTS_DIR },
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

export function machine() {
  return { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function saveResult(r: Omit<BenchResult, 'date' | 'machine'>): BenchResult {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const full: BenchResult = { ...r, date: new Date().toISOString(), machine: machine() };
  writeFileSync(join(RESULTS_DIR, `${r.name}.json`), `${JSON.stringify(full, null, 2)}\n`);
  writeTable();
  return full;
}

function fmt(v: number | string): string {
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

export function renderTable(r: BenchResult): string {
  const rows = r.results.map(
    (m) =>
      `| ${m.metric} | ${fmt(m.value)} ${m.unit} | ${m.target ?? ''} | ${m.met === undefined ? '' : m.met ? 'yes' : '**no**'} | ${m.note ?? ''} |`,
  );
  return [
    `### ${r.name}`,
    '',
    `${r.date.slice(0, 10)} · ${r.machine.cores} cores · Node ${r.machine.node}`,
    '',
    '| metric | value | target | met | note |',
    '|---|---|---|---|---|',
    ...rows,
    ...(r.notes?.length ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}

/** Rebuild bench/results/README.md from every JSON result. */
export function writeTable(): void {
  const files = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const parts = files.map((f) => renderTable(JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as BenchResult));
  writeFileSync(
    join(RESULTS_DIR, 'README.md'),
    `# Benchmark results\n\nWritten by the scripts in \`bench/\` (\`npm run bench\`); one JSON file per benchmark beside this file.\n\n${parts.join('\n')}`,
  );
}
