// Runs every test/**/*.test.ts with Node's own test runner (Node 20 has no --test globbing).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const only = process.argv.slice(2);
const files = (only.length ? only : find('test')).sort();
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
