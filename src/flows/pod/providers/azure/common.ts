import { createHash } from 'node:crypto';
import { PermanentError } from '../../../../engine/errors.ts';
import { armError } from '../../../../connectors/microsoft/arm.ts';
import {
  roleDefinitionGuid,
  type AuthorizationClient,
  type PrincipalType,
} from '../../../../connectors/microsoft/authorization.ts';
import type { Principal, ResolvedPermission } from '../port.ts';

/**
 * What the Azure RBAC and PIM providers share: deterministic request names, role resolution (cached
 * per scope), principal types and the ARM errors that no retry can fix.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (s: string) => GUID.test(s);

/**
 * A UUID (RFC 9562 version 8, "custom") from SHA-256 over the parts, lower-cased where ARM is
 * case-insensitive: the same grant key always makes the same assignment name, so a retried PUT is a
 * 200 instead of a second assignment.
 */
export function deterministicGuid(...parts: string[]): string {
  const b = createHash('sha256').update(parts.join('|')).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `/subscriptions/x/` and `subscriptions/X` name one scope. */
export const scopeKey = (scope: string) => `/${scope.split('/').filter(Boolean).join('/')}`.toLowerCase();
export const sameScope = (a: string, b: string) => scopeKey(a) === scopeKey(b);
/** The scope as an id prefix: `/subscriptions/x`, empty for the tenant root. */
export const scopePath = (scope: string) =>
  scope
    .split('/')
    .filter(Boolean)
    .map((s) => `/${s}`)
    .join('');

/** The role definition id to send at a scope: subscription-scoped under a subscription, tenant-level above. */
export function roleDefinitionIdFor(scope: string, permission: string): string {
  const guid = roleDefinitionGuid(permission);
  const sub = /^\/?subscriptions\/[^/]+/i.exec(scope)?.[0];
  return `${sub ? `/${sub.replace(/^\//, '')}` : ''}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
}

export const PRINCIPAL_TYPE: Record<Principal['type'], PrincipalType> = {
  user: 'User',
  servicePrincipal: 'ServicePrincipal',
};

/** ARM's principal type back to the port's; groups and devices are not principals a broker grants to. */
export function portPrincipal(id: string, type: string | undefined): Principal | undefined {
  if (type === 'ServicePrincipal') return { type: 'servicePrincipal', id };
  if (type === 'User' || type === undefined) return { type: 'user', id };
  return undefined;
}

/** The ARM error code of a failure, if it is an ARM error. */
export const armCode = (e: unknown) => armError(e)?.code;

/** Turn the ARM errors that no retry can fix into PermanentError; anything else goes up unchanged. */
export function permanentArmError(e: unknown, principal: Principal): never {
  const err = armError(e);
  switch (err?.code) {
    case 'PrincipalNotFound':
      throw new PermanentError(
        `Azure does not know the ${principal.type} ${principal.id} (PrincipalNotFound): ${err.message}`,
      );
    case 'RoleAssignmentUpdateNotPermitted':
      throw new PermanentError(
        `An Azure role assignment with this name already exists for another principal, role or scope (RoleAssignmentUpdateNotPermitted): ${err.message}`,
      );
    case 'RoleAssignmentRequestPolicyValidationFailed':
      throw new PermanentError(`The PIM policy of the role refuses the request: ${err.message}`);
    case 'RoleDefinitionDoesNotExist':
    case 'InvalidPrincipalType':
    case 'InvalidPrincipalId':
    case 'InvalidRoleAssignmentId':
      throw new PermanentError(`Azure refused the request (${err.code}): ${err.message}`);
  }
  throw e;
}

/** Role names and ids → role definition GUIDs, cached per scope (definitions rarely change). */
export class RoleResolver {
  private readonly cache = new Map<string, Promise<ResolvedPermission>>();

  constructor(private readonly client: AuthorizationClient) {}

  resolve(nameOrId: string, scope: string): Promise<ResolvedPermission> {
    const key = `${scopeKey(scope)}|${nameOrId.trim().toLowerCase()}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.lookup(nameOrId.trim(), scope);
      this.cache.set(key, hit);
      // A failure is not remembered: the next call asks again.
      hit.catch(() => this.cache.delete(key));
    }
    return hit;
  }

  private async lookup(nameOrId: string, scope: string): Promise<ResolvedPermission> {
    const guid = roleDefinitionGuid(nameOrId);
    if (isGuid(guid) && (isGuid(nameOrId) || /\/roleDefinitions\//i.test(nameOrId))) {
      const def = await this.client.getRoleDefinition(scope, guid);
      if (!def) throw new PermanentError(`No Azure role definition ${guid} at ${scope}`);
      return { id: guid, name: def.properties.roleName, description: def.properties.description };
    }
    const defs = await this.client.listRoleDefinitions(scope, `roleName eq '${nameOrId.replace(/'/g, "''")}'`);
    const def = defs.find((d) => d.properties.roleName.toLowerCase() === nameOrId.toLowerCase());
    if (!def) throw new PermanentError(`No Azure role named ${JSON.stringify(nameOrId)} at ${scope}`);
    return { id: roleDefinitionGuid(def.name), name: def.properties.roleName, description: def.properties.description };
  }
}

export const REVOKE_CAVEAT =
  'Azure caches role assignments for up to about 10 minutes after a change, and access tokens issued before the revoke keep working until they expire.';
