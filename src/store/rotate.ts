import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { appendAudit } from './audit.ts';
import { verifyAudit } from './audit-verify.ts';
import { appendCheckpoint, takeCheckpoint } from './checkpoints.ts';
import type { Store } from './db.ts';
import { Keyring, KEY_ENV, PREVIOUS_KEY_ENV, writeKeyFile } from './keys.ts';

/**
 * `ticketloop secrets rotate-key`: a new secret key, every stored secret re-encrypted under it.
 *
 * Nothing is unreadable at any moment: the old key is written to `secret.key.previous` before the
 * new one replaces `secret.key` (each file written whole, then renamed), every ciphertext names its
 * key, and the old key goes only once every secret is checked under the new one. A run that stops
 * anywhere (crash, kill) leaves `secret.key.previous` behind; the next run sees it and finishes.
 *
 * The audit chain is verified with both keys first, then a row is appended under the new key: its
 * MAC vouches for every earlier row, so the chain still verifies once the old key is gone.
 */

export type RotateStep = 'previous-written' | 'key-written' | 'marker-moved' | 'secret-reencrypted' | 'audited';

export interface RotateOptions {
  store: Store;
  now: () => number;
  actor: string;
  /** Checkpoint files to verify against; the first also gets a checkpoint under the new key. */
  checkpoints: string[];
  /** Rotate even though the audit chain does not verify (the rotation's audit row says so). */
  force?: boolean;
  /** Called after each step: a test throws here to simulate a crash at that point. */
  step?: (step: RotateStep, n: number) => void;
}

export interface RotateResult {
  from: string;
  to: string;
  /** An interrupted rotation was finished (no new key made). */
  resumed: boolean;
  secrets: number;
  reencrypted: number;
  auditOk: boolean;
  /** With keys from the environment: what the operator does next. */
  todo?: string;
}

export class RotationRefused extends Error {}

export async function rotateSecretKey(o: RotateOptions): Promise<RotateResult> {
  const keys = o.store.keys;
  const step = o.step ?? (() => {});
  keys.reload();
  if (keys.previous && keys.previous.kid === keys.current.kid && keys.source === 'file') {
    // Stopped before the new key was written: nothing was re-encrypted; start over.
    rmSync(keys.previousKeyFile);
    keys.reload();
  }
  const resumed = keys.previous !== undefined;
  if (!resumed) {
    if (keys.source === 'env')
      throw new RotationRefused(
        `the key comes from ${KEY_ENV}: set ${PREVIOUS_KEY_ENV} to its value and ${KEY_ENV} to a new key ` +
          `(\`openssl rand -base64 32\`), then run this again to re-encrypt`,
      );
    writeKeyFile(keys.previousKeyFile, keys.current.key);
    step('previous-written', 0);
    writeKeyFile(keys.keyFile, randomBytes(32));
    step('key-written', 0);
    keys.reload();
  }
  return { ...(await finish(o, keys, step)), resumed };
}

async function finish(o: RotateOptions, keys: Keyring, step: NonNullable<RotateOptions['step']>) {
  const db = o.store.db;
  const from = keys.previous!.kid;
  const to = keys.current.kid;
  const audit = await verifyAudit(db, keys, { checkpoints: o.checkpoints });
  if (!audit.ok && !o.force)
    throw new RotationRefused(
      `the audit log does not verify (${audit.problem}); a row MAC'd with the new key would vouch for it. ` +
        'Investigate (ticketloop audit verify / export) first, or pass --force (the rotation records it in the log)',
    );

  // From here on every process writes new secrets with the new key (SecretStore.put).
  const marker = await db
    .updateTable('secret_key_state')
    .set({ kid: to, updated_at: o.now() })
    .where('id', '=', 1)
    .executeTakeFirst();
  if (!Number(marker.numUpdatedRows))
    await db.insertInto('secret_key_state').values({ id: 1, kid: to, updated_at: o.now() }).execute();
  step('marker-moved', 0);

  let reencrypted = 0;
  for (const r of await db.selectFrom('secrets').select(['name', 'ciphertext']).execute()) {
    if (Keyring.kidOf(r.ciphertext) === to) continue;
    const sealed = keys.seal(r.name, keys.open(r.name, r.ciphertext), to);
    // Only if unchanged: a concurrent write has already used the new key.
    await db
      .updateTable('secrets')
      .set({ ciphertext: sealed, updated_at: o.now() })
      .where('name', '=', r.name)
      .where('ciphertext', '=', r.ciphertext)
      .execute();
    step('secret-reencrypted', ++reencrypted);
  }
  const all = await db.selectFrom('secrets').select(['name', 'ciphertext']).execute();
  for (const r of all) {
    if (Keyring.kidOf(r.ciphertext) !== to) throw new Error(`secret ${r.name} is still under another key`);
    keys.open(r.name, r.ciphertext); // throws if it cannot be read: the old key stays
  }

  await db.transaction().execute((trx) =>
    appendAudit(
      trx,
      [
        {
          kind: 'security',
          actor: o.actor,
          subject: 'secrets',
          detail: {
            action: 'secret-key-rotated',
            from,
            to,
            secrets: all.length,
            reencrypted,
            auditVerified: audit.ok,
            ...(audit.ok ? {} : { auditProblem: audit.problem }),
          },
        },
      ],
      o.now(),
      keys,
    ),
  );
  step('audited', 0);
  const cp = o.checkpoints[0] ? await takeCheckpoint(db, keys, o.now(), o.actor) : undefined;
  if (cp) await appendCheckpoint(o.checkpoints[0], cp);

  let todo: string | undefined;
  if (keys.source === 'file') rmSync(keys.previousKeyFile, { force: true });
  else todo = `remove ${PREVIOUS_KEY_ENV} from the environment, then restart every instance`;
  keys.reload();
  return { from, to, secrets: all.length, reencrypted, auditOk: audit.ok, todo };
}
