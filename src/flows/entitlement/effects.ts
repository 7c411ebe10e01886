import type { Ticketloop } from '../../app/build.ts';
import { HttpError } from '../../connectors/http.ts';
import { buildResumeBody, ResumeNotWaiting, type AccessPackageStage } from '../../connectors/microsoft/graph.ts';
import type { JobHandler, JobResult } from '../../engine/engine.ts';
import { PermanentError } from '../../engine/errors.ts';
import type { TicketRef } from '../../itsm/port.ts';
import { correlationIdFor } from '../../itsm/watch.ts';
import type { EntitlementIntegration } from './config.ts';
import { FLOW, type EntitlementEvent } from './flow.ts';

/**
 * The flow's effects, run by the engine as jobs (retried with backoff; Retry-After honoured).
 * Each returns the event it produced; the engine applies it in the transaction that marks the job
 * done, so a crash in between re-runs the job — which is why opening a ticket looks up the
 * correlation id first, and why a resume that Graph says is no longer waiting ends the item.
 */

const ev = (id: string, event: EntitlementEvent): JobResult => ({ events: [{ flow: FLOW, id, event }] });

/** HttpErrors become the engine's retryable/permanent errors (with Retry-After); others pass. */
async function jobErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof HttpError ? e.toJobError() : e;
  }
}

export function createEffects(app: Ticketloop, integrations: () => EntitlementIntegration[]): Record<string, JobHandler> {
  const integration = (name: string) => {
    const i = integrations().find((x) => x.name === name);
    if (!i) throw new PermanentError(`entitlement integration "${name}" is no longer configured`);
    return i;
  };
  const itsm = (name: string) => app.connections.servicenow(integration(name).servicenow).itsm;

  return {
    async 'open-ticket'(p: { flowId: string; integration: string; table: string; fields: Record<string, string>; correlationDisplay: string }) {
      const { ticket, created } = await jobErrors(() =>
        itsm(p.integration).openTicket({ table: p.table, correlationId: correlationIdFor(FLOW, p.flowId), correlationDisplay: p.correlationDisplay, fields: p.fields }),
      );
      const ref: TicketRef = { system: ticket.system, table: ticket.table, sysId: ticket.sysId, number: ticket.number, link: ticket.link };
      return ev(p.flowId, { type: 'ticket_opened', ticket: ref, created });
    },

    async resume(p: { flowId: string; integration: string; requestId: string; stage: AccessPackageStage; callbackUriPath?: string; source: string; detail: string; state?: 'denied' }) {
      const body = buildResumeBody({ stage: p.stage, customExtensionStageInstanceId: p.flowId, detail: p.detail, source: p.source, ...(p.state ? { state: p.state } : {}) });
      try {
        await app.connections.microsoft().graph.resumeAssignmentRequest(p.requestId, body, { callbackUriPath: p.callbackUriPath });
      } catch (e) {
        // Already resumed, timed out, denied or gone: retrying cannot help — end the item, say why.
        if (e instanceof ResumeNotWaiting) return ev(p.flowId, { type: 'resume_refused', reason: e.message });
        throw e;
      }
      return ev(p.flowId, { type: 'resumed' });
    },

    /** The durable timer: fires at the extension's timeout; the flow decides whether it matters. */
    async timeout(p: { flowId: string }) {
      return ev(p.flowId, { type: 'timeout' });
    },

    async 'expire-ticket'(p: { flowId: string; integration: string; table: string; onTimeout: 'annotate' | 'resolve'; deadline: number; requestId?: string; stage: string; ticket?: TicketRef }) {
      const port = itsm(p.integration);
      const t = await jobErrors(() => (p.ticket ? port.getTicket(p.table, p.ticket.sysId) : port.findByCorrelationId(p.table, correlationIdFor(FLOW, p.flowId))));
      if (!t) return {}; // never opened (or deleted): nothing to annotate
      const when = new Date(p.deadline).toISOString();
      const note = [
        `Entra stopped waiting for this ticket at ${when}: the access package's custom extension timed out (stage ${p.stage}, request ${p.requestId ?? '-'}).`,
        'The requester sees "Process expired". Closing this ticket will no longer continue the request in Entra; a new request is needed.',
      ].join('\n');
      await jobErrors(() => port.addWorkNote(t, note));
      if (p.onTimeout === 'resolve' && t.status === 'open') {
        await jobErrors(() => port.resolveTicket(t, { notes: `Resolved by Ticketloop: the Entra request expired at ${when} before this ticket was closed.` }));
      }
      return {};
    },
  };
}
