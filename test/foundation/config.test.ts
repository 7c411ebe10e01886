import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { loadConfig, validateConfig } from '../../src/app/config.ts';
import { ConfigError } from '../../src/config/load.ts';
import { resolveSecret } from '../../src/config/secrets.ts';
import { loadSecretKey, SecretBox } from '../../src/config/secrets.ts';

const dir = mkdtempSync(join(tmpdir(), 'tl-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('embedded defaults are valid and env overrides apply', () => {
  const { config, source } = loadConfig({ env: {} });
  assert.equal(source, 'embedded defaults');
  assert.equal(config.server.port, 8080);
  assert.equal(config.database.url, undefined);
  const withEnv = loadConfig({
    env: {
      DATABASE_URL: 'postgres://x@127.0.0.1/db',
      PORT: '9999',
      TICKETLOOP__engine__concurrency: '3',
      TICKETLOOP_DATA_DIR: '/tmp/d',
    },
  }).config;
  assert.equal(withEnv.database.url, 'postgres://x@127.0.0.1/db');
  assert.equal(withEnv.server.port, 9999);
  assert.equal(withEnv.engine.concurrency, 3);
  assert.equal(withEnv.dataDir, '/tmp/d');
});

test('each problem is reported with its path', () => {
  const f = file(
    'bad.yaml',
    `server:\n  port: 70000\nintegrations:\n  - name: em\n    type: entitlement\n    servicenow:\n      instanceUrl: http://dev.service-now.com\n      auth: { type: basic, username: u, password: p }\n  - name: em\n    type: nonsense\n    servicenow: missing\nunknownKey: 1\n`,
  );
  try {
    loadConfig({ file: f, env: {} });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const lines = e.problems.map((p) => `${p.path}: ${p.message}`);
    assert.ok(lines.includes('integrations[0].servicenow.instanceUrl: must be an https URL'), lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith('server.port:')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('integrations[1].type:')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /unknownKey/.test(l)),
      lines.join('\n'),
    );
  }
});

test('secret references resolve from inline, env and file; a missing env var is a config error', () => {
  const secretFile = file('secret.txt', 's3cret-from-file\n');
  assert.equal(resolveSecret('inline').reveal(), 'inline');
  assert.equal(resolveSecret({ env: 'MY_SECRET' }, { MY_SECRET: 'from-env' }).reveal(), 'from-env');
  assert.equal(resolveSecret({ file: secretFile }).reveal(), 's3cret-from-file');
  const s = resolveSecret('do-not-print');
  assert.equal(JSON.stringify({ s }), '{"s":"[secret]"}');
  assert.equal(`${s}`, '[secret]');
  assert.equal(inspect(s), '[secret]');
  const f = file(
    'envsecret.json',
    JSON.stringify({
      servicenow: [
        {
          name: 'prod',
          instanceUrl: 'https://x.service-now.com',
          auth: { type: 'basic', username: 'u', password: { env: 'SN_PASSWORD' } },
        },
      ],
    }),
  );
  assert.throws(
    () => loadConfig({ file: f, env: {} }),
    (e: ConfigError) =>
      e.problems[0].path === 'servicenow[0].auth.password' && /SN_PASSWORD/.test(e.problems[0].message),
  );
  assert.equal(loadConfig({ file: f, env: { SN_PASSWORD: 'pw' } }).config.itsm[0].name, 'prod');
});

test('secrets at rest: AES-256-GCM, key generated with mode 0600, tampering detected', () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'tl-key-'));
  const key = loadSecretKey(keyDir, undefined);
  assert.equal(key.length, 32);
  assert.equal(statSync(join(keyDir, 'secret.key')).mode & 0o777, 0o600);
  assert.deepEqual(loadSecretKey(keyDir, undefined), key, 'the same key on the next start');
  const box = new SecretBox(key);
  const sealed = box.encrypt('refresh-token-value', 'servicenow/prod');
  assert.ok(!sealed.includes('refresh-token-value'));
  assert.equal(box.decrypt(sealed, 'servicenow/prod'), 'refresh-token-value');
  const parts = sealed.split('.');
  parts[3] = Buffer.from('x' + Buffer.from(parts[3], 'base64').toString('latin1')).toString('base64');
  assert.throws(() => box.decrypt(parts.join('.'), 'servicenow/prod'));
  assert.throws(() => box.decrypt(sealed, 'another-name'), 'bound to its name');
});

test('`ticketloop config check` prints each error with its path and exits non-zero', () => {
  const f = file(
    'check.yaml',
    'servicenow:\n  - name: prod\n    instanceUrl: ftp://nope\n    auth: { type: apikey }\n',
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'check', '--config', f], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^servicenow\[0\]\.instanceUrl: must be an https URL$/m);
  assert.match(r.stderr, /^servicenow\[0\]\.auth\.key: /m);
  const ok = file('ok.yaml', 'server:\n  port: 9090\n');
  const r2 = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'check', '--config', ok], {
    encoding: 'utf8',
  });
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stdout, /configuration OK/);
});

test('an integration names its ITSM connection as `itsm` (or `servicenow`); a validated configuration validates again unchanged', () => {
  const prod = {
    name: 'prod',
    instanceUrl: 'https://x.service-now.com',
    auth: { type: 'basic', username: 'u', password: 'p' },
  };
  const raw = (integration: Record<string, unknown>) => ({
    servicenow: [prod],
    integrations: [
      { name: 'd', type: 'defender', scope: '/subscriptions/00000000-0000-4000-8000-000000000001', ...integration },
    ],
  });
  const c = validateConfig(raw({ itsm: 'prod' }), 'test');
  assert.equal(c.integrations[0].itsm, 'prod');
  assert.deepEqual(
    c.itsm.map((i) => [i.type, i.name]),
    [['servicenow', 'prod']],
  );
  assert.equal(validateConfig(raw({ servicenow: 'prod' }), 'test').integrations[0].itsm, 'prod');
  const inline = validateConfig(
    raw({ servicenow: { instanceUrl: 'https://y.service-now.com', auth: prod.auth } }),
    'test',
  );
  assert.equal(inline.integrations[0].itsm, 'inline:d');
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(inline)), 'again'), inline);
  const problem = (r: unknown) => {
    try {
      validateConfig(r, 'test');
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    }
    return 'valid';
  };
  assert.match(problem(raw({ itsm: 'nope' })), /^integrations\[0\]\.itsm: no ITSM connection named "nope"$/m);
  assert.match(
    problem(raw({ itsm: 'prod', servicenow: 'prod' })),
    /^integrations\[0\]\.servicenow: give one of itsm, servicenow, not several$/m,
  );
  assert.match(problem(raw({})), /^integrations\[0\]\.itsm: required/m);
});

test('docs/ticketloop.example.yaml validates once its secrets are in the environment', () => {
  const env = Object.fromEntries(
    [
      'TICKETLOOP_SIGNIN_SECRET',
      'TICKETLOOP_MICROSOFT_SECRET',
      'SERVICENOW_CLIENT_SECRET',
      'SERVICENOW_PASSWORD',
      'SERVICENOW_WEBHOOK_SECRET',
    ].map((k) => [k, 'x']),
  );
  const { config } = loadConfig({ file: 'docs/ticketloop.example.yaml', env });
  assert.equal(config.server.publicUrl, 'https://ticketloop.contoso.com');
  assert.equal(config.itsm[0].name, 'prod');
  assert.throws(() => loadConfig({ file: 'docs/ticketloop.example.yaml', env: {} }), /TICKETLOOP_SIGNIN_SECRET/);
});
