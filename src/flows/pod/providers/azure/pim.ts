import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../../engine/clock.ts';
import { PermanentError, RetryableError } from '../../../../engine/errors.ts';
import { armError, type ArmClient } from '../../../../connectors/microsoft/arm.ts';
import {
  AuthorizationClient,
  principalFilter,
  roleDefinitionGuid,
  type ScheduleInstance,
  type ScheduleRequest,
} from '../../../../connectors/microsoft/authorization.ts';
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
import {
  REVOKE_CAVEAT,
  RoleResolver,
  deterministicGuid,
  permanentArmError,
  portPrincipal,
  roleDefinitionIdFor,
  sameScope,
  scopeKey,
  scopePath,
} from './common.ts';

/**
 * Azure PIM for resources as an AuthorizationProvider (pod-wire-format.md §2): a grant is an
 * AdminAssign schedule request that ends by itself at `expiresAt` (so a Ticketloop outage cannot
 * extend access), a revoke is an AdminRemove. PIM refuses a remove within 5 minutes of the
 * assignment's start (ActiveDurationTooShort): that is a RetryableError due when the floor passes.
 *
 * Extending a shared assignment is an AdminUpdate ("for administrators to change existing role
 * assignments"), not AdminExtend: AdminExtend is for assignments about to expire (PIM offers it in
 * the last 14 days), while a broker moves the end of any active assignment, hours or weeks ahead.
 */

/** PIM's floor between an assignment's start and its removal. */
export const MIN_ACTIVE_MS = 5 * 60_000;
const DONE = new Set(['Provisioned', 'Granted', 'ScheduleCreated', 'AdminApproved', 'Revoked']);
const RETRYABLE_FAILURE = new Set(['FailedAsResourceIsLocked']);
const FAILED = new Set(['Denied', 'AdminDenied', 'Failed', 'Canceled', 'TimedOut', 'Invalid', ...RETRYABLE_FAILURE]);
const POLL_MS = 30_000;

/** The request name a grant writes: sha256(scope | principal | role GUID | grant key) as a UUID. */
/** The schedule request of an AdminAssign (`pim-assign`) or AdminUpdate (`pim-update`) made under `key`. */
function requestName(kind: 'pim-assign' | 'pim-update', target: AssignmentTarget, key: string): string {
  return deterministicGuid(
    kind,
    scopeKey(target.scope),
    target.principal.id.toLowerCase(),
    roleDefinitionGuid(target.permission),
    key,
  );
}

const REQUEST_ID = /^(.*)\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleRequests\/([^/]+)$/i;

const matches = (i: ScheduleInstance, t: AssignmentTarget) =>
  i.properties.principalId.toLowerCase() === t.principal.id.toLowerCase() &&
  roleDefinitionGuid(i.properties.roleDefinitionId) === roleDefinitionGuid(t.permission);

export class AzurePimProvider implements AuthorizationProvider {
  readonly type = 'azure-pim';
  readonly revokeCaveat = REVOKE_CAVEAT;
  readonly propagationSeconds = 600;
  readonly expiresNatively = true;
  private readonly client: AuthorizationClient;
  private readonly roles: RoleResolver;

  constructor(
    arm: ArmClient,
    private readonly clock: Clock,
    private readonly o: { ticketSystem?: string } = {},
  ) {
    this.client = new AuthorizationClient(arm);
    this.roles = new RoleResolver(this.client);
  }

  resolvePermission(nameOrId: string, scope: string): Promise<ResolvedPermission> {
    return this.roles.resolve(nameOrId, scope);
  }

  async grant(input: GrantInput): Promise<Operation> {
    if (input.expiresAt <= this.clock.now())
      throw new PermanentError(`PIM grant ${input.key} would end before it starts`);
    try {
      return await this.scheduleUntil(input, 'AdminAssign', input.expiresAt, input.justification);
    } catch (e) {
      // An active assignment of the role is there already and was not made by this key.
      if (armError(e)?.code === 'RoleAssignmentExists') return { state: 'done', preexisting: true };
      permanentArmError(e, input.principal);
    }
  }

  /** AdminUpdate to a new end. */
  async extend(input: ExtendInput): Promise<Operation> {
    if (input.endsAt <= this.clock.now()) throw new PermanentError(`PIM extend ${input.key} would end before now`);
    try {
      return await this.scheduleUntil(
        input,
        'AdminUpdate',
        input.endsAt,
        input.justification || `Ticketloop extend ${input.key}`,
      );
    } catch (e) {
      if (armError(e)?.code === 'RoleAssignmentDoesNotExist')
        throw new PermanentError(`PIM has no active assignment to extend (RoleAssignmentDoesNotExist)`);
      permanentArmError(e, input.principal);
    }
  }

  /**
   * An assignment active from now until `endsAt`, named by the input's key: a retry after a lost
   * answer finds the request the first attempt made (an extend's first attempt has none to find).
   */
  private async scheduleUntil(
    input: GrantInput | ExtendInput,
    requestType: 'AdminAssign' | 'AdminUpdate',
    endsAt: number,
    justification: string,
  ): Promise<Operation> {
    const name = requestName(requestType === 'AdminAssign' ? 'pim-assign' : 'pim-update', input, input.key);
    const earlier =
      'firstAttempt' in input && input.firstAttempt
        ? undefined
        : await this.client.getScheduleRequest(input.scope, name);
    if (earlier) return this.outcome(earlier);
    const r = await this.client.putScheduleRequest(input.scope, name, {
      roleDefinitionId: roleDefinitionIdFor(input.scope, input.permission),
      principalId: input.principal.id,
      requestType,
      scheduleInfo: {
        startDateTime: new Date(this.clock.now()).toISOString(),
        expiration: { type: 'AfterDateTime', endDateTime: new Date(endsAt).toISOString() },
      },
      justification,
      ticketInfo: {
        ticketNumber: input.ticketNumber ?? input.requestId,
        ticketSystem: this.o.ticketSystem ?? 'Ticketloop',
      },
    });
    return this.outcome(r);
  }

  /**
   * AdminRemove under a fresh name each attempt: removal is idempotent by state (an absent
   * assignment answers RoleAssignmentDoesNotExist, which is done), and a refused attempt must not
   * leave its name taken for the retry.
   */
  async revoke(input: RevokeInput): Promise<Operation> {
    try {
      const r = await this.client.putScheduleRequest(input.scope, randomUUID(), {
        roleDefinitionId: roleDefinitionIdFor(input.scope, input.permission),
        principalId: input.principal.id,
        requestType: 'AdminRemove',
        justification: `Ticketloop revoke ${input.key}`,
      });
      return this.outcome(r);
    } catch (e) {
      const code = armError(e)?.code;
      if (code === 'RoleAssignmentDoesNotExist') return { state: 'done' };
      if (code === 'ActiveDurationTooShort') {
        const started = await this.startOf(input);
        const wait = started === undefined ? MIN_ACTIVE_MS : started + MIN_ACTIVE_MS - this.clock.now();
        throw new RetryableError(
          `PIM refuses to remove an assignment within 5 minutes of its start (ActiveDurationTooShort)`,
          Math.max(5_000, wait + 5_000),
        );
      }
      permanentArmError(e, input.principal);
    }
  }

  async status(operation: string): Promise<Operation> {
    const m = REQUEST_ID.exec(operation);
    if (!m) throw new PermanentError(`Not a PIM schedule request id: ${operation}`);
    const r = await this.client.getScheduleRequest(m[1] || '/', m[2]);
    if (!r) return { state: 'failed', reason: `PIM request ${operation} is gone`, retryable: false };
    return this.outcome(r);
  }

  async read(target: AssignmentTarget): Promise<ActualAssignment | undefined> {
    for await (const page of this.client.listScheduleInstances(target.scope, principalFilter(target.principal.id))) {
      const i = page.value.find(
        (x) => matches(x, target) && sameScope(x.properties.scope, target.scope) && x.properties.memberType !== 'Group',
      );
      if (i) return this.actual(i, target.scope, target);
    }
    return undefined;
  }

  /** Every active assignment at the scope or above it; those above are inherited, those through a group `group`. */
  async *list(scope: string, permission?: string): AsyncIterable<ActualAssignment[]> {
    const want = permission ? roleDefinitionGuid(permission) : undefined;
    for await (const page of this.client.listScheduleInstances(scope, 'atScope()')) {
      const out: ActualAssignment[] = [];
      for (const i of page.value) {
        const principal = portPrincipal(i.properties.principalId, i.properties.principalType);
        if (!principal || (want && roleDefinitionGuid(i.properties.roleDefinitionId) !== want)) continue;
        out.push(
          this.actual(i, scope, { principal, permission: i.properties.roleDefinitionId, scope: i.properties.scope }),
        );
      }
      yield out;
    }
  }

  private actual(i: ScheduleInstance, asked: string, t: AssignmentTarget): ActualAssignment {
    const end = i.properties.endDateTime ? Date.parse(i.properties.endDateTime) : undefined;
    return {
      principal: t.principal,
      permission: roleDefinitionGuid(t.permission),
      scope: i.properties.scope,
      ref: i.properties.originRoleAssignmentId ?? i.id,
      ...(end !== undefined && !Number.isNaN(end) ? { endsAt: end } : {}),
      via:
        i.properties.memberType === 'Group' ? 'group' : sameScope(i.properties.scope, asked) ? 'direct' : 'inherited',
    };
  }

  /** When the target's active assignment started (for the 5-minute floor). */
  private async startOf(t: AssignmentTarget): Promise<number | undefined> {
    for await (const page of this.client.listScheduleInstances(t.scope, principalFilter(t.principal.id))) {
      const hit = page.value.find((x) => matches(x, t) && sameScope(x.properties.scope, t.scope));
      const start = hit?.properties.startDateTime ? Date.parse(hit.properties.startDateTime) : NaN;
      if (hit) return Number.isNaN(start) ? undefined : start;
    }
    return undefined;
  }

  private outcome(r: ScheduleRequest): Operation {
    const status = r.properties.status;
    if (DONE.has(status)) return { state: 'done' };
    if (FAILED.has(status))
      return {
        state: 'failed',
        reason: `PIM request ${r.name} is ${status}`,
        retryable: RETRYABLE_FAILURE.has(status),
      };
    const id =
      r.id ||
      `${scopePath(r.properties.scope)}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/${r.name}`;
    return { state: 'pending', operation: id, pollAfterMs: POLL_MS };
  }
}
