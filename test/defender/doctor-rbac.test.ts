import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import type { CheckResult } from '../../src/app/checks.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { READ_ROLE } from '../../src/flows/defender/checks.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { send } from '../helpers/http.ts';

/**
 * `ticketloop doctor` when ARM refuses the app (issue #11, item 5): the sandbox's RBAC denies the
 * Ticketloop app read on the integration's subscription, ARM answers 403 AuthorizationFailed, and the
 * Defender check (src/flows/defender/checks.ts → diagnoseMicrosoft) names the role to assign —
 * "Security Reader" on that scope, with the az command — while the other checks still pass.
 */

let sandbox: Sandbox;
let agent: Agent;
const dir = mkdtempSync(join(tmpdir(), 'tl-doctor-rbac-'));

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
});
after(async () => {
  await agent.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

async function checks(): Promise<CheckResult[]> {
  const c = sandboxConnections(sandbox);
  const raw = {
    dataDir: mkdtempSync(join(dir, 'data-')),
    servicenow: [c.servicenow],
    microsoft: c.microsoft,
    integrations: [
      {
        name: 'prod',
        type: 'defender',
        itsm: 'sandbox',
        scope: `/subscriptions/${sandbox.azure.demo.prodSubscription}`,
        mapping: { assignedTo: 'abel.tuter@example.com', caller: 'abel.tuter@example.com' },
      },
    ],
  };
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

const admin = (path: string, body: unknown) =>
  send(
    agent,
    'POST',
    `${sandbox.azure.baseUrl}/_sandbox/azure${path}`,
    { 'content-type': 'application/json' },
    JSON.stringify(body),
  );

test('ARM 403 on the Defender scope: doctor fails that one check and names the role to assign', async () => {
  const clientId = sandbox.microsoft.apps.ticketloop.clientId;
  const scope = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
  const denied = await admin('/rbac/deny', { principalId: clientId, scope });
  assert.equal(denied.status, 200, JSON.stringify(denied.body));
  try {
    const rs = await checks();
    const failed = rs.filter((r) => !r.ok);
    assert.deepEqual(
      failed.map((r) => `${r.target}: ${r.check}`),
      ['defender prod: read assessments'],
      JSON.stringify(rs, null, 2),
    );
    assert.equal(failed[0].detail, `403 on GET ${scope}/providers/Microsoft.Security/assessments`);
    assert.equal(READ_ROLE, 'Security Reader');
    assert.equal(
      failed[0].fix,
      `assign the role "Security Reader" on ${scope} to app ${clientId}: az role assignment create --assignee ${clientId} --role "Security Reader" --scope ${scope}`,
    );
  } finally {
    await admin('/rbac/clear', { principalId: clientId });
  }
  // With the rule gone the same setup passes: the failure above was the 403 and nothing else.
  const again = await checks();
  assert.deepEqual(
    again.filter((r) => !r.ok),
    [],
  );
});
