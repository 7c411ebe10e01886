import type { Ticketloop } from '../../app/build.ts';
import type { JobContext, JobHandler, JobResult } from '../../engine/engine.ts';
import { HttpError, PermanentError, RetryableError } from '../../engine/errors.ts';
import type { JobSpec } from '../../engine/jobs.ts';
import {
  sameTicket,
  type AccessRequestPort,
  type ApprovalDecision,
  type IncomingAccessRequest,
} from '../../itsm/port.ts';
import { correlationKey } from '../../itsm/watch.ts';
import { approverGroupsOf, MAX_PERSONAL_GROUP_APPROVERS } from './approver-groups.ts';
import type { PodIntegration } from './config.ts';
import { ItsmNotes } from './itsm-notes.ts';
import { FLOW, requestItem } from './flow.ts';
import { emailOf, formField, noteFor, phaseOf, toRequestInput, type FrontConfig } from './itsm-front-map.ts';
import { RequestRefused } from './policy.ts';
import { whyNotDecide, type Approval, type RequestState } from './request.ts';
import { ActionRefused, type PodService } from './service.ts';

/**
 * Permissions on demand from the ITSM: a person fills in the integration's catalog item there, and
 * `pod.itsm-intake` (a schedule per integration with `itsmFront`) reads new requests and decided
 * approvals since its watermarks, as jobs: `itsm-submit` submits one request (its ITSM record id is
 * the idempotency key, so it is submitted once however often it is read) or closes it with the
 * refusal; `itsm-decision` counts an approval given in the ITSM (`via: 'servicenow'`). Every state
 * change of a request that came from the ITSM is mirrored back by `itsm-sync`, enqueued beside each
 * notice of the flow (`notify` effect): approvals asked for, decided here, or no longer required,
 * and the request's phase with a note. Each sync writes what the request's state is *now*, so sync
 * jobs that run out of order still leave the ITSM right; the note is last and named (itsm-notes.ts),
 * so a retry does not repeat it.
 */

/** What Ticketloop writes as the ITSM request's correlation: the request item of this flow. */
export const frontCorrelation = (id: string) => correlationKey(FLOW, requestItem(id));
const CORRELATION_PREFIX = frontCorrelation('x').slice(0, -1);

export interface FrontDeps {
  app: Ticketloop;
  service(): PodService;
  integrations(): PodIntegration[];
}

type FrontIntegration = PodIntegration & { itsmFront: FrontConfig };

/** At most this many pages of new requests (and of decisions) per intake run; the next run goes on. */
const PAGES_PER_RUN = 10;

/** Failures retrying cannot fix (a name the provider does not know): the request is closed with the reason. */
function refusal(e: unknown): string | undefined {
  if (e instanceof PermanentError || (e instanceof HttpError && !e.retryable)) return e.message;
  return undefined;
}

export function itsmFrontHandlers(d: FrontDeps): Record<string, JobHandler> {
  const { app } = d;
  const db = app.store.db;
  const fronted = (name: string) =>
    d.integrations().find((i): i is FrontIntegration => i.name === name && !!i.itsmFront);
  const portOf = (i: PodIntegration): AccessRequestPort => {
    const port = app.connections.itsm(i.itsm).accessRequests;
    if (!port) throw new PermanentError(`the ITSM connection "${i.itsm}" does not take access requests`);
    return port;
  };
  const consoleUrl = (i: PodIntegration) => i.consoleUrl ?? app.config.server.publicUrl;
  const notes = new ItsmNotes(db, () => app.clock.now());
  // One ITSM write sequence per request at a time: two syncs racing would write the same approval
  // twice, or an older phase over a newer one.
  const locks = new Map<string, Promise<unknown>>();
  async function serially<T>(id: string, work: () => Promise<T>): Promise<T> {
    const run = (locks.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    locks.set(id, run);
    try {
      return await run;
    } finally {
      if (locks.get(id) === run) locks.delete(id);
    }
  }

  async function readMark(system: string, kind: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('itsm_watermark')
      .select('watermark')
      .where('system', '=', system)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row?.watermark;
  }
  async function writeMark(system: string, kind: string, watermark: string): Promise<void> {
    const now = app.clock.now();
    await db
      .insertInto('itsm_watermark')
      .values({ system, kind, watermark, updated_at: now })
      .onConflict((oc) => oc.columns(['system', 'kind']).doUpdateSet({ watermark, updated_at: now }))
      .execute();
  }

  /** The Ticketloop user name for an ITSM person's e-mail (exact user names are matched case-insensitively). */
  async function requesterOf(email: string): Promise<string> {
    const user = (await app.identity.users.list()).find((u) => u.name.toLowerCase() === email);
    return `user:${user?.name ?? email}`;
  }

  return {
    /** Read new requests and decided approvals; one job each. */
    async 'itsm-intake'(p: { integration: string }): Promise<JobResult | void> {
      const i = fronted(p.integration);
      if (!i) return;
      const port = portOf(i);
      const jobs: JobSpec[] = [];
      const intakeKind = `pod-intake:${i.name}`;
      let mark = await readMark(i.itsm, intakeKind);
      for (let n = 0; n < PAGES_PER_RUN; n++) {
        const page = await port.pollNew(i.itsmFront.catalogItem, mark, {
          directoryIdAttribute: i.itsmFront.directoryIdAttribute,
        });
        for (const request of page.requests)
          jobs.push({
            kind: `${FLOW}.itsm-submit`,
            key: `pod-front:submit:${i.itsm}:${request.ref.kind}:${request.ref.id}`,
            payload: { integration: i.name, request },
            priority: 'urgent',
          });
        await writeMark(i.itsm, intakeKind, (mark = page.watermark));
        if (!page.more) break;
      }
      const decisionKind = `pod-decisions:${i.name}`;
      mark = await readMark(i.itsm, decisionKind);
      for (let n = 0; n < PAGES_PER_RUN; n++) {
        const page = await port.pollDecisions(CORRELATION_PREFIX, mark);
        for (const decision of page.decisions)
          jobs.push({
            kind: `${FLOW}.itsm-decision`,
            key: `pod-front:decision:${i.itsm}:${decision.id}:${decision.version}`,
            payload: { integration: i.name, decision },
            priority: 'urgent',
          });
        await writeMark(i.itsm, decisionKind, (mark = page.watermark));
        if (!page.more) break;
      }
      return { jobs };
    },

    /** Submit one ITSM request, or close it with the reason it cannot be (never left waiting). */
    async 'itsm-submit'(p: { integration: string; request: IncomingAccessRequest }) {
      const i = fronted(p.integration);
      if (!i) return;
      const r = p.request;
      let reason: string;
      try {
        if (!r.requestedFor.email) throw new RequestRefused('requested_for', 'the person has no e-mail address');
        const input = toRequestInput(i.itsmFront, r);
        if (!i.systems.some((s) => s.name === input.system))
          throw new RequestRefused('system', `integration "${i.name}" has no authorization system "${input.system}"`);
        const requester = await requesterOf(r.requestedFor.email);
        await d.service().submit(input, requester, { idempotencyKey: r.ref.id, ticket: r.ref, via: 'servicenow' });
        return;
      } catch (e) {
        if (e instanceof RequestRefused) reason = `${formField(i.itsmFront, e.path)}: ${e.reason}`;
        else {
          const why = refusal(e);
          if (why === undefined) throw e;
          reason = why;
        }
      }
      app.log.info({ integration: i.name, ticket: r.ref.key, reason }, 'pod: ITSM request refused');
      await notes.write(portOf(i), r.ref, 'refused', {
        phase: 'incomplete',
        note: `Ticketloop cannot take this request: ${reason}\nPlease ask again with that corrected.`,
      });
    },

    /** An approval decided in the ITSM counts here, if it is about the request's own ITSM record. */
    async 'itsm-decision'(p: { integration: string; decision: ApprovalDecision }) {
      const i = fronted(p.integration);
      const dcs = p.decision;
      if (!i || !dcs.correlation.startsWith(CORRELATION_PREFIX)) return;
      const id = dcs.correlation.slice(CORRELATION_PREFIX.length);
      await serially(id, async () => {
        const s = await d.service().load(id);
        // A correlation key is a claim anyone editing the record can make: only the recorded record counts.
        if (!s?.ticket || !sameTicket(s.ticket, dcs.request)) return;
        const named = s.policy.approvers.find((a) => emailOf(a) === dcs.approverEmail);
        const actor = named ?? `user:${dcs.approverEmail}`;
        // An approver group's member: their Entra account by e-mail; membership is checked as they decide.
        const entraId =
          !named && s.policy.approverGroups?.length
            ? await approverGroupsOf(app).userIdOf(dcs.approverEmail)
            : undefined;
        const decision = dcs.state === 'approved' ? 'approve' : 'reject';
        try {
          await d.service().decide(id, actor, decision, dcs.comment, 'servicenow', undefined, entraId);
        } catch (e) {
          if (!(e instanceof ActionRefused)) throw e;
          if (e.status === 409) {
            // Changed meanwhile (another decision landed first): decide again on the new state, if it still waits.
            // (A group member is not a named approver: still waiting and not decided by them is enough to retry.)
            const now = await d.service().load(id);
            const waits = entraId
              ? now?.status === 'submitted' && !now.approvals.some((a) => a.actor === actor)
              : now && !whyNotDecide(now, actor);
            if (waits) throw new RetryableError(e.message);
            return; // already decided (often: the mirror of a decision made here) is no news
          }
          await notes.write(portOf(i), s.ticket, `decision:${dcs.id}:${dcs.version}`, {
            note: `Ticketloop: the ${dcs.state} approval of ${dcs.approverEmail} does not count: ${e.message}`,
          });
        }
      });
    },

    /** Mirror the request's state to its ITSM record (approvals, phase, a note for this event). */
    async 'itsm-sync'(p: { flowId: string; event: string } & Record<string, unknown>, ctx: JobContext) {
      const id = p.flowId.slice(2);
      await serially(id, () => sync(id, p, `sync:${ctx.job.key}`));
    },
  };

  /** `noteName`: the note of this sync, written once however often the sync is retried. */
  async function sync(id: string, p: { event: string } & Record<string, unknown>, noteName: string): Promise<void> {
    const s = await d.service().load(id);
    const i = s && fronted(s.integration);
    if (!s?.ticket || !i || s.ticket.system !== i.itsm) return;
    const port = portOf(i);
    const ref = s.ticket;
    let left = 0;
    if (!s.policy.autoApproved) {
      for (const a of s.approvals) {
        const email = a.via === 'servicenow' ? undefined : await approverEmailOf(a);
        if (email) await port.decideApproval(ref, email, a.decision, a.comment);
      }
      if (s.status === 'submitted') {
        const decided = new Set(s.approvals.map((a) => a.actor));
        const pending = s.policy.approvers.filter((a) => !decided.has(a)).map(emailOf);
        const members = await groupApprovers(s);
        left = members.left;
        await port.requestApprovals(ref, [...pending.filter((e): e is string => !!e), ...members.emails]);
      } else await port.closeLeftoverApprovals(ref);
    }
    // The phase of the state as it is now (it may have moved on while the approvals were written).
    const current = (await d.service().load(id)) ?? s;
    const more = left ? `\n${left} more member(s) of the approver group(s) can approve in Ticketloop.` : '';
    await notes.write(port, ref, noteName, {
      ...phaseOf(current),
      correlation: frontCorrelation(id),
      note: noteFor(id, s, p, consoleUrl(i)) + (p.event === 'submitted' ? more : ''),
    });
  }

  /**
   * The e-mail the ITSM knows an approver by: for a group member (whose console name need not be an
   * e-mail), the mail of their Entra account among the group's members; otherwise their user name.
   */
  async function approverEmailOf(a: Approval): Promise<string | undefined> {
    if (a.group) {
      const oid = (await d.service().entraIdOf(a.actor))?.toLowerCase();
      const member = oid && (await approverGroupsOf(app).usersOf(a.group)).find((m) => m.id.toLowerCase() === oid);
      if (member && member.email) return member.email.toLowerCase();
    }
    return emailOf(a.actor);
  }

  /**
   * The e-mails of the approver groups' members to ask in the ITSM (not the requester, not one who
   * decided already), at most MAX_PERSONAL_GROUP_APPROVERS; `left`: how many more there are.
   */
  async function groupApprovers(s: RequestState): Promise<{ emails: string[]; left: number }> {
    if (!s.policy.approverGroups?.length) return { emails: [], left: 0 };
    const ag = approverGroupsOf(app);
    const members = (await Promise.all(s.policy.approverGroups.map((g) => ag.usersOf(g.id)))).flat();
    const skip = new Set([s.requester, ...s.approvals.map((a) => a.actor)].map((a) => emailOf(a) ?? a));
    const emails = [...new Set(members.flatMap((m) => (m.email ? [m.email.toLowerCase()] : [])))].filter(
      (e) => !skip.has(e),
    );
    return {
      emails: emails.slice(0, MAX_PERSONAL_GROUP_APPROVERS),
      left: Math.max(0, emails.length - MAX_PERSONAL_GROUP_APPROVERS),
    };
  }
}

/**
 * The flow's `notify` handler with the ITSM mirror beside it: a request that came from the ITSM gets
 * one `itsm-sync` job per notice, keyed by the notice (so each state change is written once).
 */
export function withItsmSync(
  notify: JobHandler,
  load: (item: string) => Promise<RequestState | undefined>,
  fronted: (integration: string) => boolean,
): JobHandler {
  return async (p: { flowId: string }, ctx: JobContext) => {
    const result = (await notify(p, ctx)) ?? {};
    const s = await load(p.flowId);
    if (!s?.ticket || !fronted(s.integration)) return result;
    const sync: JobSpec = { kind: `${FLOW}.itsm-sync`, key: `${ctx.job.key}:itsm`, payload: p, maxAttempts: 10 };
    return { ...result, jobs: [...(result.jobs ?? []), sync] };
  };
}
