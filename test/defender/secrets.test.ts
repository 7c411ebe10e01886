import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { Integrations } from '../../src/flows/defender/integrations.ts';
import { defenderRuntime } from '../../src/flows/defender/runtime.ts';
import { defenderDb } from '../../src/flows/defender/tables.ts';
import { authFor } from '../helpers/identity.ts';
import { base, startDefenderEnv } from './helpers.ts';

// Security review, issue 10, findings 1 and 2: over the API a caller could make Ticketloop send
// any file (data/secret.key) or environment variable as the SMTP password to a host of its
// choosing, and a password given over the API was kept in plaintext, in the tombstone too.

const DAY = 86_400_000;
const PASSWORD = 'smtp-pw-3c1f9e0d-only-in-the-secret-store';

async function startSink(file: string) {
  const sink = spawn(process.execPath, [join(import.meta.dirname, 'smtp-sink.mjs'), file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve));
  return { port: (JSON.parse(line) as { port: number }).port, stop: () => sink.stdin!.end() };
}

test('API integrations: secrets are values, stored encrypted, write-only, gone on delete; hosts allow-listed', async () => {
  const sinkFile = join(process.env.TMPDIR ?? '/tmp', `tl-smtp-secrets-${process.pid}-${Date.now()}.jsonl`);
  const sink = await startSink(sinkFile);
  const env = await startDefenderEnv([], { config: { outbound: { allowHosts: [`127.0.0.1:${sink.port}`] } } });
  const db = defenderDb(env.app.store.db);
  const headers = await authFor(env.app, 'admin');
  const api = async (method: string, url: string, payload?: unknown) => {
    const r = await env.app.http.inject({ method: method as 'GET', url, payload: payload as object, headers });
    return { status: r.statusCode, body: r.json() };
  };
  const smtp = { host: '127.0.0.1', port: sink.port, starttls: 'off', from: 'tl@example.com', username: 'tl-mailer' };
  const integration = (name: string, over: Record<string, unknown>) =>
    base(name, {
      scope: `/subscriptions/${DEMO.prodSubscription}`,
      grouping: 'resource',
      filters: { recommendations: [DEMO.systemUpdates] },
      remediationTimeframeDays: 10,
      notifications: { owner: true, daysBefore: 3, weekly: false, smtp: { ...smtp, ...over } },
    });
  const refused = async (name: string, over: Record<string, unknown>, path: string, message: RegExp) => {
    const r = await api('POST', '/api/defender/integrations', integration(name, over));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    const d = r.body.error.details.find((x: { path: string }) => x.path === path);
    assert.ok(d, `a detail names ${path}: ${JSON.stringify(r.body.error.details)}`);
    assert.match(d.message, message);
  };
  try {
    // Finding 1: a secret reference from the API — the key file, an environment variable.
    const keyFile = join(env.dir, 'tl', 'secret.key');
    assert.ok(existsSync(keyFile));
    const field = 'body.notifications.smtp.password';
    await refused('steal-file', { password: { file: keyFile } }, field, /configuration file/);
    await refused('steal-env', { password: { env: 'HOME' } }, field, /configuration file/);
    await refused('steal-value', { password: { value: 'x' } }, field, /as a string/);
    await refused('read-ca', { password: 'x', caFile: '/dev/zero' }, 'body.notifications.smtp.caFile', /file/);
    // …and a host (or port) the allow-list does not have.
    const host = 'body.notifications.smtp.host';
    await refused('exfil', { host: 'mail.attacker.example', password: 'x' }, host, /outbound\.allowHosts/);
    await refused('exfil-port', { port: sink.port + 1, password: 'x' }, host, /outbound\.allowHosts/);
    assert.deepEqual(await db.selectFrom('defender_integration').select('name').execute(), [], 'nothing stored');
    assert.deepEqual(await db.selectFrom('secrets').select('name').execute(), []);

    // Finding 2: a secret given over the API is ciphertext in the database and write-only.
    const created = await api('POST', '/api/defender/integrations', integration('mailer', { password: PASSWORD }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.config.notifications.smtp.password, { set: true });
    const shown = await api('GET', '/api/defender/integrations/mailer');
    assert.deepEqual(shown.body.config.notifications.smtp.password, { set: true });
    assert.ok(!JSON.stringify((await api('GET', '/api/defender/integrations')).body).includes(PASSWORD));
    const row = await db
      .selectFrom('defender_integration')
      .selectAll()
      .where('name', '=', 'mailer')
      .executeTakeFirstOrThrow();
    assert.ok(!row.config.includes(PASSWORD) && !row.config.includes('password'), row.config);
    const [secret] = await db.selectFrom('secrets').selectAll().execute();
    assert.equal(secret.name, 'defender/mailer/notifications.smtp.password');
    assert.match(secret.ciphertext, /^v2\.[0-9a-f]{16}\./);
    assert.ok(!secret.ciphertext.includes(PASSWORD));

    // A reminder authenticates with the decrypted value — read back from the secret store, as
    // after a restart (a fresh Integrations loaded from the database).
    const d = defenderRuntime(env.app);
    const running = d.integrations;
    d.integrations = new Integrations(env.app);
    await d.integrations.load();
    await env.reconcile('mailer');
    await env.drain();
    env.clock.advance(7 * DAY + 1000);
    await env.drain();
    d.integrations = running; // the routes hold this one
    const mails = readFileSync(sinkFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(mails.length >= 1, 'a reminder was sent');
    assert.deepEqual(mails[0].auth, { username: 'tl-mailer', password: PASSWORD });

    // Delete: the secret goes, the tombstone keeps none, and the cascade still runs.
    assert.equal((await api('DELETE', '/api/defender/integrations/mailer')).status, 202);
    assert.deepEqual(await db.selectFrom('secrets').select('name').execute(), []);
    const tomb = await db
      .selectFrom('defender_integration')
      .selectAll()
      .where('name', '=', 'mailer')
      .executeTakeFirstOrThrow();
    assert.notEqual(tomb.deleted_at, null);
    assert.ok(!tomb.config.includes(PASSWORD) && !tomb.config.includes('password'), tomb.config);
    await env.drain();
    assert.ok((await env.items('mailer:')).every((i) => i.s.status === 'deleted'));
    await env.app.store.close().catch(() => {});
    for (const f of ['ticketloop.db', 'ticketloop.db-wal'].map((n) => join(env.dir, 'tl', n)))
      if (existsSync(f)) assert.ok(!readFileSync(f).includes(PASSWORD), `${f} never held the password in plaintext`);
  } finally {
    await env.close().catch(() => {});
    sink.stop();
  }
});

test('rows stored before the upgrade: a plaintext secret moves to the secret store, a reference is dropped', async () => {
  const env = await startDefenderEnv([], { config: { outbound: { allowHosts: ['smtp.example.com'] } } });
  const db = defenderDb(env.app.store.db);
  const old = (name: string, password: unknown, host = 'smtp.example.com') => ({
    name,
    config: JSON.stringify({
      ...base(name, { scope: `/subscriptions/${DEMO.prodSubscription}` }),
      itsm: 'sandbox',
      servicenow: undefined,
      notifications: { owner: true, smtp: { host, port: 587, from: 'tl@example.com', username: 'u', password } },
    }),
    deleted_at: null,
    updated_at: 1,
  });
  try {
    await db
      .insertInto('defender_integration')
      .values([
        old('plain', PASSWORD),
        old('ref', { file: join(env.dir, 'tl', 'secret.key') }),
        old('far', 'x', 'mail.attacker.example'),
      ])
      .execute();
    const i = new Integrations(env.app);
    await i.load();
    assert.equal(i.get('plain')!.notifications.smtp!.password, PASSWORD, 'still usable');
    assert.equal(i.get('ref')!.notifications.smtp!.password, undefined, 'the reference is gone');
    assert.equal(i.get('far')!.notifications.smtp, undefined, 'a server outside the allow-list is dropped');
    assert.equal(i.get('far')!.notifications.owner, false, '…and its reminders with it');
    const rows = await db.selectFrom('defender_integration').select(['name', 'config']).execute();
    for (const r of rows) assert.ok(!r.config.includes('password'), `${r.name}: ${r.config}`);
    const secrets = await db.selectFrom('secrets').select(['name', 'ciphertext']).execute();
    assert.deepEqual(
      secrets.map((s) => s.name),
      ['defender/plain/notifications.smtp.password'],
    );
    const audit = await env.app.store.db
      .selectFrom('audit_log')
      .select('detail')
      .where('subject', 'like', 'defender/%')
      .execute();
    assert.equal(audit.filter((a) => a.detail.includes('api-integration-upgraded')).length, 3);
  } finally {
    await env.close();
  }
});
