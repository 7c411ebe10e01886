import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * The audit log: append-only (database triggers refuse UPDATE/DELETE) and hash-chained — each row
 * carries the previous row's hash, so `ticketloop audit verify` detects an edited or deleted row.
 */
export type AuditKind = 'state' | 'outbound' | 'inbound' | 'job' | 'admin' | 'security';

export interface AuditEntry {
  kind: AuditKind;
  actor: string;
  subject: string;
  detail: Record<string, unknown>;
}

const SECRET_KEY = /secret|password|passwd|token|authorization|assertion|api[-_]?key|cookie/i;

/** Drop anything that looks like a secret before it reaches the log. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

function rowHash(r: {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  subject: string;
  detail: string;
  prev_hash: string;
}) {
  return createHash('sha256')
    .update(JSON.stringify([r.seq, r.at, r.kind, r.actor, r.subject, r.detail, r.prev_hash]))
    .digest('hex');
}

/**
 * Append entries inside the caller's transaction (so a state change and its audit row commit
 * together). Locks the chain head first, which serialises appenders across processes.
 */
export async function appendAudit(trx: Kysely<Database>, entries: AuditEntry[], now: number): Promise<void> {
  if (entries.length === 0) return;
  const head = await trx
    .updateTable('audit_head')
    .set((eb) => ({ seq: eb('seq', '+', entries.length) }))
    .where('id', '=', 1)
    .returning(['seq', 'hash'])
    .executeTakeFirstOrThrow();
  let prev = head.hash;
  let seq = Number(head.seq) - entries.length;
  const rows = entries.map((e) => {
    seq += 1;
    const row = {
      seq,
      at: now,
      kind: e.kind,
      actor: e.actor,
      subject: e.subject,
      detail: JSON.stringify(redact(e.detail)),
      prev_hash: prev,
      hash: '',
    };
    row.hash = rowHash(row);
    prev = row.hash;
    return row;
  });
  await trx.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
  for (let i = 0; i < rows.length; i += 200)
    await trx
      .insertInto('audit_log')
      .values(rows.slice(i, i + 200))
      .execute();
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  /** What is wrong, at the first bad row. */
  problem?: string;
  seq?: number;
}

/** Walk the chain from the start; stream in batches so a long log needs little memory. */
export async function verifyAudit(db: Kysely<Database>): Promise<AuditVerifyResult> {
  // The head first: appends move it in the same transaction as their rows, so every row up to it is
  // visible now, and rows appended while we read (a live system) are simply beyond it.
  const head = await db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
  const last = head ? Number(head.seq) : Number.MAX_SAFE_INTEGER;
  let prev = 'genesis';
  let expected = 1;
  let rows = 0;
  for (;;) {
    const batch = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expected)
      .where('seq', '<=', last)
      .orderBy('seq')
      .limit(5000)
      .execute();
    for (const r of batch) {
      const seq = Number(r.seq);
      if (seq !== expected) return { ok: false, rows, seq: expected, problem: `row ${expected} is missing (deleted?)` };
      if (r.prev_hash !== prev)
        return { ok: false, rows, seq, problem: `row ${seq} does not follow row ${seq - 1} (chain broken)` };
      if (rowHash({ ...r, seq, at: Number(r.at) }) !== r.hash)
        return { ok: false, rows, seq, problem: `row ${seq} was edited (hash mismatch)` };
      prev = r.hash;
      expected++;
      rows++;
    }
    if (batch.length < 5000) break;
  }
  if (head && (Number(head.seq) !== expected - 1 || head.hash !== prev)) {
    return {
      ok: false,
      rows,
      seq: Number(head.seq),
      problem: `the last ${Number(head.seq) - (expected - 1)} row(s) are missing (deleted from the end?)`,
    };
  }
  return { ok: true, rows };
}
