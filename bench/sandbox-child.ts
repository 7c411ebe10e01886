/**
 * The whole sandbox (ServiceNow, Entra, ARM) in a child process, so a benchmark measures
 * Ticketloop's memory alone: `startSandboxChild(dir)` spawns this file, which prints one JSON line
 * with what a Ticketloop config needs and stops the sandbox when its stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SandboxInfo {
  caPath: string;
  ca: string;
  sn: { baseUrl: string; oauth: { clientId: string; clientSecret: string } };
  ms: { tenantId: string; clientId: string; clientSecret: string; authorityHost: string; graphUrl: string };
  armUrl: string;
}

export async function startSandboxChild(dataDir: string): Promise<{ info: SandboxInfo; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sandbox exited (${code})`)));
  });
  return {
    info: JSON.parse(line) as SandboxInfo,
    async stop() {
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  const { startSandbox } = await import('../sandbox/index.ts');
  const sb = await startSandbox({ dataDir: process.argv[2] });
  const ms = sb.microsoft;
  const info: SandboxInfo = {
    caPath: sb.tls.caPath,
    ca: sb.tls.ca,
    sn: { baseUrl: sb.servicenow.baseUrl, oauth: sb.servicenow.credentials.oauth },
    ms: {
      tenantId: ms.tenantId,
      clientId: ms.apps.ticketloop.clientId,
      clientSecret: ms.apps.ticketloop.clientSecret,
      authorityHost: ms.authorityHost,
      graphUrl: ms.graphUrl,
    },
    armUrl: sb.azure.baseUrl,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void sb.close().then(() => process.exit(0)));
}
