import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { stringify } from 'yaml';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { loadConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { reconcileNow } from '../../src/flows/defender/runtime.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { runCli } from '../helpers/cli.ts';
import { send } from '../helpers/http.ts';
import { freePort, until } from '../helpers/wait.ts';

/**
 * From an empty tenant to working loops with `ticketloop setup`: each setup run twice (the second
 * changes nothing), then the loops run through what setup created (issue: first run, item 4).
 */

const EM = '/v1.0/identityGovernance/entitlementManagement';
const WEBHOOK_SECRET = 'setup-test-webhook-secret';
let sandbox: Sandbox;
let agent: Agent;
let file: string;
let port: number;
const dir = mkdtempSync(join(tmpdir(), 'tl-setup-'));

/** The tenant's admin, through Graph with the sandbox's own admin token. */
async function graph(method: string, path: string, json?: unknown) {
  const token = await send(
    agent,
    'POST',
    `${sandbox.microsoft.baseUrl}/_sandbox/entra/token`,
    { 'content-type': 'application/json' },
    JSON.stringify({
      clientId: sandbox.microsoft.apps.ticketloop.clientId,
      audience: 'https://graph.microsoft.com',
      roles: ['EntitlementManagement.ReadWrite.All'],
    }),
  );
  const r = await send(
    agent,
    method,
    `${sandbox.microsoft.baseUrl}${path.startsWith('/_') ? path : EM + path}`,
    { authorization: `Bearer ${token.body.access_token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
    json ? JSON.stringify(json) : undefined,
  );
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function servicenow(method: string, path: string, json?: unknown) {
  const { username, password } = sandbox.servicenow.credentials.itil;
  const r = await send(
    agent,
    method,
    `${sandbox.servicenow.baseUrl}${path}`,
    {
      authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
      accept: 'application/json',
      ...(json ? { 'content-type': 'application/json' } : {}),
    },
    json ? JSON.stringify(json) : undefined,
  );
  return r.body;
}

const cli = (...args: string[]) => runCli([...args, '--config', file]);

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  port = await freePort();
  const c = sandboxConnections(sandbox);
  file = join(dir, 'ticketloop.yaml');
  const body = stringify({
    dataDir: join(dir, 'data'),
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    // An admin account: setup may install the business rule itself.
    servicenow: [
      {
        ...c.servicenow,
        auth: { type: 'basic', ...sandbox.servicenow.credentials.admin },
        pollIntervalSeconds: 60,
        webhook: { type: 'hmac', secret: WEBHOOK_SECRET },
      },
    ],
    microsoft: c.microsoft,
  });
  writeFileSync(file, `# Ticketloop at Contoso — reviewed by the IAM team\n${body}`);
  // What the tenant has before Ticketloop: a catalog, an access package and its request policy.
  const catalog = await graph('POST', '/catalogs', { displayName: 'Finance' });
  const pkg = await graph('POST', '/accessPackages', { displayName: 'SAP finance', catalog: { id: catalog.id } });
  await graph('POST', '/assignmentPolicies', {
    displayName: 'Employees',
    accessPackage: { id: pkg.id },
    allowedTargetScope: 'allMemberUsers',
    requestApprovalSettings: { isApprovalRequiredForAdd: false, isApprovalRequiredForUpdate: false, stages: [] },
  });
});
after(async () => {
  await agent.close();
  await sandbox.close();
});

test('setup entitlement creates the extension and the policy stages, and a second run changes nothing', async () => {
  const first = await cli('setup', 'entitlement', '--catalog', 'Finance', '--access-package', 'SAP finance');
  assert.equal(first.status, 0, first.out + first.err);
  assert.match(first.out, /\+ integration "entitlement" in .*: created/);
  assert.match(
    first.out,
    /\+ custom extension "Ticketloop" → http:\/\/127\.0\.0\.1:\d+\/callouts\/entitlement: created/,
  );
  assert.match(
    first.out,
    /~ policy "Employees" of "SAP finance": assignmentRequestApproved, assignmentRequestRemoved: updated/,
  );
  const second = await cli('setup', 'entitlement', '--catalog', 'Finance', '--access-package', 'SAP finance');
  assert.equal(second.status, 0, second.out + second.err);
  assert.match(second.out, /^0 changed, \d+ unchanged, 0 to do by hand, 0 failed$/m, second.out);
  assert.match(readFileSync(file, 'utf8'), /^# Ticketloop at Contoso — reviewed by the IAM team$/m, 'comments kept');
});

test('setup entitlement names what is wrong: an unknown catalog, a bad option', async () => {
  const missing = await cli('setup', 'entitlement', '--catalog', 'HR', '--access-package', 'x');
  assert.equal(missing.status, 1);
  assert.match(missing.out, /✗ catalog HR: failed — not found \(catalogs: "Finance"\)/);
  const usage = await cli('setup', 'entitlement', '--catalog', 'Finance');
  assert.equal(usage.status, 2);
  assert.match(usage.err, /required option '--access-package <id\|name\.\.\.>' not specified/);
});

test('setup defender records the integration and previews its tickets without opening any', async () => {
  const scope = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
  // Owner and caller are required for a pass to run (a dry run shows the tickets either way).
  const people = ['--owner', 'abel.tuter@example.com', '--caller', 'abel.tuter@example.com'];
  const first = await cli('setup', 'defender', '--name', 'prod', '--scope', scope, ...people);
  assert.equal(first.status, 0, first.out + first.err);
  assert.match(first.out, /\+ integration "prod" in .*: created/);
  assert.match(first.out, /dry-run reconcile .* [1-9]\d* ticket\(s\) would be opened/);
  assert.match(first.out, /would open: \[\w+\] .+ — \d+ resource\(s\), due \d{4}-\d{2}-\d{2}/);
  const opened = await servicenow('GET', '/api/now/table/incident?sysparm_query=correlation_idSTARTSWITHtl:defender');
  assert.deepEqual(opened.result, [], 'a dry run opens nothing');
  const second = await cli('setup', 'defender', '--name', 'prod', '--scope', scope, ...people);
  assert.match(second.out, /^0 changed/m, second.out);
  const bad = await cli('setup', 'defender', '--name', 'x', '--scope', 'not-a-scope');
  assert.equal(bad.status, 1);
  assert.match(bad.out, /--scope: a subscription, management group or security connector id/);
});

test('setup servicenow then finds everything in place', async () => {
  const r = await cli('setup', 'servicenow');
  assert.equal(r.status, 0, r.out + r.err);
  assert.match(r.out, /^0 changed, \d+ unchanged, 0 to do by hand, 0 failed$/m, r.out);
  assert.match(r.out, /= business rule Ticketloop webhook \(incident\): unchanged/);
});

test('the loops run through what setup created', async () => {
  const { config } = loadConfig({ file });
  const app: Ticketloop = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    logger: createLogger('silent'),
  });
  try {
    await app.start();
    // Entitlement: a request for the package opens a ticket; closing the ticket delivers the access.
    const [pkg] = (await graph('GET', `/accessPackages?$filter=${encodeURIComponent("displayName eq 'SAP finance'")}`))
      .value;
    const [policy] = (
      await graph('GET', `/assignmentPolicies?$filter=${encodeURIComponent(`accessPackage/id eq '${pkg.id}'`)}`)
    ).value;
    const users = await graph('POST', '/_sandbox/entra/users', { users: [{ displayName: 'Sam Setup' }] });
    const req = await graph('POST', '/assignmentRequests', {
      requestType: 'adminAdd',
      assignment: { targetId: users.value[0].id, assignmentPolicyId: policy.id, accessPackageId: pkg.id },
    });
    const ticket = await until(async () => {
      const r = await servicenow(
        'GET',
        '/api/now/table/sc_req_item?sysparm_query=correlation_idSTARTSWITHtl:entitlement',
      );
      return r.result?.[0];
    }, 'the provisioning ticket');
    await servicenow('PATCH', `/api/now/table/sc_req_item/${ticket.sys_id}`, { state: '3', close_notes: 'granted' });
    await until(async () => (await graph('GET', `/assignmentRequests/${req.id}`)).state === 'delivered', 'delivery');
    // The close arrived through the business rule setup installed (polling is once a minute here).
    const deliveries = await send(
      agent,
      'GET',
      `${sandbox.servicenow.baseUrl}/_sandbox/servicenow/webhooks/deliveries`,
    );
    assert.ok(
      deliveries.body.some(
        (d: any) => d.source === 'business_rule' && d.table === 'sc_req_item' && d.state === 'delivered',
      ),
      JSON.stringify(deliveries.body),
    );

    // Defender: the integration setup recorded opens the tickets its preview listed.
    await reconcileNow(app, 'prod'); // the pass the schedule runs at start, without waiting for it
    await until(async () => {
      const r = await servicenow('GET', '/api/now/table/incident?sysparm_query=correlation_idSTARTSWITHtl:defender');
      return r.result?.length > 0;
    }, 'a Defender ticket');
  } finally {
    await app.stop();
  }
});
