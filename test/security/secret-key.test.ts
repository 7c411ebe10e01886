import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { SecretStore } from '../../src/config/secrets.ts';
import { appendAudit } from '../../src/store/audit.ts';
import { verifyAudit } from '../../src/store/audit-verify.ts';
import { appendCheckpoint, checkpointFile, takeCheckpoint } from '../../src/store/checkpoints.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { Keyring, loadKeyring, PREVIOUS_KEY_FILE } from '../../src/store/keys.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';
import { rotateSecretKey, RotationRefused, type RotateStep } from '../../src/store/rotate.ts';
import { createTestDatabase } from '../helpers/dialects.ts';

// Issue 10, finding 2: every stored secret goes through the secret store, and `secrets rotate-key`
// re-encrypts them without ever leaving one unreadable, whatever point a run stops at.

const SECRETS = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`test/s${i}`, `value-${i}-${'x'.repeat(i)}`]));

async function setup(env: NodeJS.ProcessEnv = {}) {
  const tdb = await createTestDatabase('sqlite');
  const store = await openStore({ dataDir: tdb.dataDir, keys: loadKeyring(tdb.dataDir, env) });
  await migrateToLatest(store);
  const secrets = new SecretStore(store.db, store.keys);
  for (const [k, v] of Object.entries(SECRETS)) await secrets.put(k, v);
  for (let i = 0; i < 3; i++)
    await store.db
      .transaction()
      .execute((trx) =>
        appendAudit(trx, [{ kind: 'admin', actor: 't', subject: `r${i}`, detail: {} }], Date.now(), store.keys),
      );
  const file = checkpointFile(tdb.dataDir);
  await appendCheckpoint(file, (await takeCheckpoint(store.db, store.keys, Date.now(), 'test:1'))!);
  const rotate = (o: { step?: (s: RotateStep, n: number) => void; force?: boolean } = {}) =>
    rotateSecretKey({ store, now: () => Date.now(), actor: 'test', checkpoints: [file], ...o });
  return { tdb, store, secrets, file, rotate, done: async () => (await store.close(), await tdb.drop()) };
}

/** Every secret as a process started now would read it (keys from disk, nothing in memory). */
async function readAll(store: Store, keys: Keyring) {
  const s = new SecretStore(store.db, keys);
  return Object.fromEntries(await Promise.all(Object.keys(SECRETS).map(async (k) => [k, await s.get(k)])));
}

const kids = async (store: Store) =>
  new Set(
    (await store.db.selectFrom('secrets').select('ciphertext').execute()).map((r) => Keyring.kidOf(r.ciphertext)),
  );

test('secrets at rest: ciphertext naming its key, bound to its name; the key file is 0600', async () => {
  const t = await setup();
  try {
    const rows = await t.store.db.selectFrom('secrets').selectAll().execute();
    for (const r of rows) {
      assert.match(r.ciphertext, new RegExp(`^v2\\.${t.store.keys.current.kid}\\.`));
      assert.ok(!r.ciphertext.includes(SECRETS[r.name]));
    }
    assert.throws(() => t.store.keys.open('test/other', rows[0].ciphertext), 'a ciphertext moved to another name');
    assert.equal(statSync(join(t.tdb.dataDir, 'secret.key')).mode & 0o777, 0o600);
  } finally {
    await t.done();
  }
});

test('rotate-key: a new key, every secret re-encrypted and readable, the old key gone, the audit chain still verifies', async () => {
  const t = await setup();
  try {
    const before = t.store.keys.current.kid;
    const r = await t.rotate();
    assert.equal(r.from, before);
    assert.notEqual(r.to, before);
    assert.deepEqual([r.resumed, r.reencrypted, r.secrets, r.auditOk], [false, 6, 6, true]);
    assert.ok(!existsSync(join(t.tdb.dataDir, PREVIOUS_KEY_FILE)));
    const fresh = loadKeyring(t.tdb.dataDir, {});
    assert.deepEqual([fresh.current.kid, fresh.previous], [r.to, undefined]);
    assert.deepEqual(await readAll(t.store, fresh), SECRETS);
    assert.deepEqual(await kids(t.store), new Set([r.to]));
    // Rows MAC'd with the retired key are vouched for by the rotation's row under the new one.
    const v = await verifyAudit(t.store.db, fresh, { checkpoints: [t.file] });
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.checkpoints.unverified, 1, 'the checkpoint signed with the retired key');
  } finally {
    await t.done();
  }
});

for (const [at, n] of [
  ['previous-written', 0],
  ['key-written', 0],
  ['marker-moved', 0],
  ['secret-reencrypted', 3],
  ['audited', 0],
] as const) {
  test(`rotate-key stopped at "${at}${n ? ` ${n}` : ''}": every secret stays readable, the next run finishes`, async () => {
    const t = await setup();
    try {
      const crash = new Error('simulated crash');
      await assert.rejects(
        t.rotate({
          step: (s, i) => {
            if (s === at && i === n) throw crash;
          },
        }),
        crash,
      );
      // A process starting now loads the keys from disk: both, if the old one is still needed.
      assert.deepEqual(await readAll(t.store, loadKeyring(t.tdb.dataDir, {})), SECRETS);
      const again = await t.rotate();
      assert.equal(again.resumed, at !== 'previous-written', 'a run stopped before the new key starts over');
      const fresh = loadKeyring(t.tdb.dataDir, {});
      assert.equal(fresh.previous, undefined);
      assert.deepEqual(await readAll(t.store, fresh), SECRETS);
      assert.deepEqual(await kids(t.store), new Set([fresh.current.kid]));
      const v = await verifyAudit(t.store.db, fresh, { checkpoints: [t.file] });
      assert.equal(v.ok, true, v.problem);
    } finally {
      await t.done();
    }
  });
}

test('after a rotation elsewhere, a process holding the old key reads and writes under the new one', async () => {
  const t = await setup();
  try {
    const stale = loadKeyring(t.tdb.dataDir, {}); // loaded before the rotation, like a running instance
    await t.rotate();
    const s = new SecretStore(t.store.db, stale);
    assert.equal(await s.get('test/s1'), SECRETS['test/s1']);
    await s.put('test/new', 'written-after');
    const fresh = loadKeyring(t.tdb.dataDir, {});
    assert.equal(await new SecretStore(t.store.db, fresh).get('test/new'), 'written-after');
    assert.deepEqual(await kids(t.store), new Set([fresh.current.kid]));

    // A process with some other key refuses to write what nobody else could read.
    const other = new Keyring(t.tdb.dataDir, { TICKETLOOP_SECRET_KEY: randomBytes(32).toString('base64') });
    await assert.rejects(new SecretStore(t.store.db, other).put('test/x', 'v'), /does not hold/);
    assert.equal(await new SecretStore(t.store.db, fresh).get('test/x'), undefined);
  } finally {
    await t.done();
  }
});

test('keys from the environment: rotate-key says what to set, then re-encrypts with both keys loaded', async () => {
  const oldKey = randomBytes(32).toString('base64');
  const t = await setup({ TICKETLOOP_SECRET_KEY: oldKey });
  try {
    await assert.rejects(
      t.rotate(),
      (e) => e instanceof RotationRefused && /TICKETLOOP_SECRET_KEY_PREVIOUS/.test(e.message),
    );
    const next = { TICKETLOOP_SECRET_KEY: randomBytes(32).toString('base64'), TICKETLOOP_SECRET_KEY_PREVIOUS: oldKey };
    const store = await openStore({ dataDir: t.tdb.dataDir, keys: loadKeyring(t.tdb.dataDir, next) });
    try {
      const r = await rotateSecretKey({ store, now: () => Date.now(), actor: 't', checkpoints: [t.file] });
      assert.equal(r.reencrypted, 6);
      assert.match(r.todo!, /remove TICKETLOOP_SECRET_KEY_PREVIOUS/);
      const only = loadKeyring(t.tdb.dataDir, { TICKETLOOP_SECRET_KEY: next.TICKETLOOP_SECRET_KEY });
      assert.deepEqual(await readAll(store, only), SECRETS);
    } finally {
      await store.close();
    }
  } finally {
    await t.done();
  }
});

test('rotate-key refuses over an audit chain that does not verify (a new-key MAC would vouch for it), unless forced', async () => {
  const t = await setup();
  try {
    await sql`DROP TRIGGER audit_log_no_update`.execute(t.store.db);
    await t.store.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 2).execute();
    await assert.rejects(t.rotate(), (e) => e instanceof RotationRefused && /does not verify/.test(e.message));
    assert.deepEqual(await readAll(t.store, loadKeyring(t.tdb.dataDir, {})), SECRETS, 'refused: still readable');
    const r = await t.rotate({ force: true });
    assert.equal(r.auditOk, false);
    const last = await t.store.db
      .selectFrom('audit_log')
      .select('detail')
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    assert.match(last.detail, /"auditVerified":false/);
  } finally {
    await t.done();
  }
});
