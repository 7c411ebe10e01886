import type { Clock } from '../../../../engine/clock.ts';
import { PermanentError, RetryableError } from '../../../../engine/errors.ts';
import type { GraphClient } from '../../../../connectors/microsoft/graph.ts';
import {
  GroupsClient,
  graphErrorOf,
  type PimGroupAssignmentInstance,
  type PimGroupAssignmentRequest,
} from '../../../../connectors/microsoft/groups.ts';
import type {
  ActualAssignment,
  AssignmentTarget,
  AuthorizationProvider,
  ExtendInput,
  GrantInput,
  Operation,
  ResolvedPermission,
  RevokeInput,
} from '../port.ts';
import { GroupResolver, PROPAGATION_SECONDS, REVOKE_CAVEAT, groupOf, groupScope } from './common.ts';

/**
 * PIM for Groups active membership as an AuthorizationProvider (pod-wire-format.md §3.3): grant is
 * an `adminAssign` request ending at `expiresAt` (`afterDateTime`), so the membership ends even if
 * Ticketloop is down; revoke is `adminRemove`. The request carries `customData` = the grant key, so a
 * retry after a lost answer recognises its own assignment instead of calling it pre-existing.
 * Extending is `adminUpdate` ("change existing … assignments"), not `adminExtend`, which is for
 * assignments about to expire (see azure/pim.ts); its `customData` is the extend key.
 */

/** How a request's status reads for the port (the status is a free string in Graph). */
const DONE = new Set(['provisioned', 'granted', 'revoked', 'schedulecreated', 'adminapproved']);
const FAILED = new Set(['denied', 'failed', 'canceled', 'revoked', 'timedout', 'invalid', 'admindenied']);
/** PIM refuses ending an assignment within 5 minutes of its start (pod-wire-format.md §2.3). */
const MIN_ACTIVE_MS = 5 * 60_000;

const keyTag = (key: string) => `ticketloop:${key}`;

export class EntraPimGroupProvider implements AuthorizationProvider {
  readonly type = 'entra-pim-group';
  readonly revokeCaveat = REVOKE_CAVEAT;
  readonly propagationSeconds = PROPAGATION_SECONDS;
  readonly expiresNatively = true;
  private readonly groups: GroupsClient;
  private readonly resolver: GroupResolver;

  constructor(
    graph: GraphClient,
    private readonly clock: Clock,
    private readonly o: { ticketSystem?: string } = {},
  ) {
    this.groups = new GroupsClient(graph);
    this.resolver = new GroupResolver(this.groups);
  }

  /** Groups are tenant-wide: the scope does not change what a name means. */
  resolvePermission(nameOrId: string, _scope?: string): Promise<ResolvedPermission> {
    return this.resolver.resolve(nameOrId);
  }

  async grant(input: GrantInput): Promise<Operation> {
    const groupId = groupOf(input);
    const now = this.clock.now();
    if (input.expiresAt <= now)
      throw new PermanentError(`PIM for Groups grant ${input.key} would end before it starts`);
    try {
      const r = await this.groups.createAssignmentRequest({
        accessId: 'member',
        principalId: input.principal.id,
        groupId,
        action: 'adminAssign',
        scheduleInfo: {
          startDateTime: new Date(now).toISOString(),
          expiration: { type: 'afterDateTime', endDateTime: new Date(input.expiresAt).toISOString() },
        },
        justification: input.justification,
        ...(input.ticketNumber
          ? { ticketInfo: { ticketNumber: input.ticketNumber, ticketSystem: this.o.ticketSystem ?? 'Ticketloop' } }
          : {}),
        customData: keyTag(input.key),
      });
      return this.operationOf(r);
    } catch (e) {
      if (graphErrorOf(e)?.code !== 'RoleAssignmentExists') throw this.permanent(e, input);
    }
    // It exists: ours from an earlier attempt of this key, or someone else's.
    const mine = (await this.groups.listAssignmentRequests(groupId, input.principal.id)).find(
      (r) => r.customData === keyTag(input.key) && r.action === 'adminAssign' && DONE.has(r.status.toLowerCase()),
    );
    if (mine) return { state: 'done', ref: mine.targetScheduleId ?? undefined };
    const existing = await this.read(input);
    if (existing) return { state: 'done', preexisting: true, ref: existing.ref };
    throw new PermanentError(
      `PIM for Groups reports an assignment of ${input.principal.id} to ${groupId} it does not list`,
    );
  }

  async extend(input: ExtendInput): Promise<Operation> {
    const groupId = groupOf(input);
    const now = this.clock.now();
    if (input.endsAt <= now) throw new PermanentError(`PIM for Groups extend ${input.key} would end before now`);
    // A retry after a lost answer finds the request its first attempt made.
    const mine = input.firstAttempt
      ? undefined
      : (await this.groups.listAssignmentRequests(groupId, input.principal.id)).find(
          (r) => r.customData === keyTag(input.key) && r.action === 'adminUpdate',
        );
    if (mine) return this.operationOf(mine);
    try {
      const r = await this.groups.createAssignmentRequest({
        accessId: 'member',
        principalId: input.principal.id,
        groupId,
        action: 'adminUpdate',
        scheduleInfo: {
          startDateTime: new Date(now).toISOString(),
          expiration: { type: 'afterDateTime', endDateTime: new Date(input.endsAt).toISOString() },
        },
        justification: input.justification || `Ticketloop extend ${input.key}`,
        ...(input.ticketNumber
          ? { ticketInfo: { ticketNumber: input.ticketNumber, ticketSystem: this.o.ticketSystem ?? 'Ticketloop' } }
          : {}),
        customData: keyTag(input.key),
      });
      return this.operationOf(r);
    } catch (e) {
      if (graphErrorOf(e)?.code === 'RoleAssignmentDoesNotExist')
        throw new PermanentError(`PIM for Groups has no assignment of ${input.principal.id} in ${groupId} to extend`);
      throw this.permanent(e, input);
    }
  }

  async revoke(input: RevokeInput): Promise<Operation> {
    const groupId = groupOf(input);
    try {
      const r = await this.groups.createAssignmentRequest({
        accessId: 'member',
        principalId: input.principal.id,
        groupId,
        action: 'adminRemove',
      });
      return this.operationOf(r);
    } catch (e) {
      const code = graphErrorOf(e)?.code;
      if (code === 'RoleAssignmentDoesNotExist') return { state: 'done' };
      if (code === 'ActiveDurationTooShort')
        throw new RetryableError(
          `PIM for Groups keeps ${groupId} for at least 5 minutes after it starts`,
          MIN_ACTIVE_MS,
        );
      throw this.permanent(e, input);
    }
  }

  async status(operation: string): Promise<Operation> {
    const r = await this.groups.getAssignmentRequest(operation);
    if (!r) return { state: 'failed', reason: `PIM for Groups request ${operation} is gone`, retryable: false };
    return this.operationOf(r);
  }

  async read(target: AssignmentTarget): Promise<ActualAssignment | undefined> {
    const groupId = groupOf(target);
    const id = target.principal.id.toLowerCase();
    for await (const page of this.groups.instancePages(groupId, target.principal.id)) {
      const i = page.find((x) => x.principalId.toLowerCase() === id && x.accessId === 'member');
      if (i) return this.assignmentOf(i, target.principal.type);
    }
    return undefined;
  }

  async *list(scope: string, permission?: string): AsyncIterable<ActualAssignment[]> {
    const groupId = groupOf({ scope, permission: permission ?? /^\/?groups\/([^/]+)/i.exec(scope)?.[1] ?? '' });
    // Instances name principals without their type: the member list says which are service principals.
    const types = new Map<string, 'user' | 'servicePrincipal'>();
    for await (const page of this.groups.memberPages(groupId))
      for (const m of page)
        if (/serviceprincipal/i.test(m['@odata.type'] ?? '')) types.set(m.id.toLowerCase(), 'servicePrincipal');
    for await (const page of this.groups.instancePages(groupId)) {
      yield page
        .filter((i) => i.accessId === 'member')
        .map((i) => this.assignmentOf(i, types.get(i.principalId.toLowerCase()) ?? 'user'));
    }
  }

  private assignmentOf(i: PimGroupAssignmentInstance, type: 'user' | 'servicePrincipal'): ActualAssignment {
    const endsAt = i.endDateTime ? Date.parse(i.endDateTime) : undefined;
    return {
      principal: { type, id: i.principalId },
      permission: i.groupId,
      scope: groupScope(i.groupId),
      ref: i.assignmentScheduleId ?? i.id,
      ...(endsAt !== undefined && !Number.isNaN(endsAt) ? { endsAt } : {}),
      via: (i.memberType ?? 'direct').toLowerCase() === 'group' ? 'group' : 'direct',
    };
  }

  private operationOf(r: PimGroupAssignmentRequest): Operation {
    const s = r.status.toLowerCase();
    // `Revoked` is success for adminRemove and failure for a grant.
    if (DONE.has(s) && !(s === 'revoked' && r.action === 'adminAssign'))
      return { state: 'done', ref: r.targetScheduleId ?? undefined };
    if (FAILED.has(s))
      return { state: 'failed', reason: `PIM for Groups request ${r.id} is ${r.status}`, retryable: false };
    return { state: 'pending', operation: r.id, pollAfterMs: 10_000 };
  }

  /** Graph's refusals no retry can fix, as PermanentError; anything else (429, 5xx, 403) goes up unchanged. */
  private permanent(e: unknown, t: AssignmentTarget): unknown {
    const err = graphErrorOf(e);
    if (err && ['InvalidRequest', 'InvalidScheduleRequest', 'BadRequest', 'ResourceNotFound'].includes(err.code))
      return new PermanentError(
        `PIM for Groups refused the request for ${t.principal.id} in ${t.permission} (${err.code}): ${err.message}`,
      );
    return e;
  }
}
