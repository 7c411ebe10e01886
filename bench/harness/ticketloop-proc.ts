/**
 * Ticketloop as a real process (`ticketloop start --config <file>`, from the sources or compiled), the
 * way an operator runs it: started, health-checked, killed with SIGKILL and started again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sleep } from './http.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
/** How to run the CLI: from the sources through tsx (tests), or compiled from dist/ as operators do (benchmarks). */
const ENTRY = {
  source: ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts')],
  compiled: [join(REPO, 'dist', 'src', 'cli', 'main.js')],
};

/** A free loopback port (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface InstanceOptions {
  /** The configuration against the sandbox (SandboxInfo.config). */
  base: Record<string, any>;
  dir: string;
  port: number;
  databaseUrl?: string;
  /** HMAC secret of the ServiceNow business-rule webhook (sets servicenow[sandbox].webhook). */
  webhookSecret?: string;
  logLevel?: string;
  engine?: Record<string, number>;
  /** Extra environment for the process. */
  env?: NodeJS.ProcessEnv;
  /** Default 'source' (tests); benchmarks measure 'compiled' (`npm run build` first). */
  runtime?: keyof typeof ENTRY;
}

/** Write this instance's config file; returns its path. */
export function writeInstanceConfig(o: InstanceOptions): string {
  mkdirSync(o.dir, { recursive: true });
  const c = structuredClone(o.base);
  c.dataDir = join(o.dir, 'data');
  c.server = { ...(c.server ?? {}), host: '127.0.0.1', port: o.port };
  c.database = { ...(c.database ?? {}), ...(o.databaseUrl ? { url: o.databaseUrl } : {}) };
  if (!o.databaseUrl) delete c.database.url;
  c.log = { level: o.logLevel ?? 'warn' };
  if (o.engine) c.engine = { ...(c.engine ?? {}), ...o.engine };
  if (o.webhookSecret) {
    for (const sn of c.itsm ?? []) if (sn.name === 'sandbox') sn.webhook = { type: 'hmac', secret: o.webhookSecret };
  }
  const file = join(o.dir, 'ticketloop.json');
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

export class TicketloopProcess {
  child?: ChildProcess;
  readonly configFile: string;
  readonly url: string;
  starts = 0;
  kills = 0;
  private logTail = '';

  constructor(readonly o: InstanceOptions) {
    this.configFile = writeInstanceConfig(o);
    this.url = `http://127.0.0.1:${o.port}`;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start and wait until /healthz answers (bounded). */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(
      process.execPath,
      [...ENTRY[this.o.runtime ?? 'source'], 'start', '--config', this.configFile],
      {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...(this.o.env ?? {}), DATABASE_URL: this.o.databaseUrl ?? '' },
      },
    );
    this.child = child;
    this.starts++;
    child.stderr!.on('data', (b: Buffer) => {
      this.logTail = (this.logTail + b.toString()).slice(-8000);
    });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (child.exitCode !== null) throw new Error(`ticketloop exited (${child.exitCode}) on start:\n${this.logTail}`);
      try {
        const r = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return;
      } catch {
        /* not yet */
      }
      await sleep(100);
    }
    throw new Error(`ticketloop did not answer /healthz in ${timeoutMs} ms:\n${this.logTail}`);
  }

  /** SIGKILL: no shutdown hook runs, leases stay where they were. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || !this.alive) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    this.kills++;
    await exited;
  }

  /** SIGTERM and wait (bounded), then SIGKILL. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || !this.alive) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  get log(): string {
    return this.logTail;
  }

  /** Run a one-shot CLI command against this instance's config (e.g. `jobs list`). */
  cli(args: string[]): { status: number; stdout: string; stderr: string } {
    const r = spawnSync(
      process.execPath,
      [...ENTRY[this.o.runtime ?? 'source'], ...args, '--config', this.configFile],
      {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, ...(this.o.env ?? {}), DATABASE_URL: this.o.databaseUrl ?? '' },
      },
    );
    return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  }
}
