import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { loadConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { resolveSecret } from '../../src/config/secrets.ts';
import { SECRET_NAMES } from '../../src/flows/m365/setup.ts';
import { tokenFor } from '../helpers/identity.ts';

// Issue #14 item 1, the console's side: PUT /api/m365/setup saves what `ticketloop setup m365`
// would — secrets encrypted in the secret store, the file naming them — through the CLI's
// validation; then Test setup runs on the setup as saved.

let sandbox: Sandbox;
let app: Ticketloop;
let file: string;
const dir = mkdtempSync(join(tmpdir(), 'tl-m365-setup-api-'));

before(async () => {
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const c = sandboxConnections(sandbox);
  file = join(dir, 'ticketloop.yaml');
  // Before: the sandbox's endpoints, no client secret yet, basic sign-in that the save replaces.
  const { clientSecret: _none, ...microsoft } = c.microsoft as Record<string, unknown>;
  writeFileSync(
    file,
    `# Ticketloop at Contoso\n${stringify({
      dataDir: join(dir, 'data'),
      servicenow: [{ ...c.servicenow, auth: { type: 'basic', ...sandbox.servicenow.credentials.itil } }],
      microsoft: { ...microsoft, clientSecret: 'an-old-secret' },
      integrations: [{ name: 'm365', type: 'm365', itsm: 'sandbox', learnUrl: sandbox.microsoft.baseUrl }],
    })}`,
  );
  app = await buildTicketloop(loadConfig({ file }).config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    engine: false,
    logger: createLogger('silent'),
    configFile: file,
  });
});

after(async () => {
  await app.stop();
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (method: 'GET' | 'PUT' | 'POST', url: string, payload?: unknown, role = 'admin' as const) => {
  const token = await tokenFor(app, role as 'admin' | 'insights');
  const r = await app.http.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    payload: payload as never,
  });
  return { status: r.statusCode, text: r.body, body: JSON.parse(r.body) };
};

/** What the console's form sends: the app's secret and the instance's OAuth client. */
const form = (over: Record<string, unknown> = {}) => ({
  name: 'm365',
  tenant: sandbox.microsoft.tenantId,
  clientId: sandbox.microsoft.apps.ticketloop.clientId,
  clientSecret: sandbox.microsoft.apps.ticketloop.clientSecret,
  itsm: 'sandbox',
  servicenow: {
    instanceUrl: sandbox.servicenow.baseUrl,
    auth: 'oauth',
    clientId: sandbox.servicenow.credentials.oauth.clientId,
    clientSecret: sandbox.servicenow.credentials.oauth.clientSecret,
  },
  testEnvironment: true,
  escalation: { mode: 'off' },
  ...over,
});

const outcomes = (steps: { what: string; outcome: string }[]) =>
  Object.fromEntries(steps.map((s) => [s.what.replace(/ in \/.*$/, ''), s.outcome]));

test('PUT /api/m365/setup stores the secrets encrypted, records the file, and a second PUT is unchanged', async () => {
  const secret = sandbox.microsoft.apps.ticketloop.clientSecret;
  const snSecret = sandbox.servicenow.credentials.oauth.clientSecret;
  const first = await call('PUT', '/api/m365/setup', form());
  assert.equal(first.status, 200, first.text);
  assert.ok(!first.text.includes(secret) && !first.text.includes(snSecret), 'no secret in the answer');
  assert.deepEqual(outcomes(first.body.steps), {
    'secret "microsoft/client-secret" (encrypted in the secret store)': 'created',
    microsoft: 'updated',
    'secret "servicenow/sandbox/client-secret" (encrypted in the secret store)': 'created',
    'servicenow "sandbox"': 'updated',
    'integration "m365"': 'updated',
  });
  assert.equal(first.body.saved, true);
  assert.equal(first.body.restartNeeded, true);
  assert.match(first.body.message, /restart Ticketloop to apply/);

  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('# Ticketloop at Contoso'), 'comments are kept');
  assert.ok(!text.includes(secret) && !text.includes(snSecret), 'no secret in the file');
  const yaml = parse(text);
  assert.deepEqual(yaml.microsoft.clientSecret, { secret: SECRET_NAMES.clientSecret });
  assert.deepEqual(yaml.servicenow[0].auth, {
    type: 'oauth',
    grant: 'client_credentials',
    clientId: sandbox.servicenow.credentials.oauth.clientId,
    clientSecret: { secret: SECRET_NAMES.snClientSecret('sandbox') },
  });
  assert.equal(yaml.integrations[0].testEnvironment, true);

  const rows = await app.store.db.selectFrom('secrets').select(['name', 'ciphertext']).execute();
  for (const r of rows)
    assert.ok(
      !Buffer.from(r.ciphertext as never)
        .toString('latin1')
        .includes(secret),
    );
  assert.ok(!rows.some((r) => String(r.ciphertext).includes(snSecret)));
  assert.equal(await app.secrets.get(SECRET_NAMES.clientSecret), secret);

  // Who saved what, never a value.
  const audit = await app.store.db.selectFrom('audit_log').selectAll().execute();
  const row = audit.find((a) => JSON.stringify(a).includes('m365-setup-saved'));
  assert.ok(row, 'an audit row');
  assert.ok(!JSON.stringify(audit).includes(secret) && !JSON.stringify(audit).includes(snSecret));

  const second = await call('PUT', '/api/m365/setup', form());
  assert.equal(second.status, 200, second.text);
  assert.ok(
    second.body.steps.every((s: { outcome: string }) => s.outcome === 'unchanged'),
    second.text,
  );
  assert.equal(readFileSync(file, 'utf8'), text, 'the file is unchanged');

  // The page shows the file as saved, and that a restart applies it.
  const view = await call('GET', '/api/m365/setup');
  assert.equal(view.status, 200, view.text);
  assert.match(view.body.pending, /restart Ticketloop to apply/);
  assert.deepEqual(view.body.itsm[0], {
    name: 'sandbox',
    type: 'servicenow',
    instanceUrl: sandbox.servicenow.baseUrl,
    auth: 'oauth',
    account: sandbox.servicenow.credentials.oauth.clientId,
  });
  assert.equal(view.body.integrations[0].testEnvironment, true);
});

test('an empty secret keeps the stored one: the escalation mode changes alone', async () => {
  const contact = {
    firstName: 'Ada',
    lastName: 'Admin',
    primaryEmailAddress: 'ada@contoso.com',
    preferredTimeZone: 'W. Europe Standard Time',
    country: 'deu',
  };
  const r = await call(
    'PUT',
    '/api/m365/setup',
    form({
      clientSecret: '',
      servicenow: { ...form().servicenow, clientSecret: '' },
      escalation: { mode: 'guided', contact },
    }),
  );
  assert.equal(r.status, 200, r.text);
  const o = outcomes(r.body.steps);
  assert.equal(o['integration "m365"'], 'updated');
  assert.equal(o['microsoft'], 'unchanged');
  assert.equal(o['servicenow "sandbox"'], 'unchanged');
  assert.ok(!Object.keys(o).some((k) => k.startsWith('secret ')), 'no secret written');
  assert.equal(await app.secrets.get(SECRET_NAMES.clientSecret), sandbox.microsoft.apps.ticketloop.clientSecret);
  const yaml = parse(readFileSync(file, 'utf8'));
  assert.equal(yaml.integrations[0].escalation.mode, 'guided');
  assert.deepEqual(yaml.servicenow[0].auth.clientSecret, { secret: SECRET_NAMES.snClientSecret('sandbox') });
  // Back to Insights only, with nothing re-entered.
  const back = await call('PUT', '/api/m365/setup', form({ clientSecret: undefined, servicenow: undefined }));
  assert.equal(back.status, 200, back.text);
  assert.equal(parse(readFileSync(file, 'utf8')).integrations[0].escalation.mode, 'off');
});

test('a bad field is a 400 naming it; insights is refused', async () => {
  const sub = await call('PUT', '/api/m365/setup', form({ escalation: { mode: 'azure-support' } }));
  assert.equal(sub.status, 400, sub.text);
  assert.match(
    sub.body.message ?? sub.text,
    /body\.escalation\.contact\.primaryEmailAddress: required when escalation is on/,
  );
  const contact = {
    firstName: 'Ada',
    lastName: 'Admin',
    primaryEmailAddress: 'ada@contoso.com',
    preferredTimeZone: 'UTC',
    country: 'deu',
  };
  const noSub = await call('PUT', '/api/m365/setup', form({ escalation: { mode: 'azure-support', contact } }));
  assert.equal(noSub.status, 400, noSub.text);
  assert.match(noSub.text, /body\.escalation\.subscription: required for mode azure-support/);
  const empty = await call('PUT', '/api/m365/setup', {});
  assert.equal(empty.status, 400, 'an empty body changes nothing by accident');
  assert.match(empty.text, /name/);
  const mode = await call('PUT', '/api/m365/setup', form({ escalation: { mode: 'sometimes' } }));
  assert.equal(mode.status, 400);
  assert.match(mode.text, /escalation\.mode/);
  const url = await call('PUT', '/api/m365/setup', form({ servicenow: { instanceUrl: 'http://x', auth: 'oauth' } }));
  assert.equal(url.status, 400);
  assert.match(url.text, /body\.servicenow\.instanceUrl: must be an https URL/);
  const pem = await call('PUT', '/api/m365/setup', form({ clientSecret: undefined, certificate: 'not a pem' }));
  assert.equal(pem.status, 400);
  assert.match(pem.text, /body\.certificate: the certificate PEM holds no private key/);

  const token = await tokenFor(app, 'insights');
  const refused = await app.http.inject({
    method: 'PUT',
    url: '/api/m365/setup',
    headers: { authorization: `Bearer ${token}` },
    payload: form(),
  });
  assert.equal(refused.statusCode, 403);
});

test('Test setup runs on the setup as saved (the sandbox answers every check)', async () => {
  // The running app still has basic sign-in and the old Microsoft secret; the file has the saved ones.
  const running = await app.checkConnections({ flows: ['m365'] });
  const signIn = (rs: { target: string; check: string; ok: boolean }[]) =>
    rs.find((r) => r.target.startsWith('Microsoft') && r.check === 'sign-in')?.ok;
  assert.equal(signIn(running), false, 'the running app still has the old secret');
  const tested = await call('POST', '/api/m365/setup/test', { integration: 'm365' });
  assert.equal(tested.status, 200, tested.text);
  const failed = tested.body.results.filter((r: { ok: boolean }) => !r.ok);
  assert.deepEqual(failed, [], tested.text);
  assert.equal(signIn(tested.body.results), true, tested.text);
  // The app built from the saved file loaded its secrets; the running one does not see them.
  assert.throws(() => resolveSecret({ secret: SECRET_NAMES.clientSecret }), /not in the secret store/);
  const health = tested.body.results.find((r: { check: string }) => r.check === 'read service health');
  assert.equal(health?.ok, true, tested.text);
});

test('without a configuration file (embedded defaults, the demo) a save is a 409 naming why', async () => {
  const bare = await buildTicketloop(loadConfig({ file }).config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    engine: false,
    logger: createLogger('silent'),
  });
  try {
    const token = await tokenFor(bare, 'admin');
    const r = await bare.http.inject({
      method: 'PUT',
      url: '/api/m365/setup',
      headers: { authorization: `Bearer ${token}` },
      payload: form(),
    });
    assert.equal(r.statusCode, 409, r.body);
    assert.match(r.body, /embedded defaults/);
  } finally {
    await bare.stop();
  }
});
