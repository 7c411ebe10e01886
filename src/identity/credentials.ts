import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * The credentials identity hands out or accepts: argon2id password hashes, and high-entropy
 * random tokens (sessions, API tokens, setup tokens) that are stored only as their SHA-256 —
 * 256 random bits need no slow hash, and a database dump gives nothing to replay.
 */

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): about 20-50 ms per attempt here.
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

/** A hash nobody's password matches: unknown names cost the same time as known ones. */
let decoy: Promise<string> | undefined;

/** Constant-ish time: an unknown account (no hash) still runs one argon2 verification. */
export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  const target = stored ?? (await (decoy ??= hashPassword(randomBytes(32).toString('base64'))));
  try {
    return (await verify(target, password)) && !!stored;
  } catch {
    return false;
  }
}

/** A new random token with a recognisable prefix (secret scanners find `tl…_` tokens in leaks). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Equal strings, compared in constant time (digests first: no length leak). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
