import { spawn } from 'node:child_process';

/**
 * Run the CLI from source in a child process. Asynchronous on purpose: a test's sandbox runs in the
 * test's own event loop, which spawnSync would block while the CLI talks to it.
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { ...process.env, TICKETLOOP_CONFIG: '', DATABASE_URL: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out, err }));
  });
}
