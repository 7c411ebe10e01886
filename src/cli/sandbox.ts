import { resolve, join } from 'node:path';
import type { SeedSet } from '../../sandbox/servicenow/demo.ts';
import type { Config } from '../config/schema.ts';

/**
 * `ticketloop sandbox`: the sandbox services alone, for any HTTP client or SDK to point at.
 * `--seed demo` loads the demo records (incidents, requests, knowledge articles) first; loading
 * them again inserts nothing twice, and they stay in the state directory.
 */
export async function runSandboxCommand(config: Config, o: { seed?: SeedSet } = {}): Promise<void> {
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
  let seeded = '';
  if (o.seed) {
    const inserted = sandbox.servicenow.seed(o.seed);
    const rows = Object.entries(inserted).map(([table, n]) => `${n} ${table}`);
    seeded = `\n  seed ${o.seed}: ${rows.length > 0 ? `inserted ${rows.join(', ')}` : 'already loaded'}`;
  }
  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  // Before the ready line: whoever waits for it may stop the sandbox right away.
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`${describeSandbox(sandbox)}\n${seeded}\n  state kept in ${dataDir}; Ctrl-C to stop\n`);
}
