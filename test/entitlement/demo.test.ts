import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { demoAccounts, sandboxConfig } from '../../src/cli/demo.ts';
import { entitlementDemo } from '../../src/flows/entitlement/demo.ts';

// `npm start`'s ticketed-provisioning walk-through with --auto, as the demo runs it: it ends with the
// email Entra sends the requester (item 9), read from the sandbox's notifications log.

test('the demo delivers the request and shows the email the requester gets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-ent-demo-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const config = sandboxConfig({ dataDir: join(dir, 'tl'), server: { port: 0 }, log: { level: 'warn' } }, sandbox, [
    entitlementDemo,
  ]);
  const app = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    clock: sandbox.clock,
    logger: createLogger('silent'),
  });
  try {
    await demoAccounts(app);
    const url = await app.start();
    const lines: string[] = [];
    await entitlementDemo.run({
      app,
      sandbox,
      url,
      auto: true,
      step: (t) => lines.push(`[step] ${t}`),
      say: (t) => lines.push(t),
    });
    const out = lines.join('\n');
    assert.match(out, /request [0-9a-f-]{36}: state delivered, status Delivered/, out);
    assert.match(out, /callbackReceived — "RITM\d{7} closed complete by /, out);
    assert.match(
      out,
      /email to Pat Demo [0-9:]{8} <pat\.demo\.[0-9.]+@ticketloopsandbox\.onmicrosoft\.com>: "You now have access to Finance app \(ticketed\)" \(requestDelivered\)/,
      out,
    );
  } finally {
    await app.stop();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
