import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { demoAccounts, sandboxConfig } from '../../src/cli/demo.ts';
import { podDemo } from '../../src/flows/pod/demo.ts';

// `npm start`'s permissions-on-demand walk-through (issue #13 "`npm start`"), run as the demo runs it
// (src/cli/demo.ts: the sandbox, Ticketloop on the sandbox's clock, the demo accounts): a request made
// here and one made in ServiceNow, each approved, granted in the Azure sandbox (the role assignment as
// ARM lists it) and expired when sandbox time moves; the RITM follows.

let sandbox: Sandbox;
let app: Ticketloop;
let url: string;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-demo-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const config = sandboxConfig({ dataDir: join(dir, 'tl'), server: { port: 0 }, log: { level: 'warn' } }, sandbox, [
    podDemo,
  ]);
  app = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    clock: sandbox.clock,
    logger: createLogger(process.env.TL_TEST_LOG ?? 'silent'),
  });
  await demoAccounts(app);
  url = await app.start();
});
after(async () => {
  await app?.stop();
  await sandbox?.close();
});

test('the demo walks a request from ServiceNow through approval, grant (as ARM lists it) and expiry', async () => {
  const lines: string[] = [];
  await podDemo.run({
    app,
    sandbox,
    url,
    auto: true,
    step: (text) => lines.push(`[step] ${text}`),
    say: (text) => lines.push(text),
  });
  const out = lines.join('\n');
  const steps = lines.filter((l) => l.startsWith('[step]'));
  assert.deepEqual(
    steps.map((s) => s.replace(/\/subscriptions\/[0-9a-f-]+/, '<sub>')),
    [
      '[step] Permissions on demand: demo-requester asks for Reader on <sub> for Megan Bowen, for one hour',
      '[step] demo-approver approves it; Ticketloop creates the role assignment in Azure and reads it back',
      '[step] Sandbox time moves one hour ahead: the expiry timer fires, Ticketloop removes the assignment and reads it back',
      '[step] In ServiceNow, Megan Bowen orders "Cloud access request": Virtual Machine Contributor on <sub>, for two hours',
      '[step] Ticketloop picks it up: its intake reads new requests of the catalog item and submits them',
      '[step] demo-approver approves it in Ticketloop; Ticketloop creates the role assignment and reads it back',
      '[step] Sandbox time moves two hours ahead: the grant expires, the assignment is removed and the RITM closed',
    ],
    out,
  );
  const ritm = /(RITM\d{7}), ordered with POST \/api\/sn_sc\/servicecatalog\/items\/\{item\}\/order_now/.exec(out)?.[1];
  assert.ok(ritm, out);
  assert.match(out, /request [0-9a-f]{32}: submitted, asked by user:megan\.bowen@ticketloopsandbox\.onmicrosoft\.com/);
  assert.match(out, new RegExp(`ServiceNow shows ${ritm}: stage waiting_for_approval, approval requested`));
  // Virtual Machine Contributor's role definition, assigned to Megan's object id, as ARM lists it.
  assert.match(
    out,
    /^ {2}[0-9a-f-]{36} {2}role 9980e02c-c2be-4d73-94e8-173b1dc7cf3c \(Virtual Machine Contributor\) {2}User a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03$/m,
  );
  assert.match(out, new RegExp(`ServiceNow shows ${ritm}: stage delivery, approval approved`));
  assert.match(out, /expired: ARM says/);
  assert.match(out, /ARM lists 0 role assignment\(s\) of Megan Bowen/);
  assert.match(out, new RegExp(`ServiceNow shows ${ritm}: state 3 \\(closed complete\\)`));
});
