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
import { serviceDesk } from '../../src/flows/m365/demo-calls.ts';
import { MatchStore } from '../../src/flows/m365/feed/store.ts';

// `npm start`'s Microsoft 365 walk-through (issue #14 items 2, 3, 8), run as the demo runs it: a health
// issue appears in the sandbox and gets its own incident, an incident typed like a user would is matched
// to it by the feed (reasons, a work note, the issue's incident as its parent) and confirmed, articles
// are recommended, it is escalated, Microsoft's update becomes a note and its resolution resolves the
// issue's incident; an Entra one goes to Azure support. Asserted on the sandbox's records too.

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

test("the demo shows the issue's own incident, the feed's match with its note and parent, the confirmation, the resolution, articles and escalations", async () => {
  const lines: string[] = [];
  const ctx = {
    app,
    sandbox,
    url,
    auto: true,
    step: (text: string) => lines.push(`[step] ${text}`),
    say: (text: string) => lines.push(text),
  };
  await m365Demo.run(ctx);
  const out = lines.join('\n');
  assert.equal(lines.filter((l) => l.startsWith('[step]')).length, 9, out);
  const issue = /^(EX\d+): GET /m.exec(out)?.[1];
  assert.ok(issue, out);
  assert.match(out, /^serviceDegradation; user impact: Users may be unable to send email messages/m);
  const desk = serviceDesk(ctx);

  // 1. The health issue's own incident, with its link in the sandbox UI.
  const own = new RegExp(
    `^(INC\\d{7}): \\[Microsoft 365\\] ${issue} — Users may be unable to send email.*  (https://\\S+/nav_to\\.do\\?uri=incident\\.do%3Fsys_id%3D(\\w+))$`,
    'm',
  ).exec(out);
  assert.ok(own, out);
  const [, ownNumber, , ownId] = own;
  assert.equal((await desk.incident(ownId)).number, ownNumber);

  // 2. The user's incident, matched by the feed: reasons, one work note, the parent link.
  const user = /^(INC\d{7}) opened .* \(UTC\) {2}https:\/\/\S+sys_id%3D(\w+)$/m.exec(out);
  assert.ok(user, out);
  const [, userNumber, userId] = user;
  assert.match(
    out,
    new RegExp(`^${issue} score 0\\.\\d\\d: mentions 'outlook'.*opened 20 min after ${issue} began`, 'm'),
  );
  const child = await desk.incident(userId);
  assert.equal(child.number, userNumber);
  assert.equal(child.parent_incident, ownId, 'the user incident is a child of the issue incident');
  assert.match(out, new RegExp(`^${userNumber} parent_incident: ${ownNumber}, the incident of ${issue}$`, 'm'));
  const related = (await desk.workNotes(userId)).filter((n) => n.value.startsWith('Possibly related'));
  assert.equal(related.length, 1, JSON.stringify(related));
  assert.match(related[0].value, new RegExp(`health issue ${issue} — .*mentions 'outlook'`));
  assert.ok(out.includes(`work note on ${userNumber}: "${related[0].value}"`), out);

  // 3. The agent's confirmation, stored as theirs.
  const [match] = (await new MatchStore(app.store.db).list(DEMO_M365, { incidentId: userId })).filter(
    (m) => m.issue === issue,
  );
  assert.equal(match.status, 'confirmed');
  assert.equal(match.verdictBy, 'user:demo-insights');
  assert.match(out, new RegExp(`^${issue} confirmed for ${userNumber} by user:demo-insights at `, 'm'));

  // 4. Microsoft's update is one work note on the issue's incident; its resolution resolves it.
  const ownNotes = await desk.workNotes(ownId);
  assert.equal(ownNotes.filter((n) => n.value.includes('configuration change that is blocking')).length, 1);
  const resolved = await desk.incident(ownId);
  assert.equal(resolved.state, '6', 'resolved');
  assert.match(out, new RegExp(`^${ownNumber}: state 6 \\(resolved\\)`, 'm'));

  // 5. Articles and escalations, as before.
  assert.match(out, /^\[knowledge\] .* — https:\/\//m);
  assert.match(out, /^\[learn\] .* — https:\/\//m);
  assert.match(out, /^esc-[0-9a-f-]+: awaiting-case; the summary/m);
  assert.match(out, /→ support ticket \d+: Open$/m);
  const escalations = await new EscalationService(app).store.list(DEMO_M365);
  assert.deepEqual(escalations.map((e) => e.kind).sort(), ['azure-support', 'guided']);
});
