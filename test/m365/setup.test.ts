import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { parse, stringify } from 'yaml';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { EM_READWRITE, SERVICE_HEALTH_READ } from '../../sandbox/microsoft/constants.ts';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import { loadConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { SECRET_NAMES } from '../../src/flows/m365/setup.ts';
import { runCli } from '../helpers/cli.ts';
import { tokenFor } from '../helpers/identity.ts';

// Issue #14 item 1: `ticketloop setup m365` with flags records the connections and the integration,
// keeps the secrets in the encrypted store (the file only names them), runs Test setup, and a
// second run changes nothing. Test setup's failures each name their fix.

let sandbox: Sandbox;
let agent: Agent;
let file: string;
const dir = mkdtempSync(join(tmpdir(), 'tl-m365-setup-'));

const control = async (base: string, method: string, path: string, body?: unknown, auth?: string) => {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    dispatcher: agent,
  } as RequestInit);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
};

const adminBasic = () => {
  const a = sandbox.servicenow.credentials.admin;
  return `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
};

/** The flags a person would give: the app's secret and the instance's OAuth client. */
const flags = () => [
  'setup',
  'm365',
  '--tenant',
  sandbox.microsoft.tenantId,
  '--client-id',
  sandbox.microsoft.apps.ticketloop.clientId,
  '--client-secret',
  sandbox.microsoft.apps.ticketloop.clientSecret,
  '--itsm',
  'sandbox',
  '--instance',
  sandbox.servicenow.baseUrl,
  '--sn-auth',
  'oauth',
  '--sn-client-id',
  sandbox.servicenow.credentials.oauth.clientId,
  '--sn-client-secret',
  sandbox.servicenow.credentials.oauth.clientSecret,
  '--test-environment',
  '--config',
  file,
];

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const c = sandboxConnections(sandbox);
  file = join(dir, 'ticketloop.yaml');
  // What an operator has before: the sandbox's endpoints (a national cloud would set these too), an
  // old secret and basic sign-in that setup replaces, and Learn pointed at the sandbox.
  const body = stringify({
    dataDir: join(dir, 'data'),
    servicenow: [{ ...c.servicenow, auth: { type: 'basic', ...sandbox.servicenow.credentials.itil } }],
    microsoft: { ...c.microsoft, clientSecret: 'an-old-secret' },
    integrations: [{ name: 'm365', type: 'm365', itsm: 'sandbox', learnUrl: sandbox.microsoft.baseUrl }],
  });
  writeFileSync(file, `# Ticketloop at Contoso\n${body}`);
  const seeded = await control(
    sandbox.servicenow.baseUrl,
    'POST',
    '/_sandbox/servicenow/knowledge/seed',
    undefined,
    adminBasic(),
  );
  assert.equal(seeded.status, 200);
});

after(async () => {
  await agent.close();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

test('setup m365 with flags records the integration, stores the secrets encrypted, runs Test setup; a second run is unchanged', async () => {
  const first = await runCli(flags());
  assert.equal(first.status, 0, first.out + first.err);
  const secret = sandbox.microsoft.apps.ticketloop.clientSecret;
  const snSecret = sandbox.servicenow.credentials.oauth.clientSecret;
  assert.ok(!first.out.includes(secret) && !first.err.includes(secret), 'the secret is never printed');
  assert.match(first.out, /\+ secret "microsoft\/client-secret" \(encrypted in the secret store\): created/);
  assert.match(first.out, /~ microsoft in .*: updated/);
  assert.match(first.out, /~ servicenow "sandbox" in .*: updated/);
  assert.match(first.out, /~ integration "m365" in .*: updated/);
  assert.match(first.out, /= Test setup: m365 m365 — read service health: unchanged/);
  assert.match(first.out, /= Test setup: m365 m365 — write incidents: unchanged — user 'ticketloop.integration'/);
  assert.match(first.out, /= Test setup: ServiceNow sandbox — sign-in/);

  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('# Ticketloop at Contoso'), 'comments are kept');
  assert.ok(!text.includes(secret) && !text.includes(snSecret), 'no secret in the file');
  const yaml = parse(text);
  assert.deepEqual(yaml.microsoft.clientSecret, { secret: SECRET_NAMES.clientSecret });
  assert.equal(yaml.microsoft.graphUrl, sandbox.microsoft.graphUrl, 'what setup does not set is kept');
  assert.deepEqual(yaml.servicenow[0].auth.clientSecret, { secret: SECRET_NAMES.snClientSecret('sandbox') });
  const entry = yaml.integrations[0];
  assert.equal(entry.testEnvironment, true);
  assert.deepEqual(entry.escalation, { mode: 'off' });
  assert.equal(entry.learnUrl, sandbox.microsoft.baseUrl);

  // Encrypted in the store: the database holds no plaintext, and the app reads the value back.
  const app = await buildTicketloop(loadConfig({ file }).config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    engine: false,
    logger: createLogger('silent'),
  });
  try {
    const rows = await app.store.db.selectFrom('secrets').select(['name', 'ciphertext']).execute();
    const stored = rows.find((r) => r.name === SECRET_NAMES.clientSecret);
    assert.ok(stored);
    assert.ok(!String(stored.ciphertext).includes(secret));
    assert.equal(await app.secrets.get(SECRET_NAMES.clientSecret), secret);

    // The console's setup routes: admin only; where each secret is kept, never its value.
    const as = async (role: 'admin' | 'insights', method: 'GET' | 'POST', url: string) => {
      const token = await tokenFor(app, role);
      const r = await app.http.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(method === 'POST' ? { payload: { integration: entry.name } } : {}),
      });
      return { status: r.statusCode, text: r.body, body: JSON.parse(r.body) };
    };
    assert.equal((await as('insights', 'POST', '/api/m365/setup/test')).status, 403);
    const view = await as('admin', 'GET', '/api/m365/setup');
    assert.equal(view.status, 200);
    assert.equal(view.body.microsoft.kept, 'encrypted in the secret store');
    assert.ok(!view.text.includes(secret));
    const tested = await as('admin', 'POST', '/api/m365/setup/test');
    assert.equal(tested.status, 200, tested.text);
    const write = tested.body.results.find((r: { check: string }) => r.check === 'write incidents');
    assert.equal(write.ok, true, tested.text);
  } finally {
    await app.stop();
  }

  const second = await runCli(flags());
  assert.equal(second.status, 0, second.out + second.err);
  assert.match(second.out, /\n0 changed, \d+ unchanged, 0 to do by hand, 0 failed\n/);
  assert.equal(readFileSync(file, 'utf8'), text, 'the file is unchanged');
});

test('setup m365: a bad flag is a usage error naming it', async () => {
  const bad = await runCli([...flags(), '--escalation', 'sometimes']);
  assert.equal(bad.status, 2);
  assert.match(bad.err, /--escalation: one of off, azure-support, guided, both/);
  const noContact = await runCli([...flags(), '--escalation', 'guided']);
  assert.equal(noContact.status, 2);
  assert.match(noContact.err, /--contact-email: required when escalation is on/);
  const noSub = await runCli([...flags(), '--escalation', 'azure-support', ...contactFlags()]);
  assert.equal(noSub.status, 2);
  assert.match(noSub.err, /--subscription: required for mode azure-support/);
});

const contactFlags = () => [
  '--contact-first-name',
  'Ada',
  '--contact-last-name',
  'Admin',
  '--contact-email',
  'ada@contoso.com',
  '--contact-time-zone',
  'W. Europe Standard Time',
  '--contact-country',
  'deu',
];

test('Test setup: each failing check names its fix', async () => {
  // The app loses ServiceHealth.Read.All; the instance's knowledge API plugin is off; the account
  // loses itil (it keeps snc_internal, so it may still sign in and read).
  const roles = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/entra/apps', {
    clientId: sandbox.microsoft.apps.ticketloop.clientId,
    roles: [EM_READWRITE],
  });
  assert.equal(roles.status, 201);
  const sn = sandbox.servicenow.baseUrl;
  assert.equal(
    (await control(sn, 'PUT', '/_sandbox/servicenow/plugins', { sn_km_api: false }, adminBasic())).status,
    200,
  );
  const table = (path: string) => `/api/now/table/${path}`;
  const user = await control(
    sn,
    'GET',
    table('sys_user?sysparm_query=user_name=ticketloop.integration'),
    undefined,
    adminBasic(),
  );
  const userId = user.body.result[0].sys_id;
  const grants = await control(
    sn,
    'GET',
    table(`sys_user_has_role?sysparm_query=user=${userId}`),
    undefined,
    adminBasic(),
  );
  const role = await control(
    sn,
    'GET',
    table('sys_user_role?sysparm_query=name=snc_internal'),
    undefined,
    adminBasic(),
  );
  const added = await control(
    sn,
    'POST',
    table('sys_user_has_role'),
    { user: userId, role: role.body.result[0].sys_id },
    adminBasic(),
  );
  assert.equal(added.status, 201, JSON.stringify(added.body));
  for (const g of grants.body.result)
    assert.equal(
      (await control(sn, 'PATCH', table(`sys_user_has_role/${g.sys_id}`), { state: 'inactive' }, adminBasic())).status,
      200,
    );
  try {
    const run = await runCli(flags());
    assert.equal(run.status, 1, run.out + run.err);
    const line = (check: string) => run.out.split('\n').find((l) => l.includes(`m365 m365 — ${check}:`)) ?? '';
    assert.match(
      line('read service health'),
      /✗ .*failed — 403 on GET .*fix: grant the application permission ServiceHealth\.Read\.All .*admin consent/,
    );
    assert.match(
      line('write incidents'),
      /✗ .*ServiceNow user 'ticketloop\.integration' lacks write on incident.*fix: grant the role itil \(or sn_incident_write\) to ticketloop\.integration/,
    );
    assert.match(line('knowledge search'), /knowledge API plugin not active: articles will come from the Table API/);
  } finally {
    await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/entra/apps', {
      clientId: sandbox.microsoft.apps.ticketloop.clientId,
      roles: [EM_READWRITE, SERVICE_HEALTH_READ],
    });
  }
});
