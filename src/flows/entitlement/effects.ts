import type { Ticketloop } from '../../app/build.ts';
import type { JobHandler, JobResult } from '../../engine/engine.ts';
import { PermanentError } from '../../engine/errors.ts';
import type { TicketRef } from '../../itsm/port.ts';
import { correlationKey } from '../../itsm/watch.ts';
import type { EntitlementIntegration } from './config.ts';
import { FLOW, type EntitlementEvent } from './flow.ts';
import { buildResumeBody, EntitlementGraph, ResumeNotWaiting, type AccessPackageStage } from './graph-em.ts';

/**
 * The flow's effects, run by the engine as jobs (the engine's retry policy decides what is tried
 * again). Each returns the event it produced; the engine applies it in the transaction that marks
 * the job done, so a crash in between re-runs the job — which is why opening a ticket looks up the
 * correlation first, and why a resume that Graph says is no longer waiting ends the item.
 */

const ev = (id: string, event: EntitlementEvent): JobResult => ({ events: [{ flow: FLOW, id, event }] });

interface ExpirePayload {
  flowId: string;
  integration: string;
  table: string;
  onTimeout: 'annotate' | 'resolve';
  deadline: number;
  requestId?: string;
  stage: string;
  ticket?: TicketRef;
}

export function createEffects(
  app: Ticketloop,
  integrations: () => EntitlementIntegration[],
): Record<string, JobHandler> {
  const integration = (name: string) => {
    const i = integrations().find((x) => x.name === name);
    if (!i) throw new PermanentError(`entitlement integration "${name}" is no longer configured`);
    return i;
  };
  const itsm = (name: string) => app.connections.itsm(integration(name).itsm);

  return {
    async 'open-ticket'(p: {
      flowId: string;
      integration: string;
      table: string;
      fields: Record<string, string>;
      correlationDisplay: string;
    }) {
      const { ticket, created } = await itsm(p.integration).openTicket({
        kind: p.table,
        correlation: correlationKey(FLOW, p.flowId),
        origin: p.correlationDisplay,
        fields: p.fields,
      });
      return ev(p.flowId, { type: 'ticket_opened', ticket: ticket.ref, created });
    },

    async resume(p: {
      flowId: string;
      integration: string;
      requestId: string;
      stage: AccessPackageStage;
      callbackUriPath?: string;
      source: string;
      detail: string;
      state?: 'denied';
    }) {
      const body = buildResumeBody({
        stage: p.stage,
        customExtensionStageInstanceId: p.flowId,
        detail: p.detail,
        source: p.source,
        ...(p.state ? { state: p.state } : {}),
      });
      try {
        await new EntitlementGraph(app.connections.microsoft().graph).resumeAssignmentRequest(p.requestId, body, {
          callbackUriPath: p.callbackUriPath,
        });
      } catch (e) {
        // Already resumed, timed out, denied or gone: retrying cannot help — end the item, say why.
        if (e instanceof ResumeNotWaiting) return ev(p.flowId, { type: 'resume_refused', reason: e.message });
        throw e;
      }
      return ev(p.flowId, { type: 'resumed' });
    },

    /** Our ticket as it is now, after changes were seen before we knew which record was ours. */
    async 'refresh-ticket'(p: { flowId: string; integration: string; ticket: TicketRef }) {
      const t = await itsm(p.integration).getTicket(p.ticket);
      return t ? ev(p.flowId, { type: 'ticket_changed', ticket: t, source: 'reconcile' }) : {};
    },

    /** The durable timer: fires at the extension's timeout; the flow decides whether it matters. */
    async timeout(p: { flowId: string }) {
      return ev(p.flowId, { type: 'timeout' });
    },

    async 'expire-ticket'(p: ExpirePayload) {
      const port = itsm(p.integration);
      const t = p.ticket
        ? await port.getTicket(p.ticket)
        : await port.findByCorrelation(p.table, correlationKey(FLOW, p.flowId));
      if (!t) return {}; // never opened (or deleted): nothing to annotate
      const when = new Date(p.deadline).toISOString();
      const note = [
        `Entra stopped waiting for this ticket at ${when}: the access package's custom extension timed out (stage ${p.stage}, request ${p.requestId ?? '-'}).`,
        'The requester sees "Process expired". Closing this ticket will no longer continue the request in Entra; a new request is needed.',
      ].join('\n');
      await port.addWorkNote(t.ref, note);
      if (p.onTimeout === 'resolve' && t.status === 'open') {
        await port.resolveTicket(t.ref, {
          notes: `Resolved by Ticketloop: the Entra request expired at ${when} before this ticket was closed.`,
        });
      }
      return {};
    },
  };
}
