import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../engine/clock.ts';
import type { Keyring } from '../store/keys.ts';

/**
 * Signed action links ("Approve" in an e-mail or a Teams card): a token naming what (`subject`),
 * which action, for whom (`actor`) and until when, MAC'd with HMAC-SHA256 under the keyring's
 * action-link subkey — its own HKDF purpose, so no audit MAC or other signature can pass as a link.
 * Token: `<kid>.<claims>.<mac>`, each part base64url, so it sits in a URL path or query as it is.
 * During a key rotation links signed with the previous key still verify until they expire.
 *
 * One-time use is the caller's: it records `jti` when it acts on a link and refuses a recorded one.
 */

export interface ActionLinkClaims {
  /** What the action is on, e.g. `pod/req-42`. */
  subject: string;
  /** e.g. `approve`, `deny`. */
  action: string;
  /** Who may use it, e.g. `user:alice@example.com`. */
  actor: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface VerifiedActionLink extends ActionLinkClaims {
  /** The token's id: record it to refuse the link a second time. */
  jti: string;
}

export type ActionLinkCheck =
  | { ok: true; link: VerifiedActionLink }
  | { ok: false; reason: 'malformed' | 'unknown-key' | 'bad-signature' | 'expired' | 'wrong-action' | 'wrong-subject' };

export interface ActionLinkDeps {
  keys: Keyring;
  clock: Clock;
}

const MAX_TOKEN = 2_048;
const MAX_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
const DOMAIN = 'ticketloop action link v1';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function mac(key: Buffer, kid: string, claims: string): Buffer {
  return createHmac('sha256', key).update(`${DOMAIN}\n${kid}\n${claims}`).digest();
}

function bounded(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** A token for the claims, signed with the current key; returns it with its id. */
export function signActionLink(claims: ActionLinkClaims, deps: ActionLinkDeps): { token: string; jti: string } {
  const now = deps.clock.now();
  if (!bounded(claims.subject, 200) || !bounded(claims.action, 64) || !bounded(claims.actor, 256))
    throw new Error('action link: subject (≤ 200), action (≤ 64) and actor (≤ 256) must be non-empty');
  if (!Number.isSafeInteger(claims.expiresAt) || claims.expiresAt <= now || claims.expiresAt > now + MAX_LIFETIME_MS)
    throw new Error('action link: expiresAt must be in the future, at most 30 days ahead');
  const k = deps.keys.actionLinkKey();
  if (!k) throw new Error('action link: no current key');
  const jti = b64u(randomBytes(16));
  const body = b64u(
    JSON.stringify({ sub: claims.subject, act: claims.action, actor: claims.actor, exp: claims.expiresAt, jti }),
  );
  return { token: `${k.kid}.${body}.${b64u(mac(k.key, k.kid, body))}`, jti };
}

/**
 * Check a token: its MAC (constant time), its key, its expiry on the injected clock and, when
 * given, the action and subject the caller is about to perform. Never throws on bad input.
 */
export function verifyActionLink(
  token: string,
  deps: ActionLinkDeps,
  expect: { action?: string; subject?: string } = {},
): ActionLinkCheck {
  if (typeof token !== 'string' || token.length > MAX_TOKEN) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return { ok: false, reason: 'malformed' };
  const [kid, body, sig] = parts;
  const k = deps.keys.actionLinkKey(kid);
  if (!k) return { ok: false, reason: 'unknown-key' };
  const given = Buffer.from(sig, 'base64url');
  const wanted = mac(k.key, k.kid, body);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return { ok: false, reason: 'bad-signature' };
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (
    !bounded(c.sub, 200) ||
    !bounded(c.act, 64) ||
    !bounded(c.actor, 256) ||
    !bounded(c.jti, 64) ||
    !Number.isSafeInteger(c.exp)
  )
    return { ok: false, reason: 'malformed' };
  if (deps.clock.now() >= (c.exp as number)) return { ok: false, reason: 'expired' };
  if (expect.action !== undefined && expect.action !== c.act) return { ok: false, reason: 'wrong-action' };
  if (expect.subject !== undefined && expect.subject !== c.sub) return { ok: false, reason: 'wrong-subject' };
  return {
    ok: true,
    link: { subject: c.sub, action: c.act, actor: c.actor, expiresAt: c.exp as number, jti: c.jti },
  };
}
