/**
 * The peer for the ingest benchmark: n8n 1.123.81, installed into a scratch directory OUTSIDE the repo
 * (never a project dependency), as the team's peer notes describe. The install is cached across
 * runs: a marker file is written only when `npm install` finished and the binary is there.
 *
 *   npx tsx bench/harness/n8n.ts install     # install (or confirm the cached install), ~3-6 min the first time
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const N8N_VERSION = '1.123.81';
export const N8N_DIR = process.env.TICKETLOOP_N8N_DIR ?? '/tmp/ticketloop-peer-n8n';
const MARKER = join(N8N_DIR, '.installed');

export type N8nInstall = { ok: true; bin: string; version: string } | { ok: false; reason: string };

export function n8nBin(): string {
  return join(N8N_DIR, 'node_modules', '.bin', 'n8n');
}

/** sqlite3 and isolated-vm compiled (their install scripts ran). */
function nativeBuilt(): boolean {
  const nm = join(N8N_DIR, 'node_modules');
  return (
    existsSync(join(nm, 'sqlite3', 'build', 'Release', 'node_sqlite3.node')) &&
    existsSync(join(nm, 'isolated-vm', 'out', 'isolated_vm.node'))
  );
}

/** The cached install, if complete. */
export function cachedN8n(): N8nInstall | undefined {
  if (!existsSync(MARKER) || !existsSync(n8nBin()) || !nativeBuilt()) return undefined;
  try {
    const pkg = JSON.parse(readFileSync(join(N8N_DIR, 'node_modules', 'n8n', 'package.json'), 'utf8')) as {
      version: string;
    };
    if (pkg.version === N8N_VERSION) return { ok: true, bin: n8nBin(), version: pkg.version };
  } catch {
    /* fall through */
  }
  return undefined;
}

/** Install n8n into the scratch directory unless a complete install is cached there. Never throws. */
export async function ensureN8n(log: (s: string) => void = (s) => console.error(s)): Promise<N8nInstall> {
  const cached = cachedN8n();
  if (cached) return cached;
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19) || major > 24) {
    return { ok: false, reason: `n8n ${N8N_VERSION} needs Node >=20.19 <=24 (have ${process.version})` };
  }
  mkdirSync(N8N_DIR, { recursive: true });
  rmSync(MARKER, { force: true });
  writeFileSync(
    join(N8N_DIR, 'package.json'),
    `${JSON.stringify(
      {
        name: 'ticketloop-peer-n8n',
        private: true,
        description: 'Scratch install of n8n for Ticketloop benchmarks (not part of the project)',
        overrides: { xlsx: '0.18.5', 'isolated-vm': '5.0.4' },
        // npm 11 runs no install scripts unless allowed: n8n needs its two native modules built.
        allowScripts: { sqlite3: true, 'isolated-vm': true },
      },
      null,
      2,
    )}\n`,
  );
  log(`installing n8n@${N8N_VERSION} into ${N8N_DIR} (several minutes; log in ${join(N8N_DIR, 'install.log')})…`);
  const t0 = Date.now();
  const code = await new Promise<number>((resolve) => {
    const logPath = join(N8N_DIR, 'install.log');
    writeFileSync(logPath, '');
    const child = spawn('npm', ['install', `n8n@${N8N_VERSION}`, '--no-audit', '--no-fund', '--loglevel=warn'], {
      cwd: N8N_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    const append = (b: Buffer) => writeFileSync(logPath, b, { flag: 'a' });
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    child.on('exit', (c) => resolve(c ?? 1));
    child.on('error', () => resolve(1));
  });
  // Build the native modules explicitly as well (an npm that ignored allowScripts skipped them).
  if (code === 0 && !nativeBuilt()) {
    log('  building sqlite3 and isolated-vm from source…');
    spawnSync('npm', ['rebuild', 'sqlite3', 'isolated-vm'], { cwd: N8N_DIR, stdio: 'ignore', timeout: 900_000 });
  }
  if (code !== 0 || !existsSync(n8nBin()) || !nativeBuilt()) {
    const tail = existsSync(join(N8N_DIR, 'install.log'))
      ? readFileSync(join(N8N_DIR, 'install.log'), 'utf8').trim().split('\n').slice(-5).join(' | ')
      : '';
    return { ok: false, reason: `npm install n8n@${N8N_VERSION} failed (exit ${code}): ${tail.slice(0, 500)}` };
  }
  writeFileSync(MARKER, `${new Date().toISOString()} ${Math.round((Date.now() - t0) / 1000)} s\n`);
  log(`  n8n installed in ${Math.round((Date.now() - t0) / 1000)} s`);
  return cachedN8n() ?? { ok: false, reason: 'installed, but the n8n package could not be read back' };
}

export interface N8nRun {
  port: number;
  /** A scratch user folder (SQLite DB, settings) fresh for this run. */
  userFolder: string;
  tuned: boolean;
  /** Extra CA for the HTTP Request node (the sandbox CA). */
  caFile: string;
}

function n8nEnv(run: N8nRun): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: run.userFolder,
    N8N_USER_FOLDER: run.userFolder,
    N8N_HOST: '127.0.0.1',
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_PORT: String(run.port),
    WEBHOOK_URL: `http://127.0.0.1:${run.port}/`,
    N8N_ENCRYPTION_KEY: 'ticketloop-bench-peer',
    DB_TYPE: 'sqlite',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_PUBLIC_API_DISABLED: 'true',
    N8N_RUNNERS_ENABLED: 'false',
    NODE_ENV: 'production',
    NODE_EXTRA_CA_CERTS: run.caFile,
  };
  if (run.tuned) {
    env.N8N_EXPRESSION_ENGINE = 'legacy';
    env.DB_SQLITE_POOL_SIZE = '4';
  }
  return env;
}

/** The benchmark workflow: Webhook (POST, answer when the last node finishes) → HTTP Request to ServiceNow. */
export function benchWorkflow(opts: { path: string; snBaseUrl: string; user: string; password: string }): unknown {
  const basic = Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
  return {
    id: 'TicketloopBenchWf1',
    name: 'callout to incident',
    active: false,
    settings: { executionOrder: 'v1', saveDataSuccessExecution: 'all' },
    connections: { Webhook: { main: [[{ node: 'Create incident', type: 'main', index: 0 }]] } },
    nodes: [
      {
        id: 'b0f5a8a2-0000-4000-8000-000000000001',
        name: 'Webhook',
        type: 'n8n-nodes-base.webhook',
        typeVersion: 2,
        position: [0, 0],
        webhookId: 'c6f5a8a2-0000-4000-8000-000000000002',
        parameters: { httpMethod: 'POST', path: opts.path, responseMode: 'lastNode', options: {} },
      },
      {
        id: 'b0f5a8a2-0000-4000-8000-000000000003',
        name: 'Create incident',
        type: 'n8n-nodes-base.httpRequest',
        typeVersion: 4.2,
        position: [220, 0],
        parameters: {
          method: 'POST',
          url: `${opts.snBaseUrl}/api/now/table/incident`,
          sendHeaders: true,
          headerParameters: { parameters: [{ name: 'Authorization', value: `Basic ${basic}` }] },
          sendBody: true,
          specifyBody: 'json',
          jsonBody:
            '={{ JSON.stringify({ short_description: "Access request " + $json.body.AccessPackageAssignmentRequestId, description: $json.body.CustomExtensionStageInstanceDetail, correlation_id: "n8n:" + $json.body.CustomExtensionStageInstanceId }) }}',
          options: {},
        },
      },
    ],
  };
}

/** Import and activate the workflow with the n8n CLI (before starting the server). */
export function importWorkflow(run: N8nRun, wf: unknown): void {
  mkdirSync(run.userFolder, { recursive: true });
  const file = join(run.userFolder, 'wf.json');
  writeFileSync(file, JSON.stringify(wf));
  const env = n8nEnv(run);
  for (const args of [
    ['import:workflow', `--input=${file}`],
    ['update:workflow', '--id=TicketloopBenchWf1', '--active=true'],
  ]) {
    const r = spawnSync(n8nBin(), args, { env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`n8n ${args[0]} failed (${r.status}): ${(r.stderr || r.stdout).slice(-800)}`);
  }
}

/** Start n8n and wait until it says the workflow is active (its webhook is registered after /healthz turns green). */
export async function startN8n(run: N8nRun): Promise<ChildProcess> {
  const child = spawn(n8nBin(), ['start'], { env: n8nEnv(run), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`n8n exited (${child.exitCode}): ${output}`);
    if (/Activated workflow/.test(output)) {
      try {
        if ((await fetch(`http://127.0.0.1:${run.port}/healthz`)).ok) return child;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGKILL');
  throw new Error(`n8n did not activate the workflow in 180 s: ${output}`);
}

if (import.meta.filename === process.argv[1] && process.argv[2] === 'install') {
  const r = await ensureN8n();
  console.log(JSON.stringify(r));
  process.exit(r.ok ? 0 : 1);
}
