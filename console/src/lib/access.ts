import { satisfies, type Requirement, type Role } from '../../../src/identity/roles.ts';
import { REQUIRED_ROLES } from '../api/roles.gen.ts';

/**
 * What the signed-in user may do, from the same table the API enforces: each operation's
 * `x-required-role` in /openapi.json (generated into roles.gen.ts at build time) and the server's
 * own `satisfies`. The console hides what would be refused; the API refuses it all the same.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The role an operation requires, or undefined for one the document does not have. */
export function requirementOf(
  method: Method,
  path: string,
  table: Record<string, Requirement> = REQUIRED_ROLES,
): Requirement | undefined {
  return table[`${method} ${path}`];
}

/** True when `roles` may call `method path` (a path template as in the OpenAPI document). */
export function allowed(
  roles: readonly Role[],
  method: Method,
  path: string,
  table: Record<string, Requirement> = REQUIRED_ROLES,
): boolean {
  const need = requirementOf(method, path, table);
  return need !== undefined && satisfies(roles, need);
}
