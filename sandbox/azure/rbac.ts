import { randomUUID } from 'node:crypto';
import { gatewayError, type ArmError } from './arm.ts';
import type { ArmPrincipal } from './auth.ts';
import type { Hierarchy } from './hierarchy.ts';
import type { AzureStore, DenyRule } from './store.ts';

/**
 * A minimal Azure RBAC: everything is allowed unless a deny rule (set through the control API)
 * names the caller, the action and a scope at or above the request's scope (assignments inherit
 * down the tree: root → management groups → subscription → resource group → resource).
 */

/** What an ARM request does, for authorization: `{namespace}/{type path}/{read|write|delete}` on a scope. */
export interface ArmOperation {
  action: string;
  scope: string;
}

const VERB: Record<string, string> = { GET: 'read', HEAD: 'read', PUT: 'write', PATCH: 'write', DELETE: 'delete' };

/**
 * The action and scope ARM checks for `method path`, derived as ARM does from the last provider
 * segment: an item (`…/type/name`) is checked on its own id, a collection (`…/type`) on its parent.
 * Paths without a provider are Microsoft.Resources (`/subscriptions/{id}/resourcegroups`).
 */
export function armOperation(method: string, path: string): ArmOperation | undefined {
  const verb = VERB[method];
  if (!verb) return undefined;
  const segs = path.split('/').filter(Boolean);
  const at = segs.map((s) => s.toLowerCase()).lastIndexOf('providers');
  const [namespace, rest, prefix] =
    at >= 0 ? [segs[at + 1], segs.slice(at + 2), segs.slice(0, at + 2)] : ['Microsoft.Resources', segs, []];
  if (!namespace || rest.length === 0) return undefined;
  const types = rest.filter((_, i) => i % 2 === 0);
  const isItem = rest.length % 2 === 0;
  const scopeSegs = isItem ? segs : [...prefix, ...rest.slice(0, -1)];
  // A collection directly under a provider (`/subscriptions/x/providers/N/type`) belongs to the scope before it.
  const scope = `/${(scopeSegs.length === prefix.length && at >= 0 ? segs.slice(0, at) : scopeSegs).join('/')}`;
  return { action: `${namespace}/${types.join('/')}/${verb}`, scope };
}

const pattern = (p: string) =>
  new RegExp(
    `^${p
      .split('*')
      .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );

export class Rbac {
  constructor(
    private readonly store: AzureStore,
    private readonly hierarchy: Hierarchy,
  ) {}

  rules(): DenyRule[] {
    return this.store.denyRules();
  }

  deny(input: { principalId: string; scope: string; actions?: string[] }): DenyRule {
    const scope = `/${input.scope.split('/').filter(Boolean).join('/')}`;
    return this.store.putDenyRule({
      id: randomUUID(),
      principalId: input.principalId,
      scope,
      actions: input.actions?.length ? input.actions : ['*/read'],
    });
  }

  /** Remove the rules of a principal (all when omitted); returns how many went. */
  clear(principalId?: string): number {
    const gone = this.rules().filter((r) => !principalId || r.principalId.toLowerCase() === principalId.toLowerCase());
    for (const r of gone) this.store.deleteDenyRule(r.id);
    return gone.length;
  }

  /** The rule that denies the operation, if any. The tenant root scope (`/`) is never denied: lists filter instead. */
  denying(principal: ArmPrincipal | undefined, op: ArmOperation): DenyRule | undefined {
    if (!principal || op.scope === '/') return undefined;
    const rules = this.rules();
    if (rules.length === 0) return undefined;
    const ids = [principal.oid, principal.appId].filter(Boolean).map((s) => s!.toLowerCase());
    const mine = rules.filter((r) => ids.includes(r.principalId.toLowerCase()));
    if (mine.length === 0) return undefined;
    const above = new Set(this.hierarchy.ancestorScopes(op.scope));
    return mine.find((r) => above.has(r.scope.toLowerCase()) && r.actions.some((a) => pattern(a).test(op.action)));
  }

  allowed(principal: ArmPrincipal | undefined, op: ArmOperation): boolean {
    return this.denying(principal, op) === undefined;
  }

  /** Throw ARM's 403 when the operation is denied. */
  authorize(principal: ArmPrincipal | undefined, op: ArmOperation): void {
    if (this.allowed(principal, op)) return;
    throw authorizationFailed(principal!.oid, op);
  }
}

export function authorizationFailed(oid: string, op: ArmOperation): ArmError {
  // For a service principal ARM names the object id twice (the "client" of a user would be its UPN).
  return gatewayError(
    403,
    'AuthorizationFailed',
    `The client '${oid}' with object id '${oid}' does not have authorization to perform action '${op.action}' over scope '${op.scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}
