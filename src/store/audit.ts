import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Keyring } from './keys.ts';
import type { AuditTable, Database } from './schema.ts';

/**
 * The audit log: append-only (database triggers refuse UPDATE/DELETE) and chained — each row's
 * `hash` covers the row and the previous row's hash, and its `mac` is an HMAC of that hash under
 * the audit key (derived from the secret key, never in the database). A database writer can
 * recompute hashes but not MACs; since each hash covers everything before it, one valid MAC vouches
 * for every earlier row. Verification (audit-verify.ts) also compares the chain with the signed
 * checkpoints kept outside the database (checkpoints.ts), which catches a cut-off tail.
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

export function rowHash(r: {
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

const ROW_LABEL = 'ticketloop audit row v1\n';

/** `<kid>:<hex>`: the row's hash MAC'd under the audit key. */
export function rowMac(key: { kid: string; key: Buffer }, hash: string): string {
  return `${key.kid}:${createHmac('sha256', key.key).update(ROW_LABEL).update(hash).digest('hex')}`;
}

/** Does `mac` vouch for `hash`? undefined when its key is not held here; false when malformed. */
export function checkRowMac(keys: Keyring, hash: string, mac: string): boolean | undefined {
  if (!/^[0-9a-f]{16}:[0-9a-f]{64}$/.test(mac)) return false;
  const key = keys.auditKey(mac.slice(0, 16));
  if (!key) return undefined;
  const want = Buffer.from(rowMac(key, hash));
  const got = Buffer.from(mac);
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Append entries inside the caller's transaction (so a state change and its audit row commit
 * together). Locks the chain head first, which serialises appenders across processes.
 */
export async function appendAudit(
  trx: Kysely<Database>,
  entries: AuditEntry[],
  now: number,
  keys: Keyring,
): Promise<void> {
  if (entries.length === 0) return;
  const key = keys.auditKey()!;
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
      mac: '',
    };
    row.hash = rowHash(row);
    row.mac = rowMac(key, row.hash);
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

/** One row as exported (JSON Lines for a SIEM). */
export interface ExportedAuditRow {
  seq: number;
  at: string;
  kind: string;
  actor: string;
  subject: string;
  detail: unknown;
  prevHash: string;
  hash: string;
  mac: string | null;
}

export function exportedRow(r: AuditTable): ExportedAuditRow {
  let detail: unknown;
  try {
    detail = JSON.parse(r.detail);
  } catch {
    detail = r.detail; // an edited row may hold anything: export it as it is
  }
  return {
    seq: Number(r.seq),
    at: new Date(Number(r.at)).toISOString(),
    kind: r.kind,
    actor: r.actor,
    subject: r.subject,
    detail,
    prevHash: r.prev_hash,
    hash: r.hash,
    mac: r.mac,
  };
}

/** Rows from `since` (inclusive) in order, read in batches. */
export async function* exportAudit(db: Kysely<Database>, since = 1): AsyncGenerator<ExportedAuditRow> {
  for (let next = since; ;) {
    const batch = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', next)
      .orderBy('seq')
      .limit(5000)
      .execute();
    for (const r of batch) yield exportedRow(r);
    if (batch.length < 5000) return;
    next = Number(batch.at(-1)!.seq) + 1;
  }
}
