import { ArmError, gatewayError } from './arm.ts';
import type { Hierarchy } from './hierarchy.ts';
import type { AzureStore } from './store.ts';

/**
 * What the Microsoft.Authorization routes share: api-versions, scopes, the `$filter` grammar of
 * the role assignment / PIM lists, and how one scope relates to another (inheritance).
 */

/** Role assignments and role definitions (`authorization-RoleAssignmentsCalls.json` 2022-04-01). */
export const ROLE_API_VERSIONS = ['2022-04-01'] as const;
/** PIM for Azure resources (`RoleAssignmentScheduleRequest.json` 2020-10-01). */
export const PIM_API_VERSIONS = ['2020-10-01'] as const;

export const AUTHZ = '/providers/Microsoft.Authorization';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (s: unknown): s is string => typeof s === 'string' && GUID.test(s);

/** The principal types a role assignment takes (spec enum `PrincipalType`). */
export const PRINCIPAL_TYPES = ['User', 'Group', 'ServicePrincipal', 'ForeignGroup'] as const;

/** `/subscriptions/x/` and `` (the tenant root) as ARM writes them back: no trailing slash, `/` for the root. */
export function canonicalScope(raw: string | undefined): string {
  const segs = (raw ?? '').split('/').filter(Boolean);
  return segs.length ? `/${segs.join('/')}` : '/';
}

/** The trailing GUID of a role definition id (`/subscriptions/s/providers/…/roleDefinitions/{guid}`) or the GUID itself. */
export function roleGuidOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  const last = id.split('/').filter(Boolean).pop();
  return isGuid(last) ? last.toLowerCase() : undefined;
}

/** A role definition id as ARM writes it at a scope (`/providers/…` at the root). */
export function roleDefinitionIdAt(scope: string, guid: string): string {
  const sub = /^\/subscriptions\/[^/]+/i.exec(scope)?.[0] ?? '';
  return `${sub}${AUTHZ}/roleDefinitions/${guid}`;
}

/** The subscription and resource group a scope names must exist (the management group too). */
export function checkScope(store: AzureStore, scope: string): void {
  const segs = scope.split('/').filter(Boolean);
  if (segs.length === 0) return;
  if (segs[0].toLowerCase() === 'subscriptions') {
    if (!segs[1] || !store.subscription(segs[1]))
      throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${segs[1] ?? ''}' could not be found.`);
    if (segs[2]?.toLowerCase() === 'resourcegroups' && segs[3] && !store.resourceGroup(segs[1], segs[3]))
      throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${segs[3]}' could not be found.`);
    return;
  }
  if (/^providers\/microsoft\.management\/managementgroups\/[^/]+$/i.test(segs.join('/'))) {
    if (!store.managementGroup(segs[3]))
      throw new ArmError(404, 'ManagementGroupNotFound', `The management group '${segs[3]}' could not be found.`);
    return;
  }
  throw new ArmError(400, 'InvalidScope', `The scope '${scope}' is not valid for role assignments.`);
}

/** The parts of an OData `$filter` these lists understand, joined by `and`. */
export interface AuthzFilter {
  atScope?: boolean;
  principalId?: string;
  /** `assignedTo('{id}')`: the principal's assignments, its groups' included (the sandbox has no groups). */
  assignedTo?: string;
  roleName?: string;
  type?: string;
  roleDefinitionId?: string;
  asRequestor?: boolean;
  asTarget?: boolean;
  atScopeAndBelow?: boolean;
}

const unquote = (v: string) => (/^'.*'$/.test(v) ? v.slice(1, -1).replace(/''/g, "'") : v);

/**
 * Parse `atScope()`, `principalId eq {id}` (quoted or not), `assignedTo('{id}')`, `roleName eq '…'`,
 * `type eq '…'`, `roleDefinitionId eq '…'`, `asRequestor()`, `asTarget()`, `atScopeAndBelow()`.
 * Anything else is refused, naming the clause, rather than silently ignored.
 */
export function parseFilter(raw: string | undefined, allowed: ReadonlyArray<keyof AuthzFilter>): AuthzFilter {
  const out: AuthzFilter = {};
  if (!raw || !raw.trim()) return out;
  for (const clause of raw.trim().split(/\s+and\s+/i)) {
    const c = clause
      .trim()
      .replace(/^\((.*)\)$/, '$1')
      .trim();
    let m: RegExpExecArray | null;
    let key: keyof AuthzFilter | undefined;
    if (/^(atScope|asRequestor|asTarget|atScopeAndBelow)\(\)$/i.test(c)) {
      key = (['atScope', 'asRequestor', 'asTarget', 'atScopeAndBelow'] as const).find(
        (k) => k.toLowerCase() === c.slice(0, -2).toLowerCase(),
      )!;
      out[key] = true as never;
    } else if ((m = /^assignedTo\(\s*('(?:[^']|'')*'|[^)\s]+)\s*\)$/i.exec(c))) {
      key = 'assignedTo';
      out.assignedTo = unquote(m[1]);
    } else if ((m = /^(principalId|roleName|type|roleDefinitionId)\s+eq\s+('(?:[^']|'')*'|\S+)$/i.exec(c))) {
      key = (['principalId', 'roleName', 'type', 'roleDefinitionId'] as const).find(
        (k) => k.toLowerCase() === m![1].toLowerCase(),
      )!;
      out[key] = unquote(m[2]) as never;
    }
    if (!key || !allowed.includes(key))
      throw new ArmError(
        400,
        'InvalidFilter',
        `The filter '${raw}' is not supported: '${c}' is not a valid condition.`,
      );
  }
  return out;
}

export type ScopeRelation = 'at' | 'above' | 'below';

/** How an assignment's scope stands to the asked scope, through the management-group tree; undefined when unrelated. */
export function relation(hierarchy: Hierarchy, assignmentScope: string, asked: string): ScopeRelation | undefined {
  const a = assignmentScope.toLowerCase();
  const s = asked.toLowerCase();
  if (a === s) return 'at';
  if (hierarchy.ancestorScopes(asked).includes(a)) return 'above';
  if (hierarchy.ancestorScopes(assignmentScope).includes(s)) return 'below';
  return undefined;
}

/** The `expandedProperties.scope.type` PIM writes for a scope. */
export function scopeType(scope: string): string {
  const segs = scope.split('/').filter(Boolean);
  if (segs.length === 0) return 'root';
  if (segs[0].toLowerCase() === 'providers') return 'managementgroup';
  if (segs.length === 2) return 'subscription';
  if (segs.length === 4) return 'resourcegroup';
  return 'resource';
}
