import type { JobContext, JobHandler, JobResult } from '../../engine/engine.ts';
import { HttpError, PermanentError, RetryableError } from '../../engine/errors.ts';
import { effectJob, loadFlowState } from '../../engine/flow.ts';
import { wantedEnd, type AssignmentEvent, type AssignmentState } from './assignment.ts';
import { FLOW, type PodEvent } from './flow.ts';
import type { Operation } from './providers/port.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import type { RequestState } from './request.ts';

/**
 * The pod flow's effects. `attach`, `release`, `tell` and `expire` only carry an event from one
 * item to another (each in the transaction that finishes the job); `grant`, `revoke` and `poll`
 * call the provider, then read its actual state back before they report done — "granted" and
 * "revoked" mean the provider says so. A write that fails for good is reported to the assignment
 * (which tells its requests) instead of dying silently. `extend` moves the end of an assignment that
 * ends by itself (PIM) to its latest holder's end — later, or earlier when that holder let go early —
 * and records the end the provider reads back;
 * `prolong` tells the assignment that a holder's grant was extended.
 */

/** How long a failed revoke waits before the next round of attempts. */
export const REVOKE_RETRY_MS = 10 * 60_000;

const event = (id: string, e: PodEvent) => ({ flow: FLOW, id, event: e });

/** An approved request takes hold of its provider assignment: the request is granting, the assignment held. */
export function attachEvents(item: string, r: RequestState, now: number) {
  const hold: AssignmentEvent = {
    type: 'hold',
    request: item,
    integration: r.integration,
    system: r.system,
    target: { principal: r.identity, permission: r.permission.id, scope: r.scope },
    justification: r.justification,
    ticketNumber: r.ticketNumber,
    // What a provider that expires by itself (PIM) is told; Ticketloop's own timer starts at "granted".
    expiresAt: now + r.durationMs,
  };
  return [event(item, { type: 'granting' }), event(r.assignment, hold)];
}

export interface PodEffectDeps {
  db: JobContext['db'];
  providers: ProviderRegistry;
}

function isFinal(e: unknown, ctx: JobContext): boolean {
  if (e instanceof PermanentError) return true;
  if (e instanceof HttpError && !e.retryable) return true;
  return ctx.job.attempts >= ctx.job.max_attempts;
}

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 1000);

export function createPodEffects(deps: PodEffectDeps): Record<string, JobHandler> {
  const loadRequest = (id: string) => loadFlowState<RequestState>(deps.db, FLOW, id);
  const loadAssignment = (id: string) => loadFlowState<AssignmentState>(deps.db, FLOW, id);

  /** The assignment's write `generation`, if it is still the one wanted (a stale job does nothing). */
  async function current(id: string, generation: number, status: AssignmentState['status']) {
    const a = await loadAssignment(id);
    return a && a.status === status && a.generation === generation ? a : undefined;
  }

  /** After a write the provider says is done: read back, and report what it shows. */
  async function settle(id: string, a: AssignmentState, write: 'grant' | 'revoke', op: Operation, ctx: JobContext) {
    const provider = deps.providers.get(a.integration, a.system);
    if (op.state === 'pending') {
      const poll = {
        kind: 'poll',
        key: `poll:${write}:${a.generation}:${op.operation}`,
        runAt: ctx.clock.now() + (op.pollAfterMs ?? 2000),
      };
      return {
        jobs: [effectJob(FLOW, id, { ...poll, payload: { generation: a.generation, write, operation: op.operation } })],
      };
    }
    if (op.state === 'failed') {
      if (op.retryable) throw new RetryableError(op.reason);
      throw new PermanentError(op.reason);
    }
    const actual = await provider.read(a.target);
    if (write === 'grant') {
      if (!actual) throw new RetryableError(`the provider accepted the grant but does not show it yet`);
      const done: AssignmentEvent = {
        type: 'grant_done',
        generation: a.generation,
        preexisting: !!op.preexisting,
        readBack: actual,
        grantKey: `${id}:${a.generation}`,
      };
      return { events: [event(id, done)] };
    }
    if (actual) throw new RetryableError(`the provider accepted the revoke but still shows ${actual.ref}`);
    return {
      events: [event(id, { type: 'revoke_done', generation: a.generation, readBack: 'not assigned (read back)' })],
    };
  }

  /** Run a provider write; a failure that retrying will not fix becomes the assignment's failure event. */
  async function write(
    id: string,
    generation: number,
    kind: 'grant' | 'revoke',
    ctx: JobContext,
    call: (a: AssignmentState) => Promise<Operation>,
  ): Promise<JobResult | void> {
    const a = await current(id, generation, kind === 'grant' ? 'granting' : 'revoking');
    if (!a) return;
    try {
      return await settle(id, a, kind, await call(a), ctx);
    } catch (e) {
      if (!isFinal(e, ctx)) throw e;
      const error = describe(e);
      const failed: AssignmentEvent =
        kind === 'grant'
          ? { type: 'grant_failed', generation, error }
          : { type: 'revoke_failed', generation, error, retryAt: ctx.clock.now() + REVOKE_RETRY_MS };
      return { events: [event(id, failed)] };
    }
  }

  return {
    async attach(p: { flowId: string }, ctx) {
      const r = await loadRequest(p.flowId);
      if (!r || r.status !== 'approved') return;
      return { events: attachEvents(p.flowId, r, ctx.clock.now()) };
    },
    async release(p: { flowId: string }) {
      const r = await loadRequest(p.flowId);
      if (!r) return;
      return { events: [event(r.assignment, { type: 'release', request: p.flowId })] };
    },
    async tell(p: { request: string; event: PodEvent }) {
      return { events: [event(p.request, p.event)] };
    },
    async prolong(p: { flowId: string; expiresAt: number }) {
      const r = await loadRequest(p.flowId);
      if (!r) return;
      return { events: [event(r.assignment, { type: 'prolong', request: p.flowId, expiresAt: p.expiresAt })] };
    },
    async extend(p: { flowId: string; generation: number }, ctx) {
      const a = await current(p.flowId, p.generation, 'present');
      const want = a && wantedEnd(a);
      // Stale (revoked, re-granted) or already ending when it should: nothing to do.
      if (!a || want === undefined || a.endsAt === undefined || want === a.endsAt) return;
      // Later (a holder needs it longer) or earlier (the holder with the latest end let go early).
      const longer = want > a.endsAt;
      const reached = (end: number | undefined) =>
        longer ? end === undefined || end >= want : end !== undefined && end <= want + 1_000;
      const done = (e: Omit<Extract<AssignmentEvent, { type: 'extend_done' }>, 'type' | 'generation'>) => ({
        events: [event(p.flowId, { type: 'extend_done', generation: p.generation, ...e })],
      });
      const provider = deps.providers.get(a.integration, a.system);
      try {
        // Read first: a retry after a lost answer, or an assignment that ended before we got here.
        const before = await provider.read(a.target);
        if (!before) return done({ gone: true });
        if (reached(before.endsAt)) return done({ endsAt: before.endsAt });
        if (!provider.extend) throw new PermanentError(`provider ${provider.type} cannot extend an assignment`);
        const op = await provider.extend({
          ...a.target,
          key: `${p.flowId}:${p.generation}:${want}`,
          ref: a.ref,
          endsAt: want,
          firstAttempt: ctx.job.attempts <= 1,
          justification: a.cause?.justification ?? '',
          ticketNumber: a.cause?.ticketNumber,
          requestId: a.cause?.request ?? '',
        });
        if (op.state === 'pending')
          throw new RetryableError(`extend ${op.operation} still in progress`, op.pollAfterMs);
        if (op.state === 'failed') throw op.retryable ? new RetryableError(op.reason) : new PermanentError(op.reason);
        const after = await provider.read(a.target);
        if (!after) return done({ gone: true });
        if (!reached(after.endsAt))
          throw new RetryableError(
            `the provider accepted the new end but still ends it at ${after.endsAt === undefined ? 'never' : new Date(after.endsAt).toISOString()}`,
          );
        return done({ endsAt: after.endsAt });
      } catch (e) {
        if (!isFinal(e, ctx)) throw e;
        return { events: [event(p.flowId, { type: 'extend_failed', generation: p.generation, error: describe(e) })] };
      }
    },
    async expire(p: { flowId: string }) {
      return { events: [event(p.flowId, { type: 'expire' })] };
    },
    async grant(p: { flowId: string; generation: number }, ctx) {
      return write(p.flowId, p.generation, 'grant', ctx, (a) =>
        deps.providers.get(a.integration, a.system).grant({
          ...a.target,
          key: `${p.flowId}:${p.generation}`,
          // The latest holder's end: a provider that ends it by itself (PIM) must not end it for the others early.
          expiresAt: wantedEnd(a) || a.cause?.expiresAt || ctx.clock.now() + 3_600_000,
          justification: a.cause?.justification ?? '',
          ticketNumber: a.cause?.ticketNumber,
          requestId: a.cause?.request ?? '',
        }),
      );
    },
    async revoke(p: { flowId: string; generation: number }, ctx) {
      return write(p.flowId, p.generation, 'revoke', ctx, (a) =>
        deps.providers
          .get(a.integration, a.system)
          .revoke({ ...a.target, key: `${p.flowId}:${p.generation}`, ref: a.ref, grantKey: a.grantKey }),
      );
    },
    async poll(p: { flowId: string; generation: number; write: 'grant' | 'revoke'; operation: string }, ctx) {
      return write(p.flowId, p.generation, p.write, ctx, async (a) => {
        const op = await deps.providers.get(a.integration, a.system).status(p.operation);
        if (op.state === 'pending')
          throw new RetryableError(`operation ${p.operation} still in progress`, op.pollAfterMs);
        return op;
      });
    },
  };
}
