import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, firstQuery, nextLink, offsetPage, requireApiVersion } from './arm.ts';
import { principalOf } from './auth.ts';
import {
  AUTHZ,
  PRINCIPAL_TYPES,
  ROLE_API_VERSIONS,
  canonicalScope,
  checkScope,
  isGuid,
  parseFilter,
  relation,
  roleGuidOf,
  type AuthzFilter,
  type ScopeRelation,
} from './authz.ts';
import type { AuthorizationStore, StoredAssignment } from './authz-store.ts';
import type { RouteTable } from './dispatch.ts';
import type { Hierarchy } from './hierarchy.ts';
import type { RoleCatalog } from './roles.ts';
import type { AzureStore } from './store.ts';

/**
 * Role assignments (2022-04-01, `authorization-RoleAssignmentsCalls.json` and its examples):
 * PUT 201 new / 200 same again, 409 RoleAssignmentExists for the same (scope, principal, role)
 * under another name, 400 RoleAssignmentUpdateNotPermitted, DELETE 200 + body then 204, lists at
 * any scope with `$filter` and `nextLink`. PIM-activated assignments are rows here too (pim.ts);
 * one that reached its end is swept before any read.
 */

export const ROLE_ASSIGNMENT_TYPE = 'Microsoft.Authorization/roleAssignments';

export interface AssignmentCtx {
  store: AzureStore;
  authz: AuthorizationStore;
  hierarchy: Hierarchy;
  clock: OffsetClock;
  roles: RoleCatalog;
}

export const assignmentId = (a: Pick<StoredAssignment, 'scope' | 'name'>) =>
  `${a.scope === '/' ? '' : a.scope}${AUTHZ}/roleAssignments/${a.name}`;

/**
 * Field order as ARM answers (the examples' four first, then the spec's read-only fields).
 * `roleDefinitionId` comes back in the tenant form, as in `RoleAssignments_CreateForSubscription.json`.
 */
export function assignmentResource(a: StoredAssignment) {
  return {
    properties: {
      roleDefinitionId: `${AUTHZ}/roleDefinitions/${a.roleGuid}`,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      condition: a.condition ?? null,
      conditionVersion: a.conditionVersion ?? null,
      createdOn: a.createdOn,
      updatedOn: a.updatedOn,
      createdBy: a.createdBy,
      updatedBy: a.updatedBy,
      delegatedManagedIdentityResourceId: null,
      description: a.description ?? null,
    },
    id: assignmentId(a),
    type: ROLE_ASSIGNMENT_TYPE,
    name: a.name,
  };
}

/** Remove PIM assignments whose end has passed (on sandbox time): PIM ends them by itself. */
export function sweepExpired(ctx: Pick<AssignmentCtx, 'authz' | 'clock'>): void {
  for (const name of ctx.authz.endedAssignments(ctx.clock.now())) ctx.authz.deleteAssignment(name);
}

/** Started (a PIM schedule may begin later) and not ended. */
export const isActive = (a: StoredAssignment, now: number) =>
  !a.pim || (Date.parse(a.pim.startDateTime) <= now && (!a.pim.endDateTime || Date.parse(a.pim.endDateTime) > now));

/**
 * The active assignments a list at `scope` answers with, with how each relates to the scope:
 * no filter = at, above and below; `atScope()` = at or above; `principalId eq` / `assignedTo()` =
 * that principal at, above or below.
 */
export function assignmentsFor(
  ctx: AssignmentCtx,
  scope: string,
  f: AuthzFilter,
): Array<{ a: StoredAssignment; rel: ScopeRelation }> {
  sweepExpired(ctx);
  const now = ctx.clock.now();
  const principal = (f.principalId ?? f.assignedTo)?.toLowerCase();
  const out: Array<{ a: StoredAssignment; rel: ScopeRelation }> = [];
  for (const a of principal ? ctx.authz.assignmentsOfPrincipal(principal) : ctx.authz.assignments()) {
    if (!isActive(a, now)) continue;
    if (principal && a.principalId.toLowerCase() !== principal) continue;
    if (f.roleDefinitionId && roleGuidOf(f.roleDefinitionId) !== a.roleGuid) continue;
    const rel = relation(ctx.hierarchy, a.scope, scope);
    if (!rel || (f.atScope && rel === 'below')) continue;
    out.push({ a, rel });
  }
  return out;
}

const RX = {
  collection: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignments$/i,
  item: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignments\/([^/]+)$/i,
};

const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
const version = (req: FastifyRequest) => requireApiVersion(q(req), ROLE_API_VERSIONS, 'roleAssignments');

export function roleAssignmentRoutes(ctx: AssignmentCtx): RouteTable {
  return [
    [RX.collection, { GET: (req, _r, m) => list(ctx, req, canonicalScope(m[1])) }],
    [
      RX.item,
      {
        GET: (req, _r, m) => get(ctx, req, canonicalScope(m[1]), m[2]),
        PUT: (req, reply, m) => put(ctx, req, reply, canonicalScope(m[1]), m[2]),
        DELETE: (req, reply, m) => remove(ctx, req, reply, canonicalScope(m[1]), m[2]),
      },
    ],
  ];
}

function list(ctx: AssignmentCtx, req: FastifyRequest, scope: string) {
  version(req);
  checkScope(ctx.store, scope);
  const f = parseFilter(firstQuery(q(req), '$filter'), ['atScope', 'principalId', 'assignedTo', 'roleDefinitionId']);
  const all = assignmentsFor(ctx, scope, f).map((x) => assignmentResource(x.a));
  const page = offsetPage(all, firstQuery(q(req), '$skipToken'), ctx.authz.settings().pageSize);
  const path = `${scope === '/' ? '' : scope}${AUTHZ}/roleAssignments`;
  return page.next
    ? { value: page.value, nextLink: nextLink(req.headers.host, q(req), path, page.next) }
    : { value: page.value };
}

const notFound = (name: string) =>
  new ArmError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);

/** The assignment `name` at `scope`, if it is there and active. */
function stored(ctx: AssignmentCtx, scope: string, name: string): StoredAssignment | undefined {
  sweepExpired(ctx);
  const a = ctx.authz.assignment(name);
  return a && a.scope.toLowerCase() === scope.toLowerCase() && isActive(a, ctx.clock.now()) ? a : undefined;
}

function get(ctx: AssignmentCtx, req: FastifyRequest, scope: string, name: string) {
  version(req);
  const a = stored(ctx, scope, name);
  if (!a) throw notFound(name);
  return assignmentResource(a);
}

export interface NewAssignment {
  scope: string;
  name: string;
  roleDefinitionId: unknown;
  principalId: unknown;
  principalType?: unknown;
  description?: unknown;
  condition?: unknown;
  conditionVersion?: unknown;
  createdBy: string | null;
}

export type CreateResult = { created: boolean; assignment: StoredAssignment };

/**
 * Validate and create an assignment as ARM would (shared by the PUT and the control API).
 * The same name with the same triple is an idempotent re-PUT; anything else under that name is refused.
 */
export function createAssignment(ctx: AssignmentCtx, n: NewAssignment): CreateResult {
  if (!isGuid(n.name))
    throw new ArmError(
      400,
      'InvalidRoleAssignmentId',
      `The role assignment ID '${n.name}' is not valid. The role assignment ID must be a GUID.`,
    );
  const principalId = n.principalId;
  if (!isGuid(principalId))
    throw new ArmError(400, 'InvalidPrincipalId', 'A valid principal ID must be provided for role assignment.');
  const roleGuid = roleGuidOf(n.roleDefinitionId);
  if (!roleGuid || !ctx.roles.find(roleGuid, n.scope))
    throw new ArmError(
      400,
      'RoleDefinitionDoesNotExist',
      `The specified role definition with ID '${roleGuid ?? String(n.roleDefinitionId ?? '')}' does not exist.`,
    );
  const principalType = n.principalType ?? 'User';
  if (!PRINCIPAL_TYPES.includes(principalType as never))
    throw new ArmError(
      400,
      'InvalidPrincipalType',
      `The principal type '${String(principalType)}' is not valid. Valid values are ${PRINCIPAL_TYPES.join(', ')}.`,
    );
  checkScope(ctx.store, n.scope);
  const settings = ctx.authz.settings();
  if (settings.missingPrincipals.some((p) => p.toLowerCase() === principalId.toLowerCase()))
    throw new ArmError(
      400,
      'PrincipalNotFound',
      `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${ctx.hierarchy.tenant.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
    );
  return ctx.authz.transaction(() => {
    sweepExpired(ctx);
    const prev = ctx.authz.assignment(n.name);
    if (prev) {
      const same =
        prev.scope.toLowerCase() === n.scope.toLowerCase() &&
        prev.principalId.toLowerCase() === principalId.toLowerCase() &&
        prev.roleGuid === roleGuid;
      if (!same)
        throw new ArmError(
          400,
          'RoleAssignmentUpdateNotPermitted',
          'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
        );
      return { created: false, assignment: prev };
    }
    const existing = ctx.authz.assignmentsOf(n.scope, principalId, roleGuid)[0];
    if (existing)
      throw new ArmError(
        409,
        'RoleAssignmentExists',
        `The role assignment already exists. The ID of the existing role assignment is ${existing.name.replace(/-/g, '').toLowerCase()}.`,
      );
    const now = new Date(ctx.clock.now()).toISOString();
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      created: true,
      assignment: ctx.authz.insertAssignment({
        name: n.name.toLowerCase(),
        scope: n.scope,
        roleGuid,
        principalId: principalId.toLowerCase(),
        principalType: principalType as string,
        description: str(n.description),
        condition: str(n.condition),
        conditionVersion: str(n.conditionVersion),
        createdOn: now,
        updatedOn: now,
        createdBy: n.createdBy,
        updatedBy: n.createdBy,
      }),
    };
  });
}

function put(ctx: AssignmentCtx, req: FastifyRequest, reply: FastifyReply, scope: string, name: string) {
  version(req);
  const body = req.body as { properties?: Record<string, unknown> } | undefined;
  const p = body?.properties;
  if (!p || typeof p !== 'object')
    throw new ArmError(400, 'InvalidRequestContent', "The request content was invalid: 'properties' is required.");
  if (p.roleDefinitionId === undefined || p.principalId === undefined)
    throw new ArmError(
      400,
      'InvalidRequestContent',
      "The request content was invalid: 'roleDefinitionId' and 'principalId' are required.",
    );
  const r = createAssignment(ctx, {
    ...p,
    scope,
    name,
    roleDefinitionId: p.roleDefinitionId,
    principalId: p.principalId,
    createdBy: principalOf(req)?.oid ?? null,
  });
  return reply.code(r.created ? 201 : 200).send(assignmentResource(r.assignment));
}

function remove(ctx: AssignmentCtx, req: FastifyRequest, reply: FastifyReply, scope: string, name: string) {
  version(req);
  const a = stored(ctx, scope, name);
  if (!a) return reply.code(204).send();
  ctx.authz.deleteAssignment(a.name);
  return reply.code(200).send(assignmentResource(a));
}

/** A fresh GUID for assignments PIM or the control API create without a name. */
export const newName = () => randomUUID();
