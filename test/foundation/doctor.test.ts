import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import type { CheckResult } from '../../src/app/checks.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runCli } from '../helpers/cli.ts';
import { send } from '../helpers/http.ts';
import { freePort } from '../helpers/wait.ts';

/**
 * `ticketloop doctor` and the start-up check against the sandbox with each kind of fault: every
 * failure names its fix (issue: first run, item 3).
 */

let sandbox: Sandbox;
let agent: Agent;
const dir = mkdtempSync(join(tmpdir(), 'tl-doctor-'));

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
});
after(async () => {
  await agent.close();
  await sandbox.close();
});

/** A configuration on the sandbox with both loops; `patch` changes the connections. */
function rawConfig(patch: (c: ReturnType<typeof sandboxConnections>) => void = () => {}) {
  const c = sandboxConnections(sandbox);
  patch(c);
  return {
    dataDir: mkdtempSync(join(dir, 'data-')),
    server: { port: 0 },
    servicenow: [c.servicenow],
    microsoft: c.microsoft,
    integrations: [
      { name: 'ent', type: 'entitlement', itsm: 'sandbox' },
      {
        name: 'prod',
        type: 'defender',
        itsm: 'sandbox',
        scope: `/subscriptions/${sandbox.azure.demo.prodSubscription}`,
        // Owner and caller are required (docs/defender.md): a missing one fails doctor.
        mapping: { assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
      },
    ],
  };
}

async function check(raw: Record<string, unknown>): Promise<CheckResult[]> {
  const app = await buildTicketloop(validateConfig(raw, 'test'), {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    engine: false,
    logger: createLogger('silent'),
  });
  try {
    return await app.checkConnections();
  } finally {
    await app.stop();
  }
}

const failures = (rs: CheckResult[]) => rs.filter((r) => !r.ok);
const show = (rs: CheckResult[]) =>
  rs.map((r) => `${r.ok ? 'ok' : 'FAIL'} ${r.target} ${r.check}: ${r.detail} | ${r.fix ?? ''}`).join('\n');

test('a healthy setup passes every check, each one named', async () => {
  const rs = await check(rawConfig());
  assert.deepEqual(failures(rs), [], show(rs));
  const names = rs.map((r) => `${r.target}: ${r.check}`);
  for (const expected of [
    /Microsoft tenant .*: sign-in/,
    /Microsoft Graph: resume requests/,
    /defender prod: read assessments/,
  ])
    assert.ok(
      names.some((n) => expected.test(n)),
      `${expected} in\n${names.join('\n')}`,
    );
  assert.ok(
    rs.some((r) => /ServiceNow sandbox/.test(r.target)),
    show(rs),
  );
});

test('ServiceNow unreachable: the fix points at instanceUrl', async () => {
  const port = await freePort();
  const rs = await check(rawConfig((c) => (c.servicenow.instanceUrl = `https://127.0.0.1:${port}`)));
  const sn = failures(rs).filter((r) => /ServiceNow sandbox/.test(r.target));
  assert.ok(sn.length >= 1, show(rs));
  assert.match(sn[0].fix ?? '', /instanceUrl/);
});

test('ServiceNow 401: a wrong OAuth client secret is named, once', async () => {
  const rs = await check(rawConfig((c) => (c.servicenow.auth.clientSecret = 'wrong')));
  const sn = failures(rs).filter((r) => /ServiceNow sandbox/.test(r.target));
  assert.equal(sn.length, 1, show(rs));
  assert.match(sn[0].detail, /401/);
  assert.match(sn[0].fix ?? '', /client secret/i);
});

test('ServiceNow: a close-out choice the instance lacks names the valid ones', async () => {
  const rs = await check(
    rawConfig(
      (c) =>
        (c.servicenow.closeOut.incident = { resolve: { close_code: 'Fixed it' }, close: { close_code: 'Fixed it' } }),
    ),
  );
  const bad = failures(rs).filter((r) => /Fixed it/.test(r.detail));
  assert.ok(bad.length >= 1, show(rs));
  assert.match(bad[0].fix ?? '', /Solution provided/);
});

test('Microsoft: a wrong client secret is one sign-in failure naming microsoft.clientSecret', async () => {
  const rs = await check(rawConfig((c) => (c.microsoft.clientSecret = 'not-the-secret')));
  const ms = failures(rs).filter((r) => /Microsoft/.test(r.target));
  assert.equal(ms.length, 1, `flows skip their Microsoft checks when sign-in fails:\n${show(rs)}`);
  assert.match(ms[0].detail, /AADSTS7000215/);
  assert.match(ms[0].fix ?? '', /microsoft\.clientSecret/);
});

test('Graph 403: an app without EntitlementManagement.ReadWrite.All is told to grant it and consent', async () => {
  const created = await send(
    agent,
    'POST',
    `${sandbox.microsoft.baseUrl}/_sandbox/entra/apps`,
    { 'content-type': 'application/json' },
    JSON.stringify({ displayName: 'read only', roles: ['EntitlementManagement.Read.All'] }),
  );
  assert.equal(created.status, 201);
  const rs = await check(
    rawConfig((c) => {
      c.microsoft.clientId = created.body.clientId;
      c.microsoft.clientSecret = created.body.clientSecret;
    }),
  );
  const graph = failures(rs).filter((r) => r.target === 'Microsoft Graph');
  assert.deepEqual(
    graph.map((r) => r.check),
    ['resume requests', 'resume grant'],
    `reading is allowed, resuming is not:\n${show(rs)}`,
  );
  // The grant check names the least-privilege way first.
  assert.match(graph[1].fix ?? '', /"Access package assignment manager".*recommended/);
  assert.match(graph[0].detail, /403/);
  assert.match(graph[0].fix ?? '', /EntitlementManagement\.ReadWrite\.All/);
  assert.match(graph[0].fix ?? '', new RegExp(`adminconsent\\?client_id=${created.body.clientId}`));
});

test('/readyz stays ready and lists the degraded connections after the start-up check', async () => {
  const app = await buildTicketloop(
    validateConfig(
      rawConfig((c) => (c.servicenow.auth.clientSecret = 'wrong')),
      'test',
    ),
    {
      itsm: ITSM_MODULES,
      flows: FLOW_MODULES,
      engine: false,
      logger: createLogger('silent'),
    },
  );
  try {
    const url = await app.start();
    const before = await (await fetch(`${url}/readyz`)).json();
    assert.equal(before.degraded, undefined, 'nothing is claimed before a check ran');
    await app.checkConnections();
    const r = await fetch(`${url}/readyz`);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.checks.connections, 'degraded');
    assert.ok(
      body.degraded.some((d: string) => /ServiceNow sandbox/.test(d)),
      JSON.stringify(body),
    );
  } finally {
    await app.stop();
  }
});

test('ticketloop doctor prints each check and exits 1 when one fails, 0 when all pass', async () => {
  const run = (raw: Record<string, unknown>) => {
    const file = join(mkdtempSync(join(dir, 'cfg-')), 'ticketloop.json');
    writeFileSync(file, JSON.stringify(raw));
    return runCli(['doctor', '--config', file]);
  };
  const bad = await run(rawConfig((c) => (c.microsoft.clientSecret = 'not-the-secret')));
  assert.equal(bad.status, 1, bad.err);
  assert.match(bad.out, /✗ Microsoft tenant .* — sign-in: sign-in refused: .*AADSTS7000215/);
  assert.match(bad.out, /fix: check microsoft\.clientSecret/);
  assert.match(bad.out, /\d+ of \d+ checks failed/);
  assert.doesNotMatch(bad.err, /at .*\.ts:\d+/, 'no stack trace');

  const good = await run(rawConfig());
  assert.equal(good.status, 0, good.out + good.err);
  assert.match(good.out, /all \d+ checks passed/);
});
