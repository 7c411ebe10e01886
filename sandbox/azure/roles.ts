import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, firstQuery, requireApiVersion } from './arm.ts';
import { AUTHZ, ROLE_API_VERSIONS, canonicalScope, checkScope, isGuid, parseFilter, relation } from './authz.ts';
import type { AuthorizationStore } from './authz-store.ts';
import type { RouteTable } from './dispatch.ts';
import type { Hierarchy } from './hierarchy.ts';
import type { AzureStore } from './store.ts';

/**
 * Role definitions (2022-04-01, `authorization-RoleDefinitionsCalls.json`): the built-in roles a
 * broker asks for, with their real GUIDs, names and descriptions (MicrosoftDocs/azure-docs
 * `articles/role-based-access-control/built-in-roles/*.md`), plus custom roles put at a scope.
 * Permissions are listed but not evaluated: the sandbox's RBAC is deny rules (rbac.ts).
 */

export interface RoleDefinitionProperties {
  roleName: string;
  type: 'BuiltInRole' | 'CustomRole';
  description: string;
  assignableScopes: string[];
  permissions: Array<{ actions: string[]; notActions: string[]; dataActions: string[]; notDataActions: string[] }>;
  createdOn: string;
  updatedOn: string;
  createdBy: string | null;
  updatedBy: string | null;
}

export interface StoredRole {
  guid: string;
  properties: RoleDefinitionProperties;
}

const perms = (actions: string[], notActions: string[] = [], dataActions: string[] = []) => [
  { actions, notActions, dataActions, notDataActions: [] },
];
const BUILT_IN_DATE = '2015-02-02T21:55:09.8806423Z';
const builtIn = (guid: string, roleName: string, description: string, p: StoredRole['properties']['permissions']) => ({
  guid,
  properties: {
    roleName,
    type: 'BuiltInRole' as const,
    description,
    assignableScopes: ['/'],
    permissions: p,
    createdOn: BUILT_IN_DATE,
    updatedOn: BUILT_IN_DATE,
    createdBy: null,
    updatedBy: null,
  },
});

/** Built-in roles (GUIDs checked against the docs' JSON blocks; long action lists shortened). */
export const BUILT_IN_ROLES: StoredRole[] = [
  builtIn(
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'Owner',
    'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    perms(['*']),
  ),
  builtIn(
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'Contributor',
    'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.',
    perms(
      ['*'],
      [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
      ],
    ),
  ),
  builtIn(
    'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    'Reader',
    'View all resources, but does not allow you to make any changes.',
    perms(['*/read']),
  ),
  builtIn(
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'User Access Administrator',
    'Lets you manage user access to Azure resources.',
    perms(['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*']),
  ),
  builtIn(
    '9980e02c-c2be-4d73-94e8-173b1dc7cf3c',
    'Virtual Machine Contributor',
    'Create and manage virtual machines, manage disks, install and run software, reset password of the root user of the virtual machine using VM extensions, and manage local user accounts using VM extensions. This role does not grant you management access to the virtual network or storage account the virtual machines are connected to. This role does not allow you to assign roles in Azure RBAC.',
    perms(['Microsoft.Authorization/*/read', 'Microsoft.Compute/virtualMachines/*', 'Microsoft.Compute/disks/*']),
  ),
  builtIn(
    '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
    'Storage Blob Data Reader',
    'Allows for read access to Azure Storage blob containers and data',
    perms(
      [
        'Microsoft.Storage/storageAccounts/blobServices/containers/read',
        'Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action',
      ],
      [],
      ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'],
    ),
  ),
];

export const ROLE_DEFINITION_TYPE = 'Microsoft.Authorization/roleDefinitions';

interface Ctx {
  store: AzureStore;
  authz: AuthorizationStore;
  hierarchy: Hierarchy;
  clock: OffsetClock;
}

export class RoleCatalog {
  constructor(private readonly ctx: Ctx) {}

  /** A built-in role, or a custom role assignable at (or above) `scope`. */
  find(guid: string, scope?: string): StoredRole | undefined {
    const lc = guid.toLowerCase();
    const b = BUILT_IN_ROLES.find((r) => r.guid === lc);
    if (b) return b;
    const c = this.ctx.authz.customRole<StoredRole>(lc);
    if (!c || scope === undefined) return c;
    return this.assignableAt(c, scope) ? c : undefined;
  }

  all(scope: string): StoredRole[] {
    return [...BUILT_IN_ROLES, ...this.ctx.authz.customRoles<StoredRole>().filter((r) => this.assignableAt(r, scope))];
  }

  private assignableAt(r: StoredRole, scope: string): boolean {
    return r.properties.assignableScopes.some((s) => {
      const rel = relation(this.ctx.hierarchy, canonicalScope(s), scope);
      return rel === 'at' || rel === 'above';
    });
  }
}

/** Field order as `GetRoleDefinitionByName.json`: properties, then id, type, name. */
export function roleResource(r: StoredRole, scope: string) {
  const sub = /^\/subscriptions\/[^/]+/i.exec(scope)?.[0] ?? '';
  return {
    properties: r.properties,
    id: `${sub}${AUTHZ}/roleDefinitions/${r.guid}`,
    type: ROLE_DEFINITION_TYPE,
    name: r.guid,
  };
}

const RX = {
  definitions: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleDefinitions$/i,
  definition: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/]+)$/i,
};

const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
const version = (req: FastifyRequest) => requireApiVersion(q(req), ROLE_API_VERSIONS, 'roleDefinitions');

export function roleDefinitionRoutes(ctx: Ctx, catalog: RoleCatalog): RouteTable {
  return [
    [RX.definitions, { GET: (req, _r, m) => list(ctx, catalog, req, canonicalScope(m[1])) }],
    [
      RX.definition,
      {
        GET: (req, _r, m) => get(catalog, req, canonicalScope(m[1]), m[2]),
        PUT: (req, reply, m) => put(ctx, catalog, req, reply, canonicalScope(m[1]), m[2]),
        DELETE: (req, reply, m) => remove(ctx, req, reply, canonicalScope(m[1]), m[2]),
      },
    ],
  ];
}

function list(ctx: Ctx, catalog: RoleCatalog, req: FastifyRequest, scope: string) {
  version(req);
  checkScope(ctx.store, scope);
  const f = parseFilter(firstQuery(q(req), '$filter'), ['roleName', 'type', 'atScopeAndBelow']);
  const value = catalog
    .all(scope)
    .filter((r) => f.roleName === undefined || r.properties.roleName.toLowerCase() === f.roleName.toLowerCase())
    .filter((r) => f.type === undefined || r.properties.type.toLowerCase() === f.type.toLowerCase())
    .map((r) => roleResource(r, scope));
  return { value };
}

function notFound(guid: string) {
  return new ArmError(
    404,
    'RoleDefinitionDoesNotExist',
    `The specified role definition with ID '${guid}' does not exist.`,
  );
}

function get(catalog: RoleCatalog, req: FastifyRequest, scope: string, guid: string) {
  version(req);
  const r = isGuid(guid) ? catalog.find(guid, scope) : undefined;
  if (!r) throw notFound(guid);
  return roleResource(r, scope);
}

/** Custom roles only; a built-in role cannot be changed. */
function put(ctx: Ctx, catalog: RoleCatalog, req: FastifyRequest, reply: FastifyReply, scope: string, guid: string) {
  version(req);
  if (!isGuid(guid))
    throw new ArmError(
      400,
      'InvalidRoleDefinitionId',
      `The role definition ID '${guid}' is not valid. It must be a GUID.`,
    );
  if (catalog.find(guid) && ctx.authz.customRole(guid) === undefined)
    throw new ArmError(400, 'RoleDefinitionUpdateNotPermitted', 'Built-in role definitions cannot be updated.');
  const p = ((req.body ?? {}) as { properties?: Record<string, any> }).properties;
  if (!p || typeof p.roleName !== 'string' || !p.roleName)
    throw new ArmError(400, 'InvalidRoleDefinitionRequest', "'properties.roleName' is required.");
  const clash = catalog
    .all(scope)
    .find((r) => r.guid !== guid.toLowerCase() && r.properties.roleName.toLowerCase() === p.roleName.toLowerCase());
  if (clash)
    throw new ArmError(
      409,
      'RoleDefinitionWithSameNameExists',
      `A role definition cannot be updated with a name that already exists.`,
    );
  const scopes: string[] =
    Array.isArray(p.assignableScopes) && p.assignableScopes.length ? p.assignableScopes : [scope];
  for (const s of scopes) checkScope(ctx.store, canonicalScope(s));
  const now = new Date(ctx.clock.now()).toISOString();
  const prev = ctx.authz.customRole<StoredRole>(guid);
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const role: StoredRole = {
    guid: guid.toLowerCase(),
    properties: {
      roleName: p.roleName,
      type: 'CustomRole',
      description: typeof p.description === 'string' ? p.description : '',
      assignableScopes: scopes.map(canonicalScope),
      permissions: (Array.isArray(p.permissions) ? p.permissions : []).map((x: Record<string, unknown>) => ({
        actions: list(x?.actions),
        notActions: list(x?.notActions),
        dataActions: list(x?.dataActions),
        notDataActions: list(x?.notDataActions),
      })),
      createdOn: prev?.properties.createdOn ?? now,
      updatedOn: now,
      createdBy: prev?.properties.createdBy ?? null,
      updatedBy: null,
    },
  };
  ctx.authz.putCustomRole(guid, role);
  return reply.code(prev ? 200 : 201).send(roleResource(role, scope));
}

function remove(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, scope: string, guid: string) {
  version(req);
  const prev = isGuid(guid) ? ctx.authz.customRole<StoredRole>(guid) : undefined;
  if (!prev) return reply.code(204).send();
  const used = ctx.authz.assignments().some((a) => a.roleGuid === prev.guid);
  if (used)
    throw new ArmError(409, 'RoleDefinitionHasAssignments', 'There are existing role assignments referencing role.');
  ctx.authz.deleteCustomRole(guid);
  return reply.code(200).send(roleResource(prev, scope));
}
