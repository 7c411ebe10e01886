import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Ticketloop } from '../../app/build.ts';
import { inTransaction } from '../../engine/apply.ts';
import { loadFlowState } from '../../engine/flow.ts';
import type { Database } from '../../store/schema.ts';
import { PermanentError } from '../../engine/errors.ts';
import { approverGroupsOf } from './approver-groups.ts';
import { assignmentItem } from './assignment.ts';
import { attachEvents } from './effects.ts';
import type { PodIntegration } from './config.ts';
import { formatDuration, parseDuration } from '../../config/duration.ts';
import { FLOW, requestItem, type PodEvent } from './flow.ts';
import { pickScope, RequestRefused, resolveRequest, snapshotPolicy, type RequestInput } from './policy.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { whyNotDecide, whyNotRevoke, type RequestState } from './request.ts';

/**
 * What the API, the CLI (through the API) and the ITSM front do with requests: submit, decide,
 * revoke, cancel, extend. Each checks what it can tell the caller (the field, the reason), then hands
 * one event to the flow; the flow decides again, so a race between two callers changes nothing twice.
 */

/** A refused action on an existing request: 404 (unknown), 403 (not yours to do), 409 (not now). */
export class ActionRefused extends Error {
  constructor(
    readonly status: 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

type Within = (trx: Kysely<Database>) => Promise<void>;

export interface Submitted {
  id: string;
  status: RequestState['status'];
  created: boolean;
}

export class PodService {
  constructor(
    private readonly app: Ticketloop,
    private readonly integrations: () => PodIntegration[],
    readonly providers: ProviderRegistry,
  ) {}

  async load(id: string): Promise<RequestState | undefined> {
    const s = await loadFlowState<RequestState>(this.app.store.db, FLOW, requestItem(id));
    return s?.kind === 'request' ? s : undefined;
  }

  /**
   * Submit a request. `idempotencyKey` (the Idempotency-Key header, a ServiceNow request item) makes a
   * repeated submission return the first request instead of making a second.
   */
  async submit(
    input: RequestInput,
    requester: string,
    o: { idempotencyKey?: string; ticket?: RequestState['ticket']; via?: string } = {},
  ): Promise<Submitted> {
    const id = o.idempotencyKey
      ? createHash('sha256').update(`${requester}\u0000${o.idempotencyKey}`).digest('hex').slice(0, 32)
      : randomUUID();
    const existing = await this.load(id);
    if (existing) return { id, status: existing.status, created: false };

    const r = resolveRequest(this.integrations(), input, requester);
    const provider = this.providers.get(r.integration.name, r.system.name);
    const resolved = await this.providers.resolve(
      r.integration.name,
      r.system.name,
      r.permission.grants,
      r.system.scopes[0] ?? '/',
    );
    const group = r.system.provider.startsWith('entra') ? `/groups/${resolved.id}` : undefined;
    const scope = group ?? pickScope(r.system, r.permission, input.scope);
    if (group && input.scope && input.scope.toLowerCase() !== group.toLowerCase())
      throw new RequestRefused('scope', `a group permission's scope is its group: ${group}`);
    const users = await this.app.identity.users.list();
    const manager = r.policy.approvers.manager ? await this.managerOf(r.integration, requester) : undefined;
    const groups = r.policy.approvers.groups.length
      ? await this.approverGroups(r.policy.approvers.groups, requester, r.policy.allowSelfApproval)
      : undefined;
    const policy = snapshotPolicy(
      r,
      requester,
      { users, manager, groups },
      parseDuration(r.integration.expiringSoon) ?? 0,
    );
    const request = {
      integration: r.integration.name,
      system: r.system.name,
      provider: r.system.provider,
      permission: { name: r.permission.name, id: resolved.id, displayName: resolved.name },
      scope,
      identity: input.identity,
      assignment: assignmentItem(r.integration.name, r.system.name, { identity: input.identity, scope }, resolved.id),
      requester,
      justification: (input.justification ?? '').slice(0, 2000),
      ticketNumber: input.ticketNumber?.slice(0, 100),
      ticket: o.ticket,
      durationMs: r.durationMs,
      policy,
      revokeCaveat: provider.revokeCaveat,
    };
    const applied = await this.dispatch(id, { type: 'submit', request } satisfies PodEvent, requester);
    return { id, status: applied.state!.status, created: applied.created };
  }

  async decide(
    id: string,
    actor: string,
    decision: 'approve' | 'reject',
    comment: string,
    via = 'ticketloop',
    /** Runs first in the decision's transaction (a one-time link is used up with it, or not at all). */
    within?: Within,
    /** The decider's Entra object id when known otherwise (an ITSM approver found by e-mail). */
    entraId?: string,
  ): Promise<RequestState> {
    const s = await this.mustLoad(id);
    let why = whyNotDecide(s, actor);
    let group: string | undefined;
    const byGroup =
      s.status === 'submitted' &&
      !!s.policy.approverGroups?.length &&
      !s.policy.approvers.includes(actor) &&
      (actor !== s.requester || s.policy.allowSelfApproval);
    if (why && byGroup) {
      group = await this.approverGroupOf(s, actor, entraId);
      why = whyNotDecide(s, actor, group);
    }
    if (why) throw new ActionRefused(s.status === 'submitted' && !why.includes('already') ? 403 : 409, why);
    const event = { type: decision, actor, comment: comment.slice(0, 2000), via, ...(group ? { group } : {}) };
    return this.apply(id, event, actor, within);
  }

  async cancel(id: string, actor: string, isAdmin: boolean): Promise<RequestState> {
    const s = await this.mustLoad(id);
    if (actor !== s.requester && !isAdmin)
      throw new ActionRefused(403, `only the requester (${s.requester}) or an admin may cancel it`);
    if (s.status !== 'submitted')
      throw new ActionRefused(409, `the request is ${s.status}: only a request waiting for approval can be canceled`);
    return this.apply(id, { type: 'cancel', actor }, actor);
  }

  /** The requester, an approver of its policy, or an admin. */
  async revoke(id: string, actor: string, isAdmin: boolean, reason = 'revoked'): Promise<RequestState> {
    const s = await this.mustLoad(id);
    if (actor !== s.requester && !s.policy.approvers.includes(actor) && !isAdmin)
      throw new ActionRefused(
        403,
        `only the requester, an approver of policy "${s.policy.name}" or an admin may revoke it`,
      );
    const why = whyNotRevoke(s);
    if (why) throw new ActionRefused(409, why);
    if (s.ended) throw new ActionRefused(409, `already ending (${s.ended.reason} by ${s.ended.by})`);
    return this.apply(id, { type: 'revoke', actor, reason: reason.slice(0, 500) }, actor);
  }

  /** The requester when the policy allows self-extension; otherwise an approver of its policy (a new approval). */
  async extend(id: string, actor: string, duration: string): Promise<RequestState> {
    const s = await this.mustLoad(id);
    const ms = parseDuration(duration);
    if (ms === undefined) throw new RequestRefused('duration', 'must be an ISO 8601 duration, e.g. PT1H');
    if (s.status !== 'granted' || !s.grant)
      throw new ActionRefused(409, `the request is ${s.status}: only an active grant can be extended`);
    const mayExtend =
      (actor === s.requester && s.policy.selfExtend) ||
      (s.policy.approvers.includes(actor) && (actor !== s.requester || s.policy.allowSelfApproval));
    if (!mayExtend)
      throw new ActionRefused(
        403,
        `policy "${s.policy.name}" ${s.policy.selfExtend ? '' : 'does not allow self-extension: '}an approver must extend it`,
      );
    const now = this.app.clock.now();
    const total = Math.max(s.grant.expiresAt, now) + ms - s.grant.grantedAt!;
    if (total > s.policy.maxDurationMs)
      throw new RequestRefused(
        'duration',
        `the grant would last longer than the policy's maximum ${formatDuration(s.policy.maxDurationMs)}`,
      );
    return this.apply(id, { type: 'extend', actor, durationMs: ms }, actor);
  }

  /**
   * Apply one event to a request; when it leaves the request approved, take hold of its provider
   * assignment in the same transaction (what the `attach` effect would do a job later), so an
   * approval starts the grant at once.
   */
  private async dispatch(id: string, event: PodEvent, actor: string, within?: Within) {
    const item = requestItem(id);
    const r = await inTransaction(this.app.store.db, async (trx) => {
      await within?.(trx);
      const applied = await this.app.engine.applyIn(trx, [{ flow: FLOW, id: item, event }], actor);
      const state = applied.results[0].state as RequestState | undefined;
      if (applied.results[0].changed && state?.status === 'approved') {
        const attached = await this.app.engine.applyIn(trx, attachEvents(item, state, this.app.clock.now()), actor);
        return {
          ...applied,
          jobs: applied.jobs + attached.jobs,
          results: [{ ...applied.results[0], state: attached.results[0].state }],
        };
      }
      return applied;
    });
    this.app.engine.wake();
    return r.results[0] as { state: RequestState | undefined; changed: boolean; created: boolean };
  }

  private async apply(id: string, event: PodEvent, actor: string, within?: Within): Promise<RequestState> {
    const r = await this.dispatch(id, event, actor, within);
    if (!r.changed) throw new ActionRefused(409, 'the request changed meanwhile; look at it again');
    return r.state!;
  }

  private async mustLoad(id: string): Promise<RequestState> {
    const s = await this.load(id);
    if (!s) throw new ActionRefused(404, `no request ${id}`);
    return s;
  }

  /**
   * The Entra object id of a Ticketloop user signed in with Entra ID (OIDC subject `oidc:<tid>:<oid>`),
   * when their tenant is the Microsoft connection's; local users have none.
   */
  async entraIdOf(actor: string): Promise<string | undefined> {
    if (!actor.startsWith('user:')) return undefined;
    const u = await this.app.identity.users.find(actor.slice(5)).catch(() => undefined);
    const m = u?.source === 'oidc' ? /^oidc:([^:]+):([^:]+)$/.exec(u.subject ?? '') : null;
    const tenant = this.app.config.microsoft?.tenantId;
    if (!m || (tenant && m[1].toLowerCase() !== tenant.toLowerCase())) return undefined;
    return m[2];
  }

  /** The policy's approver groups resolved in Entra, with their user members other than the requester. */
  private async approverGroups(names: string[], requester: string, allowSelf: boolean) {
    try {
      const ag = approverGroupsOf(this.app);
      const self = allowSelf ? undefined : (await this.entraIdOf(requester))?.toLowerCase();
      return await Promise.all(
        (await ag.resolve(names)).map(async (g) => ({
          ...g,
          members: (await ag.usersOf(g.id)).map((m) => m.id).filter((m) => m.toLowerCase() !== self),
        })),
      );
    } catch (e) {
      if (e instanceof PermanentError || /no `microsoft` connection/.test(String(e)))
        throw new RequestRefused('permission', `the policy's approver groups cannot be used: ${(e as Error).message}`);
      throw e;
    }
  }

  /** The approver group `actor` is a member of in Entra, or a 403 saying why they cannot approve by group. */
  private async approverGroupOf(s: RequestState, actor: string, entraId?: string): Promise<string> {
    const groups = s.policy.approverGroups!;
    const names = groups.map((g) => `"${g.name}"`).join(', ');
    const oid = entraId ?? (await this.entraIdOf(actor));
    if (!oid)
      throw new ActionRefused(
        403,
        `${actor} is not an approver of policy "${s.policy.name}": approver group(s) ${names} are checked in Entra ID, and ${actor} is a local user without an Entra ID link (sign in with Entra ID to approve by group)`,
      );
    // The same person under another name (an ITSM e-mail, a console account) is still the requester.
    if (!s.policy.allowSelfApproval && oid.toLowerCase() === (await this.entraIdOf(s.requester))?.toLowerCase())
      throw new ActionRefused(
        403,
        `${actor} is the requester (in Entra ID): policy "${s.policy.name}" forbids self-approval`,
      );
    const hit = await approverGroupsOf(this.app).memberOf(
      oid,
      groups.map((g) => g.id),
    );
    if (!hit)
      throw new ActionRefused(
        403,
        `${actor} is not an approver of policy "${s.policy.name}": not a member of approver group(s) ${names} in Entra ID`,
      );
    return hit;
  }

  /** The requester's manager as a Ticketloop user name: the ITSM's people look-up by the requester's e-mail name. */
  private async managerOf(i: PodIntegration, requester: string): Promise<string | undefined> {
    const name = requester.startsWith('user:') ? requester.slice(5) : undefined;
    if (!name?.includes('@') || !this.app.connections.hasItsm(i.itsm)) return undefined;
    const person = await this.app.connections.itsm(i.itsm).findPerson(name);
    return person?.managerEmail?.toLowerCase();
  }
}
