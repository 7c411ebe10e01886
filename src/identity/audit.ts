import type { Kysely } from 'kysely';
import { appendAudit } from '../store/audit.ts';
import type { Keyring } from '../store/keys.ts';
import type { Database } from '../store/schema.ts';

/**
 * Identity's audit rows, all written through this file. Security events (sign-ins, failed
 * sign-ins, lockouts, user and token changes) are kind `security`, in the transaction of the
 * change they describe; `event` names what happened (`signin.failed`, `token.created`…). The
 * actor is `user:<name>`, `token:<name>`, `cli:<os user>` or `anonymous`.
 */
export function recordSecurity(
  keys: Keyring,
  trx: Kysely<Database>,
  now: number,
  actor: string,
  subject: string,
  event: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  return appendAudit(trx, [{ kind: 'security', actor, subject, detail: { event, ...detail } }], now, keys);
}

/** One state-changing API request that was let in: who, which route, its parameters and status. */
export function recordRequest(
  keys: Keyring,
  trx: Kysely<Database>,
  now: number,
  actor: string,
  subject: string,
  detail: Record<string, unknown>,
): Promise<void> {
  return appendAudit(trx, [{ kind: 'admin', actor, subject, detail }], now, keys);
}
