/**
 * The sandbox (ServiceNow, Microsoft, Azure) in its own process, so the load and the processes
 * under test do not share an event loop with it. The child prints one JSON line (`SandboxInfo`)
 * and lives until its stdin closes. It also computes the configuration Ticketloop runs with against
 * it (`sandboxConfig`, the same the demo uses), so every flow's demo integration comes along.
 *
 *   child:  node --import tsx bench/harness/sandbox-proc.ts <dataDir>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Http } from './http.ts';

export interface SandboxInfo {
  caPath: string;
  ca: string;
  servicenow: {
    baseUrl: string;
    itil: { username: string; password: string };
    admin: { username: string; password: string };
  };
  microsoft: { baseUrl: string; tenantId: string };
  azure: { baseUrl: string };
  /** Ticketloop's configuration against this sandbox (validated; dataDir/server/database set per instance). */
  config: Record<string, any>;
}

export interface SandboxProcess extends SandboxInfo {
  http: Http;
  /** Admin call on one of the services. */
  sn<T = any>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
  ms<T = any>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
  child: ChildProcess;
  close(): Promise<void>;
}

export async function startSandboxProcess(dataDir: string): Promise<SandboxProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sandbox process exited (${code})`)));
  });
  const info = JSON.parse(line) as SandboxInfo;
  const http = new Http(info.ca, 128);
  const adminAuth = `Basic ${Buffer.from(`${info.servicenow.admin.username}:${info.servicenow.admin.password}`).toString('base64')}`;
  return {
    ...info,
    http,
    child,
    sn: (method, path, body) =>
      http.ok(method, `${info.servicenow.baseUrl}${path}`, body, { authorization: adminAuth }),
    ms: (method, path, body) => http.ok(method, `${info.microsoft.baseUrl}${path}`, body),
    async close() {
      await http.close();
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function runChild(dataDir: string): Promise<void> {
  const { startSandbox } = await import('../../sandbox/index.ts');
  const { loadDemos, sandboxConfig } = await import('../../src/cli/demo.ts');
  const sandbox = await startSandbox({ dataDir });
  const config = sandboxConfig(
    { dataDir: join(dataDir, 'ticketloop'), log: { level: 'warn' } },
    sandbox,
    await loadDemos(),
  );
  const sn = sandbox.servicenow;
  const info: SandboxInfo = {
    caPath: sandbox.tls.caPath,
    ca: sandbox.tls.ca,
    servicenow: { baseUrl: sn.baseUrl, itil: sn.credentials.itil, admin: sn.credentials.admin },
    microsoft: { baseUrl: sandbox.microsoft.baseUrl, tenantId: sandbox.microsoft.tenantId },
    azure: { baseUrl: sandbox.azure.baseUrl },
    config,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void sandbox.close().then(() => process.exit(0)));
}

if (import.meta.filename === process.argv[1]) await runChild(process.argv[2]);
