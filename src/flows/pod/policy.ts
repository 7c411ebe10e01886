import type { UserView } from '../../identity/users.ts';
import type { PodIntegration, PodPermission, PodPolicy, PodSystem } from './config.ts';
import { parseDuration } from '../../config/duration.ts';
import type { Principal } from './providers/port.ts';
import type { PolicySnapshot } from './request.ts';

/**
 * Turning a request as asked (`POST /api/pod/requests`) into one Ticketloop can act on: the system,
 * the permission and its scope, the policy that allows it, and the people who can approve it. A
 * request no one can approve is refused here, with the reason, never left waiting.
 */

export interface RequestInput {
  system: string;
  permission: string;
  scope?: string;
  identity: Principal;
  duration?: string;
  justification?: string;
  ticketNumber?: string;
}

/** A refusal naming the field, e.g. `duration: exceeds the policy's maximum PT8H`. */
export class RequestRefused extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

export interface Resolved {
  integration: PodIntegration;
  system: PodSystem;
  permission: PodPermission;
  policy: PodPolicy;
  durationMs: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The integration, system, permission, policy and duration for `input`, or a RequestRefused. */
export function resolveRequest(integrations: PodIntegration[], input: RequestInput, requester: string): Resolved {
  const integration = integrations.find((i) => i.systems.some((s) => s.name === input.system));
  const system = integration?.systems.find((s) => s.name === input.system);
  if (!integration || !system) throw new RequestRefused('system', `no authorization system named "${input.system}"`);
  const permission = integration.permissions.find((p) => p.name === input.permission && p.system === system.name);
  if (!permission)
    throw new RequestRefused('permission', `system "${system.name}" has no permission named "${input.permission}"`);
  if (!GUID.test(input.identity.id))
    throw new RequestRefused(
      'identity.id',
      'must be the directory object id (a GUID) of the user or service principal',
    );
  const userName = requester.startsWith('user:') ? requester.slice(5) : undefined;
  const policy = integration.policies.find(
    (p) =>
      covers(p, permission.name) &&
      (p.requesters.includes('*') || (userName !== undefined && p.requesters.includes(userName))),
  );
  if (!policy) throw new RequestRefused('permission', `no policy lets ${requester} request "${permission.name}"`);
  const durationText = input.duration ?? policy.defaultDuration;
  const durationMs = parseDuration(durationText);
  if (durationMs === undefined)
    throw new RequestRefused('duration', 'must be an ISO 8601 duration of days, hours, minutes or seconds, e.g. PT1H');
  if (durationMs > parseDuration(policy.maxDuration)!)
    throw new RequestRefused('duration', `exceeds the policy's maximum ${policy.maxDuration}`);
  if (policy.requireJustification && !input.justification?.trim())
    throw new RequestRefused('justification', `required by policy "${policy.name}"`);
  if (policy.requireTicket && !input.ticketNumber?.trim())
    throw new RequestRefused('ticketNumber', `required by policy "${policy.name}"`);
  return { integration, system, permission, policy, durationMs };
}

/** The scopes a permission may be asked at; a scope at or below one of them is allowed (ARM inheritance). */
export function allowedScopes(system: PodSystem, permission: PodPermission): string[] {
  return permission.scopes ?? system.scopes;
}

const segments = (scope: string) => scope.toLowerCase().replace(/\/+$/, '').split('/').filter(Boolean);

/** Whether `scope` is `parent` or below it (compared segment by segment, case-insensitively as ARM does). */
export function isAtOrBelow(scope: string, parent: string): boolean {
  const s = segments(scope);
  const p = segments(parent);
  return p.length <= s.length && p.every((seg, n) => seg === s[n]);
}

/** The scope to grant at: the one asked for (checked), or the only allowed one. */
export function pickScope(system: PodSystem, permission: PodPermission, asked: string | undefined): string {
  const allowed = allowedScopes(system, permission);
  if (!asked) {
    if (allowed.length === 1) return allowed[0];
    throw new RequestRefused('scope', `required: one of ${allowed.join(', ') || '(none configured)'} or below`);
  }
  if (!asked.startsWith('/') || asked.includes('..'))
    throw new RequestRefused('scope', 'must be a scope path starting with "/", e.g. /subscriptions/{id}');
  if (!allowed.some((a) => isAtOrBelow(asked, a)))
    throw new RequestRefused(
      'scope',
      `not at or below a scope "${permission.name}" may be granted at: ${allowed.join(', ')}`,
    );
  return asked;
}

/** Whether a policy applies to the permission of this name. */
export const covers = (p: { permissions: string[] }, permission: string) =>
  p.permissions.includes('*') || p.permissions.includes(permission);

export interface ApproverSources {
  users: UserView[];
  /** The requester's manager, as a Ticketloop user name, from the ITSM's people look-up. */
  manager?: string;
  /** The policy's approver groups, with the Entra object ids of their user members other than the requester. */
  groups?: { id: string; name: string; members: string[] }[];
}

/**
 * The policy as the request will carry it: who can approve (users holding the approver role, enabled,
 * not the requester unless self-approval is allowed), how many must, or why none are needed.
 */
export function snapshotPolicy(
  r: Resolved,
  requester: string,
  sources: ApproverSources,
  expiringSoonMs: number,
): PolicySnapshot {
  const { policy, permission } = r;
  const canApprove = new Map(
    sources.users.filter((u) => !u.disabled && u.roles.includes('approver')).map((u) => [u.name, u]),
  );
  const named = [
    ...policy.approvers.users,
    ...(policy.approvers.anyApprover ? [...canApprove.keys()] : []),
    ...(policy.approvers.manager && sources.manager ? [sources.manager] : []),
  ];
  const approvers = [...new Set(named)]
    .filter((name) => canApprove.has(name))
    .map((name) => `user:${name}`)
    .filter((actor) => policy.allowSelfApproval || actor !== requester);
  const autoApproved = policy.breakGlass
    ? 'break-glass policy: no approval, reviewed afterwards'
    : policy.autoApprove.readOnly && permission.readOnly
      ? `auto-approved: "${permission.name}" is read-only`
      : undefined;
  const groups = sources.groups ?? [];
  // Everyone who could approve: named users, and the members of the approver groups (by Entra id).
  const members = new Set(groups.flatMap((g) => g.members.map((m) => m.toLowerCase())));
  if (!autoApproved && approvers.length + members.size < policy.quorum) {
    const who = approvers.length ? approvers.join(', ') : 'nobody';
    const empty = groups.length
      ? `; approver group(s) ${groups.map((g) => `"${g.name}"`).join(', ')} have ${members.size ? `only ${members.size} member(s)` : 'no members'} other than the requester`
      : '';
    throw new RequestRefused(
      'permission',
      `no one can approve it: policy "${policy.name}" needs ${policy.quorum} approval(s) and ${who} can give one${empty} (approvers must hold the approver role${policy.allowSelfApproval ? '' : ' and may not approve their own request'})`,
    );
  }
  return {
    name: policy.name,
    quorum: policy.quorum,
    approvers,
    ...(groups.length ? { approverGroups: groups.map((g) => ({ id: g.id, name: g.name })) } : {}),
    allowSelfApproval: policy.allowSelfApproval,
    breakGlass: policy.breakGlass,
    selfExtend: policy.selfExtend,
    maxDurationMs: parseDuration(policy.maxDuration)!,
    expiringSoonMs,
    autoApproved,
  };
}
