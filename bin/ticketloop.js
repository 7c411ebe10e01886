#!/usr/bin/env node
// The `ticketloop` command: runs the compiled JavaScript in dist/ (`npm run build`) with plain Node.
// In a checkout it refuses a missing or stale build (older than a source file) with one line, rather
// than quietly running old code; building here would need the dev toolchain at run time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');

/** Newest modification time of a .ts file under dir (0 when there is none, e.g. no sources shipped). */
function newestSource(dir) {
  let newest = 0;
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
if (!built || Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'sandbox'))) > built) {
  process.stderr.write(
    `ticketloop: ${built ? 'the build in dist/ is older than the sources' : 'no build in dist/'}; run \`npm run build\` first\n`,
  );
  process.exit(1);
}

process.setSourceMapsEnabled(true);
await import(pathToFileURL(entry).href);
