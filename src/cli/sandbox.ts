import { resolve, join } from 'node:path';
import type { Config } from '../config/schema.ts';

/** `ticketloop sandbox`: the sandbox services alone, for any HTTP client or SDK to point at. */
export async function runSandboxCommand(config: Config): Promise<void> {
  const { startSandbox, describeSandbox } = await import('../../sandbox/index.ts');
  const dataDir = resolve(config.sandbox.dataDir ?? join(config.dataDir, 'sandbox'));
  const sandbox = await startSandbox({
    dataDir,
    ports: {
      servicenow: config.sandbox.servicenowPort,
      microsoft: config.sandbox.microsoftPort,
      azure: config.sandbox.azurePort,
    },
  });
  process.stdout.write(`${describeSandbox(sandbox)}\n\n  state kept in ${dataDir}; Ctrl-C to stop\n`);
  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
