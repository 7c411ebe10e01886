import { PermanentError } from '../../../../engine/errors.ts';
import { armError, type ArmClient } from '../../../../connectors/microsoft/arm.ts';
import {
  AuthorizationClient,
  principalFilter,
  roleDefinitionGuid,
  type RoleAssignment,
} from '../../../../connectors/microsoft/authorization.ts';
import type {
  ActualAssignment,
  AssignmentTarget,
  AuthorizationProvider,
  GrantInput,
  Operation,
  ResolvedPermission,
  RevokeInput,
} from '../port.ts';
import {
  PRINCIPAL_TYPE,
  REVOKE_CAVEAT,
  RoleResolver,
  deterministicGuid,
  isGuid,
  permanentArmError,
  portPrincipal,
  roleDefinitionIdFor,
  sameScope,
  scopeKey,
  scopePath,
} from './common.ts';

/**
 * Azure RBAC role assignments as an AuthorizationProvider (pod-wire-format.md §1). Writes are
 * synchronous; the assignment name is derived from the grant key, so a retried grant is ARM's 200.
 * A 409 RoleAssignmentExists means someone else's assignment of the same role: reported as
 * `preexisting` and never deleted. RBAC never expires by itself: Ticketloop revokes.
 */

/** The assignment name a grant writes: sha256(scope | principal | role GUID | grant key) as a UUID. */
export function roleAssignmentName(target: AssignmentTarget, key: string): string {
  return deterministicGuid(
    scopeKey(target.scope),
    target.principal.id.toLowerCase(),
    roleDefinitionGuid(target.permission),
    key,
  );
}

/** `…/roleAssignments/{name}` → [scope, name]; undefined when `ref` is not a role assignment id. */
function parseRef(ref: string): [string, string] | undefined {
  const m = /^(.*)\/providers\/Microsoft\.Authorization\/roleAssignments\/([^/]+)$/i.exec(ref);
  return m && isGuid(m[2]) ? [m[1] || '/', m[2]] : undefined;
}

const matches = (a: RoleAssignment, t: AssignmentTarget) =>
  a.properties.principalId.toLowerCase() === t.principal.id.toLowerCase() &&
  roleDefinitionGuid(a.properties.roleDefinitionId) === roleDefinitionGuid(t.permission);

/** 32 hex digits → 8-4-4-4-12. */
const dashed = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`.toLowerCase();

export class AzureRbacProvider implements AuthorizationProvider {
  readonly type = 'azure-rbac';
  readonly revokeCaveat = REVOKE_CAVEAT;
  readonly propagationSeconds = 600;
  readonly expiresNatively = false;
  private readonly client: AuthorizationClient;
  private readonly roles: RoleResolver;

  constructor(arm: ArmClient) {
    this.client = new AuthorizationClient(arm);
    this.roles = new RoleResolver(this.client);
  }

  resolvePermission(nameOrId: string, scope: string): Promise<ResolvedPermission> {
    return this.roles.resolve(nameOrId, scope);
  }

  async grant(input: GrantInput): Promise<Operation> {
    const name = roleAssignmentName(input, input.key);
    try {
      const { assignment } = await this.client.putRoleAssignment(input.scope, name, {
        roleDefinitionId: roleDefinitionIdFor(input.scope, input.permission),
        principalId: input.principal.id,
        // Always sent: without it a principal created moments ago can fail PrincipalNotFound.
        principalType: PRINCIPAL_TYPE[input.principal.type],
        description: `Ticketloop request ${input.requestId}${input.ticketNumber ? ` (${input.ticketNumber})` : ''}`,
      });
      return { state: 'done', ref: assignment.id };
    } catch (e) {
      const err = armError(e);
      if (err?.code === 'RoleAssignmentExists') {
        // Since 2025 ARM names the existing assignment (azure-cli#31995); older answers do not.
        const hex = /existing role assignment is ([0-9a-f]{32})/i.exec(err.message);
        const ref = hex
          ? `${scopePath(input.scope)}/providers/Microsoft.Authorization/roleAssignments/${dashed(hex[1])}`
          : undefined;
        return { state: 'done', preexisting: true, ...(ref ? { ref } : {}) };
      }
      permanentArmError(e, input.principal);
    }
  }

  /**
   * Delete the assignment the grant made. With the grant key, its name is derived from this very
   * principal, role, scope and key — ARM never lets an existing assignment change those — so it is
   * deleted straight away (204 when already gone). With only a `ref`, it is read first, so a ref
   * that names someone else's assignment is refused instead of deleted.
   */
  async revoke(input: RevokeInput): Promise<Operation> {
    if (input.grantKey) {
      await this.client.deleteRoleAssignment(input.scope, roleAssignmentName(input, input.grantKey));
      return { state: 'done' };
    }
    const located = input.ref
      ? parseRef(input.ref)
      : input.grantKey
        ? ([input.scope, roleAssignmentName(input, input.grantKey)] as [string, string])
        : undefined;
    if (!located)
      throw new PermanentError(
        `azure-rbac revoke needs the role assignment id of the grant (ref) or its grant key; got ${JSON.stringify(input.ref)}`,
      );
    const [scope, name] = located;
    const current = await this.client.getRoleAssignment(scope, name);
    if (!current) return { state: 'done' };
    if (!matches(current, input) || !sameScope(current.properties.scope, input.scope))
      throw new PermanentError(
        `Role assignment ${current.id} is not ${input.principal.id} / ${input.permission} at ${input.scope}: not deleted`,
      );
    await this.client.deleteRoleAssignment(scope, name);
    return { state: 'done' };
  }

  status(operation: string): Promise<Operation> {
    return Promise.reject(new PermanentError(`azure-rbac writes are synchronous; no operation ${operation} to poll`));
  }

  async read(target: AssignmentTarget): Promise<ActualAssignment | undefined> {
    for await (const page of this.client.listRoleAssignments(target.scope, principalFilter(target.principal.id))) {
      const a = page.value.find((x) => matches(x, target) && sameScope(x.properties.scope, target.scope));
      if (a)
        return {
          principal: target.principal,
          permission: roleDefinitionGuid(target.permission),
          scope: a.properties.scope,
          ref: a.id,
          via: 'direct',
        };
    }
    return undefined;
  }

  /** Every user / service principal assignment at the scope or above it (`atScope()`); those above are inherited. */
  async *list(scope: string, permission?: string): AsyncIterable<ActualAssignment[]> {
    const want = permission ? roleDefinitionGuid(permission) : undefined;
    for await (const page of this.client.listRoleAssignments(scope, 'atScope()')) {
      const out: ActualAssignment[] = [];
      for (const a of page.value) {
        const role = roleDefinitionGuid(a.properties.roleDefinitionId);
        const principal = portPrincipal(a.properties.principalId, a.properties.principalType);
        if (!principal || (want && role !== want)) continue;
        out.push({
          principal,
          permission: role,
          scope: a.properties.scope,
          ref: a.id,
          via: sameScope(a.properties.scope, scope) ? 'direct' : 'inherited',
        });
      }
      yield out;
    }
  }
}
