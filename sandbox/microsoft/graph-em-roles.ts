import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import { EM_READWRITE } from './constants.ts';
import { C, publicShape, type AccessPackage, type AssignmentRequest } from './em-model.ts';
import type { Entra } from './entra.ts';
import { authenticateGraph, badRequest, GraphFailure, notFound, type GraphCaller } from './graph-http.ts';
import { entityResponse, listResponse, type EntityKind } from './odata.ts';

/**
 * Entitlement management's own role-based access (Graph `roleManagement/entitlementManagement`): the
 * built-in catalog roles and their assignments, scoped to a catalog by `appScopeId`
 * `/AccessPackageCatalog/{catalogId}` (or `/` for every catalog). An app holding "Access package
 * assignment manager" (or "Catalog owner") on a request's catalog may read and resume that request
 * without the tenant-wide EntitlementManagement.ReadWrite.All — the least privilege the tutorial uses.
 */

/** The built-in role definitions (ids as Entra publishes them). */
export const EM_ROLES = {
  catalogOwner: { id: 'ae79f266-94d4-4dab-b730-feca7e132178', displayName: 'Catalog owner' },
  catalogReader: { id: '44272f93-9762-48e8-af59-1b5351b1d6b3', displayName: 'Catalog reader' },
  accessPackageManager: { id: '7f480852-ebdc-47d4-87de-0d8498384a83', displayName: 'Access package manager' },
  accessPackageAssignmentManager: {
    id: 'e2182095-804a-4656-ae11-64734e9b7ae5',
    displayName: 'Access package assignment manager',
  },
  catalogCreator: { id: 'ba92d953-d8e0-4e39-a797-0cbedb0a89e8', displayName: 'Catalog creator' },
} as const;
const DEFINITIONS = Object.values(EM_ROLES);
/** Roles whose holders may resume (and read) a catalog's requests. */
const RESUMERS: string[] = [EM_ROLES.accessPackageAssignmentManager.id, EM_ROLES.catalogOwner.id];

export interface RoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  directoryScopeId: string;
  appScopeId: string;
}

const ROLE_ASSIGNMENTS = 'em-role-assignments';
const PREFIXES = ['/v1.0/roleManagement/entitlementManagement', '/beta/roleManagement/entitlementManagement'];
const CONTEXT = 'roleManagement/entitlementManagement';
const assignmentKind: EntityKind<RoleAssignment> = { type: 'unifiedRoleAssignment', shape: publicShape };
const definitionKind: EntityKind = {
  type: 'unifiedRoleDefinition',
  shape: (d: (typeof DEFINITIONS)[number]) => ({ ...d, isBuiltIn: true, isEnabled: true, templateId: d.id }),
};

const catalogScope = (catalogId: string) => `/AccessPackageCatalog/${catalogId}`;

/** The role assignments a principal holds. */
function assignmentsOf(store: DocStore, principalId: string): RoleAssignment[] {
  return store.list<RoleAssignment>(ROLE_ASSIGNMENTS).filter((a) => a.principalId === principalId);
}

/** The caller holds a role that lets it resume requests of `catalogId` (or of some catalog, when unknown). */
export function holdsResumerRole(store: DocStore, caller: GraphCaller, catalogId?: string): boolean {
  return assignmentsOf(store, caller.oid).some(
    (a) =>
      RESUMERS.includes(a.roleDefinitionId) &&
      (catalogId === undefined || a.appScopeId === '/' || a.appScopeId === catalogScope(catalogId)),
  );
}

/** The request's catalog (via its access package). */
export function catalogOfRequest(store: DocStore, r: AssignmentRequest): string | undefined {
  return store.get<AccessPackage>(C.packages, r._accessPackageId)?._catalogId;
}

interface RoleDeps {
  store: DocStore;
  entra: Entra;
}

const denied = () =>
  new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');

/**
 * Entitlement-management reads and the resume: the application permission, or a catalog role
 * (checked against the request's catalog once it is known, by `allowedOn`).
 */
export async function authorizeEm(d: RoleDeps, req: FastifyRequest, anyOf: string[]) {
  const caller = await authenticateGraph(d.entra, req);
  const byPermission = anyOf.some((r) => caller.roles.includes(r));
  if (!byPermission && !holdsResumerRole(d.store, caller)) throw denied();
  return {
    caller,
    by: byPermission ? ('application permission' as const) : ('catalog role' as const),
    /** Throws 403 unless the caller may act on requests of this catalog. */
    allowedOn(catalogId: string | undefined) {
      if (!byPermission && !holdsResumerRole(d.store, caller, catalogId ?? '')) throw denied();
    },
  };
}

export function registerEmRoles(app: FastifyInstance, d: RoleDeps, baseUrl: () => string): void {
  const { store } = d;
  // Reading and assigning roles: the admin permission (RoleManagement.*) or EntitlementManagement.ReadWrite.All;
  // a principal may always list its own assignments (`$filter=principalId eq '<its object id>'`).
  const admin = [EM_READWRITE, 'RoleManagement.ReadWrite.Directory'];
  const readers = [...admin, 'EntitlementManagement.Read.All', 'RoleManagement.Read.Directory'];
  for (const prefix of PREFIXES) {
    app.get(`${prefix}/roleDefinitions`, async (req) => {
      const caller = await authenticateGraph(d.entra, req);
      if (!readers.some((r) => caller.roles.includes(r)) && !assignmentsOf(store, caller.oid).length) throw denied();
      return listResponse(req, baseUrl(), `${CONTEXT}/roleDefinitions`, definitionKind, DEFINITIONS);
    });
    app.get(`${prefix}/roleAssignments`, async (req) => {
      const caller = await authenticateGraph(d.entra, req);
      const filter = String((req.query as Record<string, string>).$filter ?? '');
      const own = caller.oid && filter.includes(`principalId eq '${caller.oid}'`);
      if (!readers.some((r) => caller.roles.includes(r)) && !own) throw denied();
      return listResponse(req, baseUrl(), `${CONTEXT}/roleAssignments`, assignmentKind, store.list(ROLE_ASSIGNMENTS));
    });
    app.post(`${prefix}/roleAssignments`, async (req, reply) => {
      const caller = await authenticateGraph(d.entra, req);
      if (!admin.some((r) => caller.roles.includes(r))) throw denied();
      const b = (req.body ?? {}) as Partial<RoleAssignment>;
      if (!b.principalId || !b.roleDefinitionId)
        throw badRequest('principalId and roleDefinitionId are required.', 'Request_BadRequest');
      if (!DEFINITIONS.some((x) => x.id === b.roleDefinitionId))
        throw badRequest(`Role definition '${b.roleDefinitionId}' was not found.`, 'Request_BadRequest');
      const scope = b.appScopeId ?? '/';
      const catalog = /^\/AccessPackageCatalog\/(.+)$/.exec(scope)?.[1];
      if (scope !== '/' && !(catalog && store.get(C.catalogs, catalog)))
        throw badRequest(
          `appScopeId '${scope}' is not / or /AccessPackageCatalog/{an existing catalog id}.`,
          'Request_BadRequest',
        );
      const same = (a: RoleAssignment) =>
        a.principalId === b.principalId && a.roleDefinitionId === b.roleDefinitionId && a.appScopeId === scope;
      if (store.list<RoleAssignment>(ROLE_ASSIGNMENTS).some(same))
        throw badRequest('The Role assignment already exists.', 'RoleAssignmentExists');
      const doc: RoleAssignment = {
        id: randomUUID(),
        principalId: b.principalId,
        roleDefinitionId: b.roleDefinitionId,
        directoryScopeId: '/',
        appScopeId: scope,
      };
      store.put(ROLE_ASSIGNMENTS, doc.id, doc);
      return reply.code(201).send(entityResponse(req, baseUrl(), `${CONTEXT}/roleAssignments`, assignmentKind, doc));
    });
    app.delete<{ Params: { id: string } }>(`${prefix}/roleAssignments/:id`, async (req, reply) => {
      const caller = await authenticateGraph(d.entra, req);
      if (!admin.some((r) => caller.roles.includes(r))) throw denied();
      if (!store.get(ROLE_ASSIGNMENTS, req.params.id)) throw notFound('Role assignment', req.params.id);
      store.delete(ROLE_ASSIGNMENTS, req.params.id);
      return reply.code(204).send();
    });
  }
}
