/**
 * Start-up benchmark (`npx tsx bench/startup.ts [--runs N] [--settle-ms MS]`).
 *
 * The real service process, started as an operator starts it: `node bin/ticketloop.js start --config
 * <file>` — so whatever runtime the bin uses (tsx loader today, compiled dist/ later) is what gets
 * measured, with no change here. The config is the idle service: dataDir in a temp dir, a free
 * loopback port, log level warn, SQLite, no integrations. Measured:
 *  1. time from just before spawn to the first `GET /readyz` answering 200 (polled every ~10 ms from
 *     this process), median and max over N starts (default 7), each with a fresh data dir; plus one
 *     start against an existing, already migrated data dir;
 *  2. idle RSS: VmRSS from /proc/<pid>/status, `--settle-ms` (default 2000) after readyz was 200, of
 *     the process that holds the listening socket (found through /proc/net/tcp{,6} → socket inode →
 *     /proc/<pid>/fd among the spawned process and its descendants, so a bin that re-spawns is still
 *     measured on the right process); median over the N starts.
 * Floor: a bare `node -e` Fastify hello-world with a /readyz route, spawned, polled and read the same way.
 *
 * Every child is its own process group (detached); each is stopped after its run (SIGTERM, bounded,
 * then SIGKILL to the group) and any group still alive is SIGKILLed when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, REPO } from './harness/ticketloop-proc.ts';
import { renderTable, saveResult, type Metric } from './lib.ts';

const BIN = join(REPO, 'bin', 'ticketloop.js');
const READY_TARGET_MS = 1_500;
const RSS_TARGET_MB = 90;
const POLL_MS = 10;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const { values } = parseArgs({ options: { runs: { type: 'string' }, 'settle-ms': { type: 'string' } } });
const RUNS = Number(values.runs ?? 7);
const SETTLE_MS = Number(values['settle-ms'] ?? 2_000);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer (got ${values.runs})`);
if (!Number.isFinite(SETTLE_MS) || SETTLE_MS < 0)
  throw new Error(`--settle-ms must be >= 0 (got ${values['settle-ms']})`);

/** A hello-world with nothing but Fastify: what Node + an HTTP framework cost at least. */
const FLOOR_SCRIPT = `
const Fastify = require('fastify');
const app = Fastify({ logger: false });
app.get('/readyz', async () => ({ status: 'ready' }));
app.listen({ host: '127.0.0.1', port: Number(process.argv[1]) }).catch((e) => { console.error(e); process.exit(1); });
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

// ---- child processes: always stopped -------------------------------------------------------

/** Process groups (= pid of the detached child) still possibly alive. */
const liveGroups = new Set<number>();
/** This run's temp dir (config files, data dirs); removed on exit. */
let root: string | undefined;

function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

process.on('exit', () => {
  for (const g of liveGroups) killGroup(g, 'SIGKILL');
  if (root) rmSync(root, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping ${liveGroups.size} child process group(s)`);
    process.exit(130);
  });
}

/** The environment an operator's shell would give, minus anything that would change the config or the runtime flags. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('TICKETLOOP_') || ['DATABASE_URL', 'PORT', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)) delete env[k];
  }
  return env;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One GET /readyz: the status, or null when nothing answered (refused, reset, timeout). */
function probe(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(null));
  });
}

interface Started {
  child: ChildProcess;
  pid: number;
  port: number;
  /** ms from just before spawn to the first answer of any status (the port is listening). */
  listeningMs: number;
  /** ms from just before spawn to the first 200 from /readyz. */
  readyMs: number;
  log: () => string;
}

async function startAndWaitReady(label: string, args: string[], port: number): Promise<Started> {
  let logTail = '';
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childEnv(),
  });
  if (child.pid === undefined) throw new Error(`${label}: spawn failed`);
  liveGroups.add(child.pid);
  child.once('error', (e) => (logTail += `\nspawn error: ${e.message}`));
  child.stderr!.on('data', (b: Buffer) => (logTail = (logTail + b.toString()).slice(-8000)));
  const started = { child, pid: child.pid, port, log: () => logTail };
  let listeningMs: number | undefined;
  try {
    while (performance.now() - t0 < START_TIMEOUT_MS) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before ready:\n${logTail}`);
      const status = await probe(port);
      const at = performance.now() - t0;
      if (status !== null) listeningMs ??= at;
      if (status === 200) return { ...started, listeningMs: listeningMs!, readyMs: at };
      await sleep(POLL_MS);
    }
    throw new Error(`${label}: /readyz not 200 within ${START_TIMEOUT_MS} ms:\n${logTail}`);
  } catch (e) {
    await stop(started);
    throw e;
  }
}

/** SIGTERM the group, wait (bounded) for the child, then SIGKILL whatever is left of the group. */
async function stop(s: { child: ChildProcess; pid: number }): Promise<void> {
  const { child, pid } = s;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    killGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  // A re-spawned grandchild could outlive the child it was started by.
  if (killGroup(pid, 0)) {
    killGroup(pid, 'SIGKILL');
    const until = Date.now() + 5_000;
    while (killGroup(pid, 0) && Date.now() < until) await sleep(20);
  }
  liveGroups.delete(pid);
}

// ---- which pid serves the port --------------------------------------------------------------

/** Inodes of sockets in LISTEN state on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      if (cols.length > 9 && cols[1].endsWith(`:${hexPort}`) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** `root` and all its descendants, parents before children (from /proc/<pid>/stat ppid). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** The process in the spawned tree that holds the listening socket (the deepest if several do). */
function servingPid(root: number, port: number): { pid: number; tree: number[]; comm: string } {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) throw new Error(`no socket listening on port ${port} in /proc/net/tcp{,6}`);
  const tree = processTree(root);
  const holders = tree.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          return !!m && inodes.has(m[1]);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
  if (holders.length === 0)
    throw new Error(`port ${port} is listening, but not by pid ${root} or its descendants (${tree.join(', ')})`);
  const pid = holders.at(-1)!;
  return { pid, tree, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() };
}

function rssMB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

// ---- one measured start ---------------------------------------------------------------------

interface Sample {
  listeningMs: number;
  readyMs: number;
  rssMB: number;
  treeRssMB: number;
  treeSize: number;
  comm: string;
  rootIsServer: boolean;
}

async function measure(label: string, args: string[], port: number): Promise<Sample> {
  const s = await startAndWaitReady(label, args, port);
  try {
    await sleep(SETTLE_MS);
    if (s.child.exitCode !== null || s.child.signalCode !== null)
      throw new Error(`${label} exited while settling:\n${s.log()}`);
    const found = servingPid(s.pid, port);
    let treeRss = 0;
    for (const p of found.tree) {
      try {
        treeRss += rssMB(p);
      } catch {
        /* a helper exited meanwhile */
      }
    }
    const sample = {
      listeningMs: s.listeningMs,
      readyMs: s.readyMs,
      rssMB: rssMB(found.pid),
      treeRssMB: treeRss,
      treeSize: found.tree.length,
      comm: found.comm,
      rootIsServer: found.pid === s.pid,
    };
    console.error(
      `  ${label.padEnd(34)} listening ${sample.listeningMs.toFixed(0).padStart(5)} ms  ready ${sample.readyMs.toFixed(0).padStart(5)} ms  RSS ${sample.rssMB.toFixed(1)} MB (pid ${found.pid}${sample.rootIsServer ? '' : `, under spawned ${s.pid}`}, ${found.tree.length} process(es))`,
    );
    return sample;
  } finally {
    await stop(s);
  }
}

/** Minimal config of the idle service; returns the file. */
function writeConfig(dir: string, dataDir: string, port: number): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'ticketloop.json');
  writeFileSync(
    file,
    JSON.stringify({ dataDir, server: { host: '127.0.0.1', port }, log: { level: 'warn' } }, null, 2),
  );
  return file;
}

async function ticketloop(label: string, dir: string, dataDir: string): Promise<Sample> {
  const port = await freePort();
  const config = writeConfig(dir, dataDir, port);
  return measure(label, [BIN, 'start', '--config', config], port);
}

async function floor(label: string): Promise<Sample> {
  const port = await freePort();
  return measure(label, ['-e', FLOOR_SCRIPT, String(port)], port);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The module specifiers bin/ticketloop.js imports — says which runtime was measured. */
function binImports(): string {
  const text = readFileSync(BIN, 'utf8');
  const specs = [...text.matchAll(/\bimport\s*(?:[^'"();]*?\sfrom\s*)?\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
  return specs.length ? specs.join(', ') : '(none)';
}

// ---- main -----------------------------------------------------------------------------------

root = mkdtempSync(join(tmpdir(), 'tl-bench-startup-'));
// Overall bound: every start and stop is bounded already; this catches anything else.
const watchdog = setTimeout(
  () => {
    console.error('startup benchmark: overall time limit reached');
    process.exit(1);
  },
  (RUNS * 2 + 2) * (START_TIMEOUT_MS + SETTLE_MS + STOP_TIMEOUT_MS + 5_000),
);
watchdog.unref();

try {
  const load = loadavg();
  console.error(`startup: ${RUNS} run(s), settle ${SETTLE_MS} ms, bin imports ${binImports()}`);
  // Unmeasured warm-up: OS file cache (and any runtime transform cache) warm, as on every start but
  // the very first; its data dir is the "existing" one measured at the end.
  const existingDir = join(root, 'existing');
  await ticketloop('warm-up (not counted)', existingDir, join(existingDir, 'data'));
  await floor('floor warm-up (not counted)');

  const tl: Sample[] = [];
  const fl: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so load from other work on the machine falls on both alike.
    const dir = join(root, `fresh-${i}`);
    tl.push(await ticketloop(`ticketloop fresh data dir ${i + 1}/${RUNS}`, dir, join(dir, 'data')));
    rmSync(dir, { recursive: true, force: true });
    fl.push(await floor(`floor ${i + 1}/${RUNS}`));
  }
  const existing = await ticketloop('ticketloop existing data dir', existingDir, join(existingDir, 'data'));

  const ms = (v: number) => Math.round(v);
  const mb = (v: number) => Number(v.toFixed(1));
  const readyMed = median(tl.map((s) => s.readyMs));
  const readyMax = Math.max(...tl.map((s) => s.readyMs));
  const rssMed = median(tl.map((s) => s.rssMB));
  const rssMax = Math.max(...tl.map((s) => s.rssMB));
  const treeSizes = [...new Set([...tl, existing].map((s) => s.treeSize))].join('/');
  const respawned = [...tl, existing].some((s) => !s.rootIsServer);
  const treeRssMed = median(tl.map((s) => s.treeRssMB));

  const results: Metric[] = [
    {
      metric: `start → first /readyz 200, fresh data dir: median of ${RUNS}`,
      value: ms(readyMed),
      unit: 'ms',
      target: `<= ${READY_TARGET_MS}`,
      met: readyMed <= READY_TARGET_MS,
      note: `listening (first answer of any status) median ${ms(median(tl.map((s) => s.listeningMs)))} ms`,
    },
    {
      metric: `start → first /readyz 200, fresh data dir: max of ${RUNS}`,
      value: ms(readyMax),
      unit: 'ms',
      target: `<= ${READY_TARGET_MS}`,
      met: readyMax <= READY_TARGET_MS,
    },
    {
      metric: 'start → first /readyz 200, existing (migrated) data dir',
      value: ms(existing.readyMs),
      unit: 'ms',
      target: `<= ${READY_TARGET_MS}`,
      met: existing.readyMs <= READY_TARGET_MS,
      note: `one start; idle RSS ${mb(existing.rssMB)} MB`,
    },
    {
      metric: `idle RSS ${SETTLE_MS / 1000} s after ready (VmRSS of the listening process): median of ${RUNS}`,
      value: mb(rssMed),
      unit: 'MB',
      target: `<= ${RSS_TARGET_MB}`,
      met: rssMed <= RSS_TARGET_MB,
      note: `max ${mb(rssMax)} MB; process tree of the spawned pid: ${treeSizes} process(es)${respawned ? `, the server is a descendant; whole tree median ${mb(treeRssMed)} MB` : ', the spawned node process itself serves'}`,
    },
    {
      metric: `floor: bare node -e Fastify hello-world, start → first 200: median of ${RUNS}`,
      value: ms(median(fl.map((s) => s.readyMs))),
      unit: 'ms',
      note: `max ${ms(Math.max(...fl.map((s) => s.readyMs)))} ms`,
    },
    {
      metric: `floor: bare node -e Fastify hello-world, idle RSS ${SETTLE_MS / 1000} s after ready: median of ${RUNS}`,
      value: mb(median(fl.map((s) => s.rssMB))),
      unit: 'MB',
      note: `max ${mb(Math.max(...fl.map((s) => s.rssMB)))} MB`,
    },
  ];
  const saved = saveResult({
    name: 'startup',
    results,
    notes: [
      `Load average at start (other work on the shared machine): ${load.map((x) => x.toFixed(1)).join(' / ')}.`,
      `Measured process: \`node bin/ticketloop.js start --config <file>\` (bin/ticketloop.js imports: ${binImports()}), spawned from this process with cwd = the repository; config = dataDir in a temp dir, server 127.0.0.1 on a free port, log.level warn, SQLite, no integrations (the idle service). Environment inherited minus NODE_OPTIONS, DATABASE_URL, PORT, LOG_LEVEL and TICKETLOOP_*.`,
      `Time from just before spawn to the first 200 from GET /readyz, polled every ~${POLL_MS} ms (one new connection per poll); a fresh data dir per run (migrations run, secret key created), runs interleaved with the floor's; one unmeasured warm-up start of each first (OS file cache warm), whose data dir is the "existing" one.`,
      `Idle RSS: VmRSS from /proc/<pid>/status ${SETTLE_MS} ms after ready, of the process holding the listening socket (port → inode in /proc/net/tcp{,6} → /proc/<pid>/fd among the spawned pid and its descendants), so a bin that re-spawns is measured on the right process.`,
      'Floor: `node -e` with only Fastify 5 and one GET /readyz route, spawned, polled and read the same way — what Node and an HTTP framework cost before any Ticketloop code.',
      'Not measured: a start with realistic integrations (entitlement, defender) — those need the sandbox (or real tenants) running; this is the idle service only.',
    ],
  });
  console.log(renderTable(saved));
} finally {
  for (const g of liveGroups) killGroup(g, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
  root = undefined;
}
