import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { appendAudit } from '../../src/store/audit.ts';
import { checkpointFile } from '../../src/store/checkpoints.ts';
import { verifyAudit } from '../../src/store/audit-verify.ts';
import { openStore } from '../../src/store/db.ts';
import { loadKeyring } from '../../src/store/keys.ts';
import { rotateSecretKey } from '../../src/store/rotate.ts';
import { runCli } from '../helpers/cli.ts';
import { authFor } from '../helpers/identity.ts';

/** A running app (no flows) in a fresh data dir, on SQLite. */
async function app(dataDir: string, checkpoints: Record<string, unknown> = {}) {
  const config = validateConfig(
    { dataDir, server: { port: 0 }, log: { level: 'silent' }, audit: { checkpoints } },
    'test',
  );
  return buildTicketloop(config, { itsm: ITSM_MODULES, flows: [], logger: createLogger('silent') });
}

async function audit(store: { db: any; keys: any }, n: number) {
  for (let i = 0; i < n; i++)
    await store.db
      .transaction()
      .execute((trx: any) =>
        appendAudit(trx, [{ kind: 'admin', actor: 'test', subject: `x/${i}`, detail: { i } }], Date.now(), store.keys),
      );
}

test('the service checkpoints at start and stop (file, and stdout when asked); GET /api/audit/verify', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-cp-'));
  const t = await app(dataDir, { stdout: true });
  const shipped: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string, ...rest: any[]) =>
    chunk.startsWith('{"type":"audit-checkpoint"')
      ? (shipped.push(chunk), true)
      : write(chunk, ...rest)) as typeof process.stdout.write;
  try {
    await audit(t.store, 3);
    await t.start();
    await t.checkpoints.checkpoint(); // the start's own ran already: nothing new, nothing written
    await audit(t.store, 2);
    const headers = await authFor(t, 'auditor'); // its creation is audited: one row more
    const r = await t.http.inject({ method: 'GET', url: '/api/audit/verify', headers });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.ok, true, body.problem);
    assert.equal(body.rows, 6);
    assert.equal(body.checkpoints.lastSeq, 3);
    await t.stop();
  } finally {
    process.stdout.write = write;
  }
  const lines = readFileSync(checkpointFile(dataDir), 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).seq),
    [3, 6],
    'one at start, one at stop',
  );
  assert.equal(statSync(checkpointFile(dataDir)).mode & 0o777, 0o600);
  assert.deepEqual(
    shipped.map((l) => l.trim()),
    lines,
    'the same lines on stdout',
  );
});

test('ticketloop audit export / verify, secrets status / rotate-key from the command line', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-audit-cli-'));
  const env = { TICKETLOOP_DATA_DIR: dataDir, TICKETLOOP_SECRET_KEY: '' };
  const t = await app(dataDir);
  await audit(t.store, 6);
  await t.checkpoints.checkpoint();
  await t.store.db.transaction().execute(async (trx) => {
    await t.secrets.put('test/one', 'one', { trx });
    await t.secrets.put('test/two', 'two', { trx });
  });
  await t.stop();

  const out = join(dataDir, 'export.jsonl');
  const exported = await runCli(['audit', 'export', '--since', '2', '--out', out], env);
  assert.equal(exported.status, 0, exported.err);
  const rows = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((r) => r.seq),
    [2, 3, 4, 5, 6],
  );
  for (const r of rows) {
    assert.deepEqual(Object.keys(r), ['seq', 'at', 'kind', 'actor', 'subject', 'detail', 'prevHash', 'hash', 'mac']);
    assert.equal(new Date(r.at).toISOString(), r.at);
    assert.equal(typeof r.detail, 'object');
    assert.match(r.mac, /^[0-9a-f]{16}:[0-9a-f]{64}$/);
  }
  assert.equal(statSync(out).mode & 0o777, 0o600);

  const status = await runCli(['secrets', 'status'], env);
  assert.equal(status.status, 0, status.err);
  assert.match(status.out, /stored secrets: 2/);
  assert.match(status.out, /previous key: none/);
  const rotated = await runCli(['secrets', 'rotate-key'], env);
  assert.equal(rotated.status, 0, rotated.err);
  assert.match(rotated.out, /rotated the secret key: [0-9a-f]{16} → [0-9a-f]{16}; 2 of 2 secret\(s\) re-encrypted/);

  const ok = await runCli(['audit', 'verify'], env);
  assert.equal(ok.status, 0, ok.err);
  assert.match(ok.out, /audit log OK: 7 rows, hash chain and MACs intact; checked against 2 checkpoint/);

  // The tail cut and the head moved back: the CLI names the missing range.
  const s = await openStore({ dataDir });
  await sql`DROP TRIGGER audit_log_no_delete`.execute(s.db);
  const five = await s.db.selectFrom('audit_log').select('hash').where('seq', '=', 5).executeTakeFirstOrThrow();
  await s.db.deleteFrom('audit_log').where('seq', '>', 5).execute();
  await s.db.updateTable('audit_head').set({ seq: 5, hash: five.hash }).where('id', '=', 1).execute();
  await s.close();
  const bad = await runCli(['audit', 'verify'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.err, /audit log FAILED verification: rows 6\.\.7 are missing/);
  assert.match(bad.err, /missing rows: 6\.\.7/);
});

test('an instance holding another secret key than the database was written with refuses to start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-key-'));
  const own = process.env.TICKETLOOP_SECRET_KEY;
  await (await app(dataDir)).stop();
  process.env.TICKETLOOP_SECRET_KEY = randomBytes(32).toString('base64');
  try {
    await assert.rejects(app(dataDir), /instances sharing a database must share the key/);
  } finally {
    if (own === undefined) delete process.env.TICKETLOOP_SECRET_KEY;
    else process.env.TICKETLOOP_SECRET_KEY = own;
  }
  await (await app(dataDir)).stop(); // with its own key again: fine
});

test('a running instance picks a key rotated on its host up at its next checkpoint', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tl-rot-'));
  const t = await app(dataDir);
  try {
    await audit(t.store, 2);
    await t.checkpoints.checkpoint();
    const cli = await openStore({ dataDir, keys: loadKeyring(dataDir, {}) });
    const r = await rotateSecretKey({ store: cli, now: () => Date.now(), actor: 'test', checkpoints: [] });
    await cli.close();
    assert.notEqual(t.store.keys.current.kid, r.to, 'still the old key in memory');
    await t.checkpoints.checkpoint();
    assert.equal(t.store.keys.current.kid, r.to);
    await audit(t.store, 1);
    const v = await verifyAudit(t.store.db, loadKeyring(dataDir, {}), { checkpoints: [checkpointFile(dataDir)] });
    assert.equal(v.ok, true, v.problem);
  } finally {
    await t.stop();
  }
});
