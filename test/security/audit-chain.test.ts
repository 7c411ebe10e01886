import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { appendAudit, rowHash, rowMac, type AuditEntry } from '../../src/store/audit.ts';
import { verifyAudit } from '../../src/store/audit-verify.ts';
import { AuditCheckpointer, appendCheckpoint, checkpointFile, takeCheckpoint } from '../../src/store/checkpoints.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { keyId, loadKeyring } from '../../src/store/keys.ts';
import { migrateTo, migrateToLatest } from '../../src/store/migrations.ts';
import type { Database } from '../../src/store/schema.ts';
import { createTestDatabase, describeEachDialect, type DialectContext } from '../helpers/dialects.ts';

// Security review, issue 10, finding 3: with a plain SHA-256 chain, anyone who can write the
// database could rewrite the log (recomputing every hash) or cut its tail off (moving audit_head
// back), and `audit verify` said OK. Each test below is one such attack.

const entry = (n: number): AuditEntry => ({ kind: 'admin', actor: 'test', subject: `s/${n}`, detail: { n } });

async function append(store: Store, n: number, from = 0): Promise<void> {
  for (let i = 0; i < n; i++)
    await store.db
      .transaction()
      .execute((trx) => appendAudit(trx, [entry(from + i)], 1_700_000_000_000 + i, store.keys));
}

/** The attacker switches off the append-only triggers, as anyone with the database's owner role can. */
async function dropGuards(ctx: DialectContext): Promise<void> {
  if (ctx.dialect === 'postgres')
    await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`.execute(ctx.store.db);
  else {
    await sql`DROP TRIGGER IF EXISTS audit_log_no_update`.execute(ctx.store.db);
    await sql`DROP TRIGGER IF EXISTS audit_log_no_delete`.execute(ctx.store.db);
  }
}

async function rows(db: Kysely<Database>) {
  return (await db.selectFrom('audit_log').selectAll().orderBy('seq').execute()).map((r) => ({
    ...r,
    seq: Number(r.seq),
    at: Number(r.at),
  }));
}

/** What the old `audit verify` checked: contiguous seqs, prev_hash links, SHA-256 per row, the head. */
async function plainChainHolds(db: Kysely<Database>): Promise<boolean> {
  let prev = 'genesis';
  let seq = 0;
  for (const r of await rows(db)) {
    if (r.seq !== ++seq || r.prev_hash !== prev || rowHash(r) !== r.hash) return false;
    prev = r.hash;
  }
  const head = await db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  return Number(head.seq) === seq && head.hash === prev;
}

/** Rewrite every row from `from` on with fresh SHA-256 hashes (and `mac` as given), then the head. */
async function rehash(db: Kysely<Database>, from: number, mac: (seq: number, hash: string) => string | null) {
  let prev = from === 1 ? 'genesis' : (await rows(db)).find((r) => r.seq === from - 1)!.hash;
  for (const r of (await rows(db)).filter((x) => x.seq >= from)) {
    const hash = rowHash({ ...r, prev_hash: prev });
    await db
      .updateTable('audit_log')
      .set({ prev_hash: prev, hash, mac: mac(r.seq, hash) })
      .where('seq', '=', r.seq)
      .execute();
    prev = hash;
  }
  await db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
}

await describeEachDialect('audit chain under attack', (ctx) => {
  const file = () => checkpointFile(ctx.tdb.dataDir);
  const verify = () => verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file()] });
  const checkpoint = async () =>
    appendCheckpoint(file(), (await takeCheckpoint(ctx.store.db, ctx.store.keys, Date.now(), 'test:1'))!);

  test('intact: every row vouched for by its MAC, checkpoints agree', async () => {
    await append(ctx.store, 10);
    await checkpoint();
    const r = await verify();
    assert.equal(r.ok, true, r.problem);
    assert.equal(r.rows, 10);
    assert.equal(r.checkpoints.read, 1);
    assert.equal(r.checkpoints.lastSeq, 10);
    const macs = (await rows(ctx.store.db)).map((x) => x.mac);
    assert.ok(macs.every((m) => m && /^[0-9a-f]{16}:[0-9a-f]{64}$/.test(m)));
  });

  test('a chain recomputed with plain SHA-256 is caught by the MAC', async () => {
    await dropGuards(ctx);
    const original = new Map((await rows(ctx.store.db)).map((r) => [r.seq, r.mac]));
    await ctx.store.db
      .updateTable('audit_log')
      .set({ detail: '{"n":"nothing to see"}' })
      .where('seq', '=', 4)
      .execute();
    const own = randomBytes(32);
    const variants: [string, (seq: number, hash: string) => string | null, RegExp][] = [
      ['MACs left as they were', (seq) => original.get(seq) ?? null, /row 4 does not carry a valid MAC/],
      ['MACs removed', () => null, /row 4 has no MAC/],
      ['MACs made with a key of its own', (_, h) => rowMac({ kid: keyId(own), key: own }, h), /rows 4\.\.10 are not/],
    ];
    for (const [what, mac, problem] of variants) {
      await rehash(ctx.store.db, 4, mac);
      assert.equal(await plainChainHolds(ctx.store.db), true, `${what}: the old verify says OK`);
      const r = await verifyAudit(ctx.store.db, ctx.store.keys);
      assert.deepEqual([r.ok, r.seq], [false, 4], what);
      assert.match(r.problem!, problem, what);
    }
  });
});

await describeEachDialect('audit chain: edits, deletions, truncation', (ctx) => {
  const file = () => checkpointFile(ctx.tdb.dataDir);
  const verify = (checkpoints = [file()]) => verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints });

  test('an edited row; a deleted middle row', async () => {
    await append(ctx.store, 6);
    await dropGuards(ctx);
    await ctx.store.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 2).execute();
    const edited = await verify();
    assert.deepEqual([edited.ok, edited.seq], [false, 2]);
    assert.match(edited.problem!, /row 2 was edited/);
    await ctx.store.db.deleteFrom('audit_log').where('seq', '=', 2).execute();
    const deleted = await verify();
    assert.deepEqual([deleted.ok, deleted.seq], [false, 2]);
    assert.match(deleted.problem!, /row 2 is missing/);
  });
});

await describeEachDialect('audit chain: the tail', (ctx) => {
  const file = () => checkpointFile(ctx.tdb.dataDir);

  test('tail cut and audit_head moved back: the chain alone holds, the checkpoint catches it', async () => {
    await append(ctx.store, 10);
    appendFileSync(file(), ''); // exists, empty
    await appendCheckpoint(file(), (await takeCheckpoint(ctx.store.db, ctx.store.keys, Date.now(), 'test:1'))!);
    await dropGuards(ctx);
    const seven = (await rows(ctx.store.db)).find((r) => r.seq === 7)!;
    await ctx.store.db.deleteFrom('audit_log').where('seq', '>', 7).execute();
    await ctx.store.db.updateTable('audit_head').set({ seq: 7, hash: seven.hash }).where('id', '=', 1).execute();

    const alone = await verifyAudit(ctx.store.db, ctx.store.keys);
    assert.equal(alone.ok, true, 'without checkpoints a cut tail is undetectable: that is what they are for');
    const r = await verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file()] });
    assert.equal(r.ok, false);
    assert.deepEqual(r.missing, { from: 8, to: 10 });
    assert.match(r.problem!, /rows 8\.\.10 are missing/);

    // Appending again over the cut does not hide it: row 10 now differs from the checkpoint's.
    await append(ctx.store, 3, 100);
    const again = await verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file()] });
    assert.deepEqual([again.ok, again.seq], [false, 10]);
    assert.match(again.problem!, /row 10 differs from the checkpoint/);
  });

  test('audit_head moved back over rows still there', async () => {
    const all = await rows(ctx.store.db);
    const last = all.at(-1)!;
    const before = all.at(-2)!;
    await ctx.store.db
      .updateTable('audit_head')
      .set({ seq: before.seq, hash: before.hash })
      .where('id', '=', 1)
      .execute();
    const r = await verifyAudit(ctx.store.db, ctx.store.keys);
    assert.equal(r.ok, false);
    assert.match(r.problem!, new RegExp(`row ${last.seq} lies beyond audit_head`));
  });
});

await describeEachDialect('audit checkpoints from several processes', (ctx) => {
  test('two instances on one database append and checkpoint into one file: verify OK', async () => {
    const other = await ctx.tdb.open(); // its own pool (connection), the same key: another instance
    const file = checkpointFile(ctx.tdb.dataDir);
    const writer = (store: Store, by: string) =>
      new AuditCheckpointer({
        db: store.db,
        keys: store.keys,
        now: () => Date.now(),
        by,
        dataDir: ctx.tdb.dataDir,
        config: { file: true, stdout: false, everySeconds: 3600 },
      });
    const a = writer(ctx.store, 'host-a:1');
    const b = writer(other, 'host-b:2');
    try {
      for (let round = 0; round < 5; round++) {
        const both = [() => append(ctx.store, 3, round * 10), () => append(other, 3, round * 10 + 5)];
        // Concurrently on PostgreSQL; one after the other on SQLite, whose two connections in one
        // process would wait on each other synchronously.
        if (ctx.dialect === 'postgres') await Promise.all(both.map((f) => f()));
        else for (const f of both) await f();
        // In either order, a checkpoint of a head the other has already passed.
        await (round % 2
          ? Promise.all([b.checkpoint(), a.checkpoint()])
          : Promise.all([a.checkpoint(), b.checkpoint()]));
      }
      await Promise.all([a.stop(), b.stop()]);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.ok(lines.length >= 5);
      assert.ok(new Set(lines.map((l) => JSON.parse(l).by)).size === 2, 'both wrote');
      const r = await verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file] });
      assert.equal(r.ok, true, r.problem);
      assert.equal(r.rows, 30);
      assert.equal(r.checkpoints.read, lines.length);
    } finally {
      await other.close();
    }
  });

  test('a forged checkpoint line fails; a line cut short is skipped', async () => {
    const file = checkpointFile(ctx.tdb.dataDir);
    appendFileSync(file, '{"type":"audit-checkp');
    appendFileSync(file, '\n');
    const torn = await verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file] });
    assert.equal(torn.ok, true, torn.problem);
    assert.equal(torn.checkpoints.damaged, 1);
    const last = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-2)!);
    appendFileSync(file, `${JSON.stringify({ ...last, seq: last.seq + 50 })}\n`);
    const forged = await verifyAudit(ctx.store.db, ctx.store.keys, { checkpoints: [file] });
    assert.equal(forged.ok, false);
    assert.match(forged.problem!, /MAC does not match/);
  });
});

test('rows from before the upgrade: vouched for by the keyed row the upgrade appends; rewriting them is caught', async () => {
  const tdb = await createTestDatabase('sqlite');
  const s = await openStore({ dataDir: tdb.dataDir, keys: loadKeyring(tdb.dataDir, {}) });
  try {
    // The database as the code before 0006 left it, with three rows of the plain chain.
    await migrateTo(s, [], '0005_itsm_state');
    let prev = 'genesis';
    for (let seq = 1; seq <= 3; seq++) {
      const r = { seq, at: seq, kind: 'admin', actor: 'old', subject: 'x', detail: `{"n":${seq}}`, prev_hash: prev };
      const hash = rowHash(r);
      await (s.db as Kysely<any>)
        .insertInto('audit_log')
        .values({ ...r, hash })
        .execute();
      prev = hash;
    }
    await s.db.updateTable('audit_head').set({ seq: 3, hash: prev }).where('id', '=', 1).execute();
    await migrateToLatest(s);

    const r = await verifyAudit(s.db, s.keys);
    assert.equal(r.ok, true, r.problem);
    assert.deepEqual([r.rows, r.legacyRows], [4, 3]);
    const keyed = (await rows(s.db)).at(-1)!;
    assert.match(keyed.detail, /audit-chain-keyed/);

    await sql`DROP TRIGGER audit_log_no_update`.execute(s.db);
    await s.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 2).execute();
    await rehash(s.db, 2, (seq) => (seq === 4 ? keyed.mac : null));
    assert.equal(await plainChainHolds(s.db), true, 'the old verify says OK');
    const bad = await verifyAudit(s.db, s.keys);
    assert.deepEqual([bad.ok, bad.seq], [false, 4]);
    assert.match(bad.problem!, /row 4 does not carry a valid MAC/);
  } finally {
    await s.close();
    await tdb.drop();
  }
});
