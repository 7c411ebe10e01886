import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PIM_API_VERSIONS, ROLE_API_VERSIONS } from './authz.ts';
import {
  ASSESSMENT_API_VERSIONS,
  ArmError,
  GOVERNANCE_API_VERSIONS,
  MANAGEMENT_GROUP_API_VERSIONS,
  RESOURCE_GROUP_API_VERSIONS,
  SUBSCRIPTION_API_VERSIONS,
  firstQuery,
  gatewayError,
  missingApiVersion,
  sendArmError,
} from './arm.ts';
import { principalOf } from './auth.ts';
import { SUPPORT_API_VERSIONS } from './support-catalog.ts';
import { armOperation, type Rbac } from './rbac.ts';

/**
 * One catch-all route for the ARM surface: ARM paths nest arbitrary scopes (`/{scope}/providers/…`),
 * so each service contributes a table of path patterns (matched case-insensitively, like ARM). A
 * matched route is authorized (RBAC) before its handler runs; an unmatched one — and anything
 * Fastify itself cannot route (its not-found handler) — answers the error ARM's front door gives.
 */

export type Handler = (req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) => unknown;
export type RouteTable = Array<[RegExp, Partial<Record<string, Handler>>]>;

/** The resource types the sandbox serves, per namespace, with their api-versions. */
const PROVIDERS: Record<string, { name: string; types: Record<string, readonly string[]> }> = {
  'microsoft.security': {
    name: 'Microsoft.Security',
    types: {
      assessments: ASSESSMENT_API_VERSIONS,
      assessmentmetadata: ASSESSMENT_API_VERSIONS,
      'assessments/governanceassignments': GOVERNANCE_API_VERSIONS,
    },
  },
  'microsoft.authorization': {
    name: 'Microsoft.Authorization',
    types: {
      roleassignments: ROLE_API_VERSIONS,
      roledefinitions: ROLE_API_VERSIONS,
      roleassignmentschedulerequests: PIM_API_VERSIONS,
      roleassignmentscheduleinstances: PIM_API_VERSIONS,
    },
  },
  'microsoft.support': {
    name: 'Microsoft.Support',
    types: {
      services: SUPPORT_API_VERSIONS,
      'services/problemclassifications': SUPPORT_API_VERSIONS,
      supporttickets: SUPPORT_API_VERSIONS,
      'supporttickets/communications': SUPPORT_API_VERSIONS,
      checknameavailability: SUPPORT_API_VERSIONS,
      operationsstatus: SUPPORT_API_VERSIONS,
      operationresults: SUPPORT_API_VERSIONS,
    },
  },
  'microsoft.management': {
    name: 'Microsoft.Management',
    types: { managementgroups: MANAGEMENT_GROUP_API_VERSIONS },
  },
  'microsoft.resources': {
    name: 'Microsoft.Resources',
    types: {
      subscriptions: SUBSCRIPTION_API_VERSIONS,
      tenants: SUBSCRIPTION_API_VERSIONS,
      'subscriptions/resourcegroups': RESOURCE_GROUP_API_VERSIONS,
    },
  },
};

/**
 * Real namespaces whose resources the seeded assessments point at, but which the sandbox does not
 * serve: an item there is simply "not found" rather than an invalid namespace.
 */
const UNSERVED_NAMESPACES = new Set(
  ['Microsoft.Compute', 'Microsoft.Storage', 'Microsoft.Sql', 'Microsoft.Cache', 'Microsoft.Network'].map((n) =>
    n.toLowerCase(),
  ),
);

const ADMIN = /^\/_sandbox(\/|$)/;

/** The request path as ARM reads it: `//subscriptions/…` (an id with a leading slash) and a trailing slash are tolerated. */
export function armPath(url: string): string {
  return (
    decodeURIComponent(url.split('?')[0])
      .replace(/\/{2,}/g, '/')
      .replace(/(.)\/+$/, '$1') || '/'
  );
}

const notFound = (path: string) => gatewayError(404, 'NotFound', `The requested resource '${path}' was not found.`);

/** `[type, name, type, name, …]` → `type/type/…` (the resource type path of a provider suffix). */
const typePath = (segs: string[]) => segs.filter((_, i) => i % 2 === 0).join('/');

const invalidType = (type: string, namespace: string, apiVersion: string) =>
  gatewayError(
    400,
    'InvalidResourceType',
    `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'.`,
  );

/** The error ARM answers for a path no route serves. */
export function unroutable(method: string, path: string, query: Record<string, unknown>): ArmError {
  if (ADMIN.test(path))
    return new ArmError(404, 'NotFound', `The sandbox control API has no route '${method} ${path}'.`);
  const apiVersion = firstQuery(query, 'api-version');
  if (!apiVersion) return missingApiVersion();
  const segs = path.split('/').filter(Boolean);
  const at = segs.map((s) => s.toLowerCase()).lastIndexOf('providers');

  if (at < 0) {
    // No provider segment: Microsoft.Resources' own paths (/subscriptions/{id}/{type}/…, /tenants).
    if (!['subscriptions', 'tenants'].includes(segs[0]?.toLowerCase() ?? '')) return notFound(path);
    const type = typePath(segs);
    if (PROVIDERS['microsoft.resources'].types[type.toLowerCase()]) return notFound(path);
    return invalidType(typePath(segs.slice(2)), 'Microsoft.Resources', apiVersion);
  }

  const namespace = segs[at + 1];
  const rest = segs.slice(at + 2);
  if (!namespace || rest.length === 0) return notFound(path);
  const type = typePath(rest);
  const provider = PROVIDERS[namespace.toLowerCase()];
  if (provider)
    return provider.types[type.toLowerCase()] ? notFound(path) : invalidType(type, provider.name, apiVersion);
  if (!UNSERVED_NAMESPACES.has(namespace.toLowerCase()))
    return gatewayError(400, 'InvalidResourceNamespace', `The resource namespace '${namespace}' is invalid.`);
  if (rest.length % 2 === 1) return notFound(path); // a collection of a namespace the sandbox does not serve
  const rg = /\/resourceGroups\/([^/]+)\//i.exec(path)?.[1] ?? '';
  return gatewayError(
    404,
    'ResourceNotFound',
    `The Resource '${namespace}/${type}/${rest[rest.length - 1]}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function registerArmDispatch(app: FastifyInstance, table: RouteTable, rbac: Rbac): void {
  const query = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;

  app.route({
    method: ['GET', 'PUT', 'DELETE', 'POST', 'PATCH'],
    url: '/*',
    handler: async (req, reply) => {
      const path = armPath(req.url);
      try {
        for (const [rx, methods] of table) {
          const m = rx.exec(path);
          if (!m) continue;
          const h = methods[req.method];
          if (!h)
            throw gatewayError(
              405,
              'MethodNotAllowed',
              `The requested resource does not support http method '${req.method}'.`,
            );
          if (!firstQuery(query(req), 'api-version')) throw missingApiVersion();
          const op = armOperation(req.method, path);
          if (op) rbac.authorize(principalOf(req), op);
          const out = await h(req, reply, m);
          return reply.sent ? reply : out;
        }
        throw unroutable(req.method, path, query(req));
      } catch (e) {
        if (e instanceof ArmError) return sendArmError(reply, e);
        throw e;
      }
    },
  });

  // Methods the catch-all does not take (OPTIONS, …) and anything else Fastify cannot route.
  app.setNotFoundHandler((req, reply) => sendArmError(reply, unroutable(req.method, armPath(req.url), query(req))));
}
