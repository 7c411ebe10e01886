import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { demoAccounts, sandboxConfig } from '../../src/cli/demo.ts';
import { EscalationService } from '../../src/flows/m365/escalation/service.ts';
import { DEMO_M365, m365Demo } from '../../src/flows/m365/demo.ts';

// `npm start`'s Microsoft 365 walk-through (issue #14 item 8), run as the demo runs it: a health issue
// appears in the sandbox, the sync reads it, an incident typed like a user would is matched to it
// with reasons, articles are recommended, and it is escalated (guided; an Entra one to Azure support).

let sandbox: Sandbox;
let app: Ticketloop;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tl-m365-demo-'));

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const config = sandboxConfig({ dataDir: join(dir, 'tl'), server: { port: 0 }, log: { level: 'warn' } }, sandbox, [
    m365Demo,
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
  rmSync(dir, { recursive: true, force: true });
});

test('the demo shows a health issue synced, a user-worded incident matched with reasons, articles and escalations', async () => {
  const lines: string[] = [];
  await m365Demo.run({
    app,
    sandbox,
    url,
    auto: true,
    step: (text) => lines.push(`[step] ${text}`),
    say: (text) => lines.push(text),
  });
  const out = lines.join('\n');
  assert.equal(lines.filter((l) => l.startsWith('[step]')).length, 7, out);
  const issue = /^(EX\d+): GET /m.exec(out)?.[1];
  assert.ok(issue, out);
  assert.match(out, /^serviceDegradation; user impact: Users may be unable to send email messages/m);
  const incident = /^(INC\d{7}) opened /m.exec(out)?.[1];
  assert.ok(incident, out);
  // The top match is the issue, with its reasons.
  assert.match(
    out,
    new RegExp(`^${issue} score 0\\.\\d\\d: mentions 'outlook'.*opened 20 min after ${issue} began`, 'm'),
  );
  assert.match(out, /^\[knowledge\] .* — https:\/\//m);
  assert.match(out, /^\[learn\] .* — https:\/\//m);
  assert.match(out, /^esc-[0-9a-f-]+: awaiting-case; the summary/m);
  assert.match(out, /→ support ticket \d+: Open$/m);

  const escalations = await new EscalationService(app).store.list(DEMO_M365);
  assert.deepEqual(escalations.map((e) => e.kind).sort(), ['azure-support', 'guided']);
});
