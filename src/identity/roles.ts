/**
 * Roles and what a route may require. A user (or token) holds roles; a route declares one
 * requirement (`config: { role }`), and `satisfies` alone decides whether the roles meet it.
 *
 * The hierarchy (docs/identity.md): admin ⊇ operator ⊇ read, and auditor ⊇ read. Audit export is
 * auditor or admin. The process roles (approver, requester, insights) are never implied, not even
 * by admin: approving access is kept apart from administering the tool (separation of duties).
 */

export const ROLES = ['admin', 'operator', 'auditor', 'approver', 'requester', 'insights'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a route can require: a role, `read` (see everything, change nothing), `authenticated` (any
 * signed-in user or token, e.g. /api/auth/me) or `public` (sign-in and first-admin setup only;
 * those carry their own protection: rate limits, the one-time setup token).
 */
export const REQUIREMENTS = [...ROLES, 'read', 'authenticated', 'public'] as const;
export type Requirement = (typeof REQUIREMENTS)[number];

/** Which held roles meet each requirement. */
const MET_BY: Record<Exclude<Requirement, 'authenticated' | 'public'>, readonly Role[]> = {
  admin: ['admin'],
  operator: ['admin', 'operator'],
  read: ['admin', 'operator', 'auditor'],
  auditor: ['admin', 'auditor'],
  approver: ['approver'],
  requester: ['requester'],
  insights: ['insights'],
};

export function isRequirement(v: unknown): v is Requirement {
  return typeof v === 'string' && (REQUIREMENTS as readonly string[]).includes(v);
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** True when someone holding `roles` may call a route requiring `need` (authentication checked apart). */
export function satisfies(roles: readonly Role[], need: Requirement): boolean {
  if (need === 'public' || need === 'authenticated') return true;
  return MET_BY[need].some((r) => roles.includes(r));
}

/** The roles that meet a requirement, for messages and the OpenAPI description. */
export function rolesMeeting(need: Requirement): readonly Role[] {
  return need === 'public' || need === 'authenticated' ? ROLES : MET_BY[need];
}

/** One line for the OpenAPI description and 403 messages. */
export function describeRequirement(need: Requirement): string {
  if (need === 'public') return 'No sign-in needed (rate-limited).';
  if (need === 'authenticated') return 'Any signed-in user or API token.';
  return `Requires role \`${need}\` (held by: ${MET_BY[need].join(', ')}).`;
}
