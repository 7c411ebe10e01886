import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { DocStore } from '../shared/persist.ts';
import type { OffsetClock } from '../shared/clock.ts';
import type { Faults } from '../shared/faults.ts';
import type { Entra } from './entra.ts';
import { ARM_RESOURCE, EM_APP_ID, EM_SP_OBJECT_ID } from './constants.ts';
import {
  ADD_PIPELINE,
  C,
  REMOVE_PIPELINE,
  type AccessPackage,
  type Assignment,
  type AssignmentRequest,
  type CalloutRecord,
  type Extension,
  type Phase,
  type Policy,
  type RequestStage,
} from './em-model.ts';
import { parseDuration } from './graph-http.ts';
import { assignmentEndsAt, dueAssignments, expireAssignment, notifyRequester } from './em-lifecycle.ts';
import { calloutPayload } from './em-payload.ts';

/**
 * The entitlement-management request pipeline: each request walks its stages; a stage with a
 * custom extension POSTs the callout and waits (launch-and-wait) for a resume or its timeout.
 *
 *   add:    created → approval? → approved → deliver (assignment) → granted → delivered
 *   remove: remove (assignment goes) → removed → delivered
 *
 * An assignment whose schedule ends (sandbox clock) starts a systemRemove request (em-lifecycle.ts);
 * every request that ends notifies its target user.
 */

const STAGE_OF: Partial<Record<Phase, RequestStage>> = {
  created: 'assignmentRequestCreated',
  approved: 'assignmentRequestApproved',
  granted: 'assignmentRequestGranted',
  removed: 'assignmentRequestRemoved',
};

/** Request status strings (Graph's `status` is free text). */
export const STATUS = {
  accepted: 'Accepted',
  waiting: 'WaitingForCallback',
  pendingApproval: 'PendingApproval',
  delivering: 'Delivering',
  delivered: 'Delivered',
  expired: 'ProcessExpired',
  calloutFailed: 'CustomExtensionCalloutFailed',
  denied: 'Denied',
  canceled: 'Canceled',
};

export function extensionTarget(ext: Extension): string | undefined {
  const e = ext.endpointConfiguration as { url?: string; targetUrl?: string };
  return e.url ?? e.targetUrl;
}

export class EmEngine {
  private readonly deadlines = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private readonly agent: Agent;
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly aborter = new AbortController();

  constructor(
    private readonly store: DocStore,
    private readonly entra: Entra,
    private readonly clock: OffsetClock,
    private readonly faults: Faults,
    sandboxCa: string,
  ) {
    // Our callout target may be plain HTTP, public HTTPS, or HTTPS under the sandbox CA.
    this.agent = new Agent({ connect: { ca: [...rootCertificates, sandboxCa] } });
    for (const r of store.iterate<AssignmentRequest>(C.requests)) {
      if (r._wait?.deadline) this.deadlines.set(r.id, r._wait.deadline);
      // A request caught mid-step by a restart continues where it was.
      else if (!r._wait && !r.completedDateTime) this.schedule(r.id);
    }
    this.timer = setInterval(() => {
      this.expireAssignments();
      this.checkTimeouts();
    }, 1000);
    this.timer.unref();
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  /** Continue a request's pipeline on the next tick (after the HTTP answer went out). */
  schedule(requestId: string): void {
    if (this.closed) return;
    setImmediate(
      () => void this.track(this.advance(requestId)).catch((e) => console.error('[microsoft sandbox] pipeline', e)),
    );
  }

  private async advance(requestId: string): Promise<void> {
    if (this.closed) return;
    const r = this.store.get<AssignmentRequest>(C.requests, requestId);
    if (!r || r._wait || r.completedDateTime) return;
    const pipeline = r.requestType.endsWith('Remove') ? REMOVE_PIPELINE : ADD_PIPELINE;
    const policy = this.store.get<Policy>(C.policies, r._policyId);
    for (let i = pipeline.indexOf(r._phase); i < pipeline.length; i++) {
      const phase = pipeline[i];
      r._phase = phase;
      if (phase === 'approval') {
        if (r.requestType === 'userAdd' && policy?.requestApprovalSettings?.isApprovalRequiredForAdd) {
          Object.assign(r, { state: 'pendingApproval', status: STATUS.pendingApproval, _wait: { phase } });
          this.store.put(C.requests, r.id, r);
          return; // an approver answers through the admin endpoint
        }
        continue;
      }
      if (phase === 'deliver') {
        r.state = 'delivering';
        r.status = STATUS.delivering;
        const requested = (r.schedule ?? {}) as { startDateTime?: string };
        // A duration counts from the requested start (or from delivery).
        const startMs = Date.parse(requested.startDateTime ?? '') || this.clock.now();
        const endsAt = assignmentEndsAt(r.schedule, policy?.expiration, startMs);
        this.store.put<Assignment>(C.assignments, r._assignmentId, {
          id: r._assignmentId,
          state: 'delivering',
          status: 'Delivering',
          expiredDateTime: null,
          schedule: {
            startDateTime: requested.startDateTime ?? this.now(),
            expiration:
              endsAt === undefined
                ? { type: 'noExpiration', endDateTime: null, duration: null }
                : { type: 'afterDateTime', endDateTime: new Date(endsAt).toISOString(), duration: null },
          },
          ...(endsAt === undefined ? {} : { _endsAt: endsAt }),
          _accessPackageId: r._accessPackageId,
          _policyId: r._policyId,
          _targetId: r._targetId,
          _catalogId: this.store.get<AccessPackage>(C.packages, r._accessPackageId)?._catalogId ?? '',
        });
        continue;
      }
      if (phase === 'granted') this.setAssignment(r._assignmentId, 'delivered', 'Delivered');
      if (phase === 'remove') {
        r.state = 'delivering';
        r.status = STATUS.delivering;
        this.store.delete(C.assignments, r._assignmentId);
        continue;
      }
      if (phase === 'done') {
        Object.assign(r, {
          state: 'delivered',
          status: STATUS.delivered,
          completedDateTime: this.now(),
          _wait: undefined,
        });
        this.store.put(C.requests, r.id, r);
        notifyRequester(this.store, r, this.now());
        return;
      }
      const stage = STAGE_OF[phase]!;
      const setting = policy?.customExtensionStageSettings.find((s) => s.stage.toLowerCase() === stage.toLowerCase());
      const ext = setting && this.store.get<Extension>(C.extensions, setting.customExtension.id);
      if (!ext) continue; // a stage without an extension just proceeds
      await this.launchAndWait(r, phase, stage, ext);
      return;
    }
  }

  private setAssignment(id: string, state: string, status: string): void {
    const a = this.store.get<Assignment>(C.assignments, id);
    if (a) this.store.put(C.assignments, id, { ...a, state, status });
  }

  /** Record the wait first (a fast endpoint may resume before answering), then send the callout. */
  private async launchAndWait(r: AssignmentRequest, phase: Phase, stage: RequestStage, ext: Extension): Promise<void> {
    const instanceId = randomUUID();
    const timeoutMs = parseDuration(ext.callbackConfiguration?.timeoutDuration) ?? 14 * 86_400_000;
    const deadline = this.clock.now() + timeoutMs;
    r.status = STATUS.waiting;
    r._wait = { phase, stage, instanceId, extensionId: ext.id, deadline };
    r.customExtensionCalloutInstances.push({
      id: instanceId,
      customExtensionId: ext.id,
      detail: null,
      externalCorrelationId: null,
      status: 'waitingForCallback',
    });
    this.store.put(C.requests, r.id, r);
    this.deadlines.set(r.id, deadline);
    const outcome = await this.sendCallout(
      ext,
      calloutPayload(this.store, r, stage, instanceId, ext),
      r.id,
      stage,
      instanceId,
    );
    if (outcome !== 'failed' || this.closed) return; // cut short by shutdown: stays waiting
    // The endpoint refused it for good: the stage fails (unless it was resumed meanwhile).
    const now = this.store.get<AssignmentRequest>(C.requests, r.id);
    if (!now || now._wait?.instanceId !== instanceId) return;
    this.fail(now, instanceId, 'calloutFailed', STATUS.calloutFailed);
  }

  private fail(
    r: AssignmentRequest,
    instanceId: string,
    calloutStatus: 'calloutFailed' | 'callbackTimedOut',
    status: string,
  ): void {
    const inst = r.customExtensionCalloutInstances.find((c) => c.id === instanceId);
    if (inst) inst.status = calloutStatus;
    Object.assign(r, {
      state: 'deliveryFailed',
      status,
      completedDateTime: this.now(),
      _wait: undefined,
      _phase: 'done',
    });
    if (r.requestType.endsWith('Add')) this.setAssignment(r._assignmentId, 'deliveryFailed', 'DeliveryFailed');
    this.store.put(C.requests, r.id, r);
    this.deadlines.delete(r.id);
    notifyRequester(this.store, r, this.now());
  }

  /** The connectivity test Entra sends when an extension is created. */
  connectionTest(ext: Extension): void {
    const instanceId = randomUUID();
    const payload = {
      Stage: 'CustomExtensionConnectionTest',
      CustomExtensionStageInstanceId: instanceId,
      CallbackConfiguration: { DurationBeforeTimeout: ext.callbackConfiguration?.timeoutDuration ?? null },
    };
    if (!this.closed)
      void this.track(this.sendCallout(ext, payload, null, 'CustomExtensionConnectionTest', instanceId));
  }

  /**
   * POST a callout with an Entra-issued bearer (appid = the EM first-party app, aud = the
   * extension's resourceId, v1 issuer). Retries 5xx/network failures per clientConfiguration.
   */
  private async sendCallout(
    ext: Extension,
    payload: Record<string, unknown>,
    requestId: string | null,
    stage: string,
    instanceId: string,
  ) {
    const url = extensionTarget(ext)!;
    const rec: CalloutRecord = {
      id: randomUUID(),
      sentAt: this.now(),
      url,
      stage,
      requestId,
      extensionId: ext.id,
      customExtensionStageInstanceId: instanceId,
      outcome: 'dropped',
      attempts: 0,
      lastStatus: 0,
      payload,
    };
    if (!this.faults.deliverWebhook()) {
      this.store.put(C.callouts, rec.id, rec);
      return rec.outcome;
    }
    const auth = ext.authenticationConfiguration as { resourceId?: string } | null;
    const token = await this.entra.issueToken({
      clientId: EM_APP_ID,
      audience: auth?.resourceId ?? ARM_RESOURCE, // PoP is not modelled: a bearer for ARM stands in for it
      version: 1,
      oid: EM_SP_OBJECT_ID,
      acr: '2',
    });
    const maxRetries = Math.min(Math.max(ext.clientConfiguration?.maximumRetries ?? 1, 0), 5);
    const timeoutMs = ext.clientConfiguration?.timeoutInMilliseconds || 10_000;
    rec.outcome = 'failed';
    for (let attempt = 0; attempt <= maxRetries && !this.closed; attempt++) {
      rec.attempts++;
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: this.agent,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'user-agent': 'Azure-Identity-Governance-EntitlementManagement',
          },
          body: JSON.stringify(payload),
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.aborter.signal]),
        });
        await res.body.dump();
        rec.lastStatus = res.statusCode;
        if (res.statusCode < 300) {
          rec.outcome = 'delivered';
          break;
        }
        if (res.statusCode < 500 && res.statusCode !== 429) break; // the endpoint refused it: no retry
      } catch {
        rec.lastStatus = 0;
      }
      if (attempt < maxRetries) await this.pause(250 * 2 ** attempt);
    }
    this.store.put(C.callouts, rec.id, rec);
    return rec.outcome;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.aborter.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  /** Expire every assignment whose schedule has ended on the sandbox clock, and start its removal. */
  expireAssignments(): void {
    if (this.closed) return;
    for (const a of dueAssignments(this.store, this.clock.now())) {
      const r = expireAssignment(this.store, a.id, this.now());
      if (r) this.schedule(r.id);
    }
  }

  /** Fail every stage whose callback deadline has passed on the sandbox clock. */
  checkTimeouts(): void {
    const now = this.clock.now();
    for (const [id, deadline] of this.deadlines) {
      if (deadline > now) continue;
      this.deadlines.delete(id);
      const r = this.store.get<AssignmentRequest>(C.requests, id);
      if (r?._wait?.instanceId && r._wait.deadline && r._wait.deadline <= now)
        this.fail(r, r._wait.instanceId, 'callbackTimedOut', STATUS.expired);
    }
  }

  /** A resume was accepted: close the stage instance and continue (or end on deny/cancel). */
  completeStage(r: AssignmentRequest, detail: string | null, state?: 'denied' | 'canceled'): void {
    const inst = r.customExtensionCalloutInstances.find((c) => c.id === r._wait?.instanceId);
    if (inst) Object.assign(inst, { status: 'callbackReceived', detail });
    this.deadlines.delete(r.id);
    const phase = r._wait!.phase;
    r._wait = undefined;
    if (state) {
      Object.assign(r, {
        state,
        status: state === 'denied' ? STATUS.denied : STATUS.canceled,
        completedDateTime: this.now(),
        _phase: 'done',
      });
      this.store.put(C.requests, r.id, r);
      notifyRequester(this.store, r, this.now());
      return;
    }
    const pipeline = r.requestType.endsWith('Remove') ? REMOVE_PIPELINE : ADD_PIPELINE;
    r._phase = pipeline[pipeline.indexOf(phase) + 1];
    this.store.put(C.requests, r.id, r);
    this.schedule(r.id);
  }

  /** An approver's decision (sandbox admin endpoint). */
  decide(r: AssignmentRequest, approve: boolean): void {
    r._wait = undefined;
    if (!approve) {
      Object.assign(r, { state: 'denied', status: STATUS.denied, completedDateTime: this.now(), _phase: 'done' });
      this.store.put(C.requests, r.id, r);
      notifyRequester(this.store, r, this.now());
      return;
    }
    r._phase = 'approved';
    this.store.put(C.requests, r.id, r);
    this.schedule(r.id);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.aborter.abort();
    await Promise.allSettled([...this.inflight]);
    await this.agent.close();
  }
}
