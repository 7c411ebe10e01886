import type { FastifyRequest } from 'fastify';
import {
  ArmError,
  MANAGEMENT_GROUP_API_VERSIONS,
  RESOURCE_GROUP_API_VERSIONS,
  SUBSCRIPTION_API_VERSIONS,
  firstQuery,
  gatewayError,
  nextLink,
  offsetPage,
  requireApiVersion,
} from './arm.ts';
import { generatedResourceGroups } from './assessments.ts';
import { principalOf } from './auth.ts';
import type { RouteTable } from './dispatch.ts';
import { MG_TYPE, mgId, type Hierarchy } from './hierarchy.ts';
import { authorizationFailed, type Rbac } from './rbac.ts';
import type { AzureStore, ManagementGroup, ResourceGroup, Subscription } from './store.ts';

/**
 * The reads every script starts with, built from the sandbox's own state: subscriptions and tenants
 * (Microsoft.Resources 2022-12-01, `subscriptions.json`), resource groups (2021-04-01,
 * `resources.json`) and management groups (Microsoft.Management 2021-04-01, `management.json`).
 * Lists show only what the caller may read, as ARM does; a denied item answers 403.
 */

interface Ctx {
  store: AzureStore;
  hierarchy: Hierarchy;
  rbac: Rbac;
}

/** Page sizes of the lists (subscriptions and groups have no `$top`; resource groups do). */
export const PAGE_SIZE = { subscriptions: 100, managementGroups: 100, resourceGroups: 1000 };

const RX = {
  subscriptions: /^\/subscriptions$/i,
  subscription: /^\/subscriptions\/([^/]+)$/i,
  tenants: /^\/tenants$/i,
  resourceGroups: /^\/subscriptions\/([^/]+)\/resourcegroups$/i,
  resourceGroup: /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)$/i,
  managementGroups: /^\/providers\/Microsoft\.Management\/managementGroups$/i,
  managementGroup: /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i,
};

const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;

export function resourceRoutes(ctx: Ctx): RouteTable {
  return [
    [RX.subscriptions, { GET: (req) => listSubscriptions(ctx, req) }],
    [RX.subscription, { GET: (req, _r, m) => subscriptionResource(ctx, subscriptionOf(ctx, req, m[1])) }],
    [RX.tenants, { GET: (req) => listTenants(ctx, req) }],
    [RX.resourceGroups, { GET: (req, _r, m) => listResourceGroups(ctx, req, m[1]) }],
    [RX.resourceGroup, { GET: (req, _r, m) => getResourceGroup(ctx, req, m[1], m[2]) }],
    [RX.managementGroups, { GET: (req) => listManagementGroups(ctx, req) }],
    [RX.managementGroup, { GET: (req, _r, m) => getManagementGroup(ctx, req, m[1]) }],
  ];
}

function paged<T>(req: FastifyRequest, path: string, items: T[], size: number) {
  const page = offsetPage(items, firstQuery(q(req), '$skiptoken'), size);
  return page.next
    ? { value: page.value, nextLink: nextLink(req.headers.host, q(req), path, page.next, '$skiptoken') }
    : { value: page.value };
}

// --- subscriptions and tenants -------------------------------------------------------------------

function subscriptionOf(ctx: Ctx, req: FastifyRequest, id: string): Subscription {
  requireApiVersion(q(req), SUBSCRIPTION_API_VERSIONS);
  const s = ctx.store.subscription(id);
  if (!s) throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${id}' could not be found.`);
  return s;
}

/** `Subscription` as in GetSubscriptions.json: the same keys in the same order. */
function subscriptionResource(ctx: Ctx, s: Subscription) {
  return {
    id: `/subscriptions/${s.subscriptionId}`,
    subscriptionId: s.subscriptionId,
    tenantId: ctx.hierarchy.tenant.tenantId,
    displayName: s.displayName,
    state: s.state ?? 'Enabled',
    subscriptionPolicies: {
      locationPlacementId: 'Public_2014-09-01',
      quotaId: 'PayAsYouGo_2014-09-01',
      spendingLimit: 'Off',
    },
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    ...(s.tags ? { tags: s.tags } : {}),
  };
}

function listSubscriptions(ctx: Ctx, req: FastifyRequest) {
  requireApiVersion(q(req), SUBSCRIPTION_API_VERSIONS);
  const who = principalOf(req);
  const visible = ctx.store.subscriptions().filter((s) =>
    ctx.rbac.allowed(who, {
      action: 'Microsoft.Resources/subscriptions/read',
      scope: `/subscriptions/${s.subscriptionId}`,
    }),
  );
  return paged(
    req,
    '/subscriptions',
    visible.map((s) => subscriptionResource(ctx, s)),
    PAGE_SIZE.subscriptions,
  );
}

function listTenants(ctx: Ctx, req: FastifyRequest) {
  requireApiVersion(q(req), SUBSCRIPTION_API_VERSIONS);
  const t = ctx.hierarchy.tenant;
  return {
    value: [
      {
        id: `/tenants/${t.tenantId}`,
        tenantId: t.tenantId,
        countryCode: 'US',
        displayName: t.displayName,
        domains: [t.defaultDomain],
        tenantCategory: 'Home',
        defaultDomain: t.defaultDomain,
        tenantType: 'AAD',
      },
    ],
  };
}

// --- resource groups -----------------------------------------------------------------------------

function resourceGroupResource(g: ResourceGroup) {
  return {
    id: `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}`,
    name: g.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: g.location,
    ...(g.tags ? { tags: g.tags } : {}),
    properties: { provisioningState: 'Succeeded' },
  };
}

/** Stored groups plus those a generated assessment set spreads its resources over. */
function resourceGroupsOf(ctx: Ctx, subscriptionId: string): ResourceGroup[] {
  const stored = ctx.store.resourceGroups(subscriptionId);
  const names = new Set(stored.map((g) => g.name.toLowerCase()));
  const g = ctx.store.generation(subscriptionId);
  const generated = g ? generatedResourceGroups(g).filter((n) => !names.has(n.toLowerCase())) : [];
  return [...stored, ...generated.map((name) => ({ subscriptionId, name, location: 'eastus' }))];
}

function listResourceGroups(ctx: Ctx, req: FastifyRequest, id: string) {
  requireApiVersion(q(req), RESOURCE_GROUP_API_VERSIONS);
  const s = ctx.store.subscription(id);
  if (!s) throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${id}' could not be found.`);
  const top = firstQuery(q(req), '$top');
  const size = top === undefined ? PAGE_SIZE.resourceGroups : Number(top);
  if (!Number.isInteger(size) || size < 1)
    throw gatewayError(400, 'InvalidQueryParameterValue', `The value '${top}' of query parameter '$top' is not valid.`);
  const groups = resourceGroupsOf(ctx, s.subscriptionId).map(resourceGroupResource);
  return paged(req, `/subscriptions/${s.subscriptionId}/resourcegroups`, groups, size);
}

function getResourceGroup(ctx: Ctx, req: FastifyRequest, id: string, name: string) {
  requireApiVersion(q(req), RESOURCE_GROUP_API_VERSIONS);
  const s = ctx.store.subscription(id);
  if (!s) throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${id}' could not be found.`);
  const g = resourceGroupsOf(ctx, s.subscriptionId).find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!g) throw gatewayError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
  return resourceGroupResource(g);
}

// --- management groups ---------------------------------------------------------------------------

const canRead = (ctx: Ctx, req: FastifyRequest, mg: ManagementGroup) =>
  ctx.rbac.allowed(principalOf(req), { action: 'Microsoft.Management/managementGroups/read', scope: mgId(mg.name) });

function listManagementGroups(ctx: Ctx, req: FastifyRequest) {
  requireApiVersion(q(req), MANAGEMENT_GROUP_API_VERSIONS, 'managementGroups');
  const tenantId = ctx.hierarchy.tenant.tenantId;
  const groups = ctx.store
    .managementGroups()
    .filter((g) => canRead(ctx, req, g))
    .map((g) => ({
      id: mgId(g.name),
      type: MG_TYPE,
      name: g.name,
      properties: { tenantId, displayName: g.displayName },
    }));
  // ListManagementGroups.json answers `"nextLink": null` on the last page.
  const page = paged(req, '/providers/Microsoft.Management/managementGroups', groups, PAGE_SIZE.managementGroups);
  return { value: page.value, nextLink: page.nextLink ?? null };
}

/** Who "last updated" a group: the sandbox's control API, as one fixed principal. */
const UPDATED_BY = '5a0d0000-0000-4000-8000-00000000a001';

type Child = { id: string; type: string; name: string; displayName: string; children?: Child[] | null };

function childrenOf(ctx: Ctx, mg: ManagementGroup, recurse: boolean, withSubscriptions: boolean): Child[] | null {
  const h = ctx.hierarchy;
  const out: Child[] = h.childGroups(mg).map((g) => ({
    id: mgId(g.name),
    type: MG_TYPE,
    name: g.name,
    displayName: g.displayName,
    ...(recurse ? { children: childrenOf(ctx, g, true, withSubscriptions) } : {}),
  }));
  if (withSubscriptions)
    for (const s of h.childSubscriptions(mg))
      out.push({
        id: `/subscriptions/${s.subscriptionId}`,
        type: '/subscriptions',
        name: s.subscriptionId,
        displayName: s.displayName,
      });
  return out.length ? out : null;
}

/** `ManagementGroup` with `$expand=children|path|ancestors` and `$recurse=true` (GetManagementGroupWith*.json). */
function getManagementGroup(ctx: Ctx, req: FastifyRequest, name: string) {
  requireApiVersion(q(req), MANAGEMENT_GROUP_API_VERSIONS, 'managementGroups');
  const h = ctx.hierarchy;
  const mg = ctx.store.managementGroup(name);
  // A group that does not exist answers 403, not 404 (Azure/azure-rest-api-specs#9549).
  if (!mg)
    throw authorizationFailed(principalOf(req)?.oid ?? '', {
      action: 'Microsoft.Management/managementGroups/read',
      scope: mgId(name),
    });
  const expand = (firstQuery(q(req), '$expand') ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
  const recurse = (firstQuery(q(req), '$recurse') ?? '').toLowerCase() === 'true';
  const filter = (firstQuery(q(req), '$filter') ?? '').replace(/\s+/g, ' ').toLowerCase();
  const withSubscriptions = filter !== 'children.childtype ne subscription';
  if (filter && withSubscriptions)
    throw new ArmError(400, 'InvalidFilter', `The filter '${firstQuery(q(req), '$filter')}' is not supported.`);

  const parent = h.parentOf(mg);
  const ancestors = h.chain(mg).slice(1);
  const details: Record<string, unknown> = {
    version: 1,
    updatedTime: mg.updatedTime ?? '2024-01-01T00:00:00Z',
    updatedBy: UPDATED_BY,
    ...(parent ? { parent: { id: mgId(parent.name), name: parent.name, displayName: parent.displayName } } : {}),
  };
  const element = (g: ManagementGroup) => ({ name: g.name, displayName: g.displayName });
  if (expand.includes('path')) details.path = [...ancestors].reverse().map(element);
  if (expand.includes('ancestors')) details.managementGroupAncestors = ancestors.map(element);
  return {
    id: mgId(mg.name),
    type: MG_TYPE,
    name: mg.name,
    properties: {
      tenantId: h.tenant.tenantId,
      displayName: mg.displayName,
      details,
      ...(expand.includes('children') ? { children: childrenOf(ctx, mg, recurse, withSubscriptions) } : {}),
    },
  };
}
