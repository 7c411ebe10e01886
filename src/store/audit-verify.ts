import type { Kysely } from 'kysely';
import { checkRowMac, rowHash } from './audit.ts';
import { readCheckpoints, type AuditCheckpoint } from './checkpoints.ts';
import type { Keyring } from './keys.ts';
import type { Database } from './schema.ts';

/**
 * `ticketloop audit verify` and GET /api/audit/verify: walk the chain from row 1 and compare it
 * with the checkpoints outside the database.
 *
 * A row is vouched for by its own MAC or by any later row's (each hash covers the whole prefix).
 * Rows without a MAC are allowed only before the first keyed row (legacy rows, from before the
 * upgrade that keyed the chain); rows MAC'd under a key this process does not hold (one retired by
 * `secrets rotate-key`) are vouched for by the first later row whose MAC it can check. The chain
 * must end on a row vouched for, and no checkpoint may name a row it no longer has or had otherwise.
 */

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  /** What is wrong, at the first bad row. */
  problem?: string;
  seq?: number;
  /** Rows a checkpoint saw that the database no longer has. */
  missing?: { from: number; to: number };
  /** Rows from before the chain was keyed (vouched for by the first keyed row after them). */
  legacyRows: number;
  checkpoints: {
    read: number;
    /** Signed with a key not held here: compared, but their own MAC not checked. */
    unverified: number;
    /** Lines that are not checkpoints (a write cut short). */
    damaged: number;
    lastSeq?: number;
    lastAt?: string;
  };
}

const BATCH = 5000;

export async function verifyAudit(
  db: Kysely<Database>,
  keys: Keyring,
  o: { checkpoints?: string[] } = {},
): Promise<AuditVerifyResult> {
  // Checkpoints before the head: each names a row committed before it was written, so every row
  // they name is at or below the head read next, even on a live system.
  const cps = await readCheckpoints(o.checkpoints ?? [], keys);
  const result: AuditVerifyResult = {
    ok: true,
    rows: 0,
    legacyRows: 0,
    checkpoints: {
      read: cps.read,
      unverified: cps.unverified,
      damaged: cps.damaged.length,
      lastSeq: cps.last?.seq,
      lastAt: cps.last?.at,
    },
  };
  const fail = (problem: string, seq?: number, missing?: { from: number; to: number }) =>
    Object.assign(result, {
      ok: false,
      problem,
      ...(seq === undefined ? {} : { seq }),
      ...(missing ? { missing } : {}),
    });
  if (cps.problem) return fail(cps.problem);

  // Appends move the head in the same transaction as their rows: every row up to it is visible now,
  // and rows appended while we read are simply beyond it.
  const head = await readHead(db);
  let prev = 'genesis';
  let expected = 1;
  let keyed = false;
  /** The first row not yet vouched for by a MAC this process can check. */
  let unvouched: number | undefined;
  const notHeld = new Set<string>();
  for (;;) {
    const batch = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expected)
      .where('seq', '<=', head.seq)
      .orderBy('seq')
      .limit(BATCH)
      .execute();
    for (const r of batch) {
      const seq = Number(r.seq);
      if (seq !== expected) return fail(`row ${expected} is missing (deleted?)`, expected);
      if (r.prev_hash !== prev) return fail(`row ${seq} does not follow row ${seq - 1} (chain broken)`, seq);
      if (rowHash({ ...r, seq, at: Number(r.at) }) !== r.hash)
        return fail(`row ${seq} was edited (hash mismatch)`, seq);
      if (r.mac === null) {
        if (keyed) return fail(`row ${seq} has no MAC (written without the audit key, or its MAC removed)`, seq);
        result.legacyRows++;
        unvouched ??= seq;
      } else {
        keyed = true;
        const good = checkRowMac(keys, r.hash, r.mac);
        if (good === false)
          return fail(`row ${seq} does not carry a valid MAC (edited and re-hashed, or written without the key)`, seq);
        if (good === undefined) {
          notHeld.add(r.mac.slice(0, 16));
          unvouched ??= seq;
        } else unvouched = undefined;
      }
      const cp = cps.bySeq.get(seq);
      if (cp && cp.head !== r.mac)
        return fail(`row ${seq} differs from ${describe(cp)}: rows up to ${seq} were rewritten`, seq);
      prev = r.hash;
      expected++;
      result.rows++;
    }
    if (batch.length < BATCH) break;
  }

  if (head.seq !== expected - 1 || head.hash !== prev) {
    const n = head.seq - (expected - 1);
    return fail(`the last ${n} row(s) are missing (deleted from the end?)`, head.seq, { from: expected, to: head.seq });
  }
  if (cps.last && cps.last.seq > head.seq) {
    const missing = { from: head.seq + 1, to: cps.last.seq };
    return fail(
      `rows ${missing.from}..${missing.to} are missing: ${describe(cps.last)} recorded row ${cps.last.seq} (the tail was cut and audit_head moved back)`,
      missing.from,
      missing,
    );
  }
  if (unvouched !== undefined) {
    const why = notHeld.size
      ? `MAC'd with key(s) ${[...notHeld].join(', ')}, not held here, and no later row vouches for them`
      : 'from before the chain was keyed, and no keyed row follows them';
    return fail(`rows ${unvouched}..${head.seq} are not authenticated: ${why}`, unvouched);
  }
  // Rows past the head mean the head was moved back over rows that are still there. The last row
  // first, then the head: a row appended in between has moved the head past it.
  const last = await db.selectFrom('audit_log').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const now = await readHead(db);
  if (last && Number(last.seq) > now.seq)
    return fail(`row ${Number(last.seq)} lies beyond audit_head (row ${now.seq}): the head was moved back`);
  return result;
}

async function readHead(db: Kysely<Database>): Promise<{ seq: number; hash: string }> {
  const h = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  return { seq: Number(h?.seq ?? 0), hash: h?.hash ?? 'genesis' };
}

const describe = (c: AuditCheckpoint) => `the checkpoint of ${c.at} (by ${c.by})`;
