import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpProblem } from '../http/server.ts';
import type { CookiePolicy } from './guard.ts';
import type { Principal } from './principal.ts';
import { ROLES } from './roles.ts';
import type { SessionOpened } from './sessions.ts';
import { IdentityError } from './users.ts';

/** What the identity routes share: views, the error mapping, the session cookie. */

export const userView = z.object({
  id: z.string(),
  name: z.string(),
  displayName: z.string(),
  source: z.enum(['local', 'oidc']),
  roles: z.array(z.enum(ROLES)),
  disabled: z.boolean(),
  lockedUntil: z.string().nullable(),
  lastSignInAt: z.string().nullable(),
  createdAt: z.string(),
});

export const tokenView = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['personal', 'service']),
  owner: z.string().nullable(),
  roles: z.array(z.enum(ROLES)),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  active: z.boolean(),
});

const STATUS = { invalid: 400, forbidden: 403, not_found: 404, conflict: 409 } as const;

/** Run an identity operation; its refusals become the HTTP error envelope. */
export async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof IdentityError) throw new HttpProblem(STATUS[e.code], e.code, e.message);
    throw e;
  }
}

/** The caller (the guard has checked there is one on every non-public route). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new HttpProblem(401, 'unauthorized', 'sign in or send a token');
  return req.principal;
}

/**
 * The person acting: a signed-in user, or the owner of a personal token (`user:<name>` either way, so
 * "my requests" and self-approval see one person); a service token acts as itself (`token:<name>`).
 */
export function personOf(req: FastifyRequest): string {
  const p = principalOf(req);
  return p.tokenKind === 'personal' ? `user:${p.name.split('/')[0]}` : p.actor;
}

/** The audit actor of a request: `user:<name>`, `token:<name>` or `anonymous`. */
export function actorOf(req: FastifyRequest): string {
  return req.principal?.actor ?? 'anonymous';
}

/** HttpOnly, SameSite=Lax, Secure off loopback; a browser-session cookie (the server enforces expiry). */
export function setSessionCookie(reply: FastifyReply, policy: CookiePolicy, opened: SessionOpened): void {
  reply.setCookie(policy.name, opened.token, { httpOnly: true, secure: policy.secure, sameSite: 'lax', path: '/' });
}

export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy): void {
  reply.clearCookie(policy.name, { httpOnly: true, secure: policy.secure, sameSite: 'lax', path: '/' });
}

/** The client address for audit rows (Fastify's view: the socket, or the proxy chain when trusted). */
export const addressOf = (req: FastifyRequest): string => req.ip;
