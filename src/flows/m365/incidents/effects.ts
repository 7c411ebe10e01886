import type { Ticketloop } from '../../../app/build.ts';
import type { JobHandler, JobResult } from '../../../engine/engine.ts';
import { PermanentError } from '../../../engine/errors.ts';
import type { TicketRef } from '../../../itsm/port.ts';
import { correlationKey } from '../../../itsm/watch.ts';
import type { M365Integration } from '../config.ts';
import { FLOW, type HealthIncidentEvent } from '../flow.ts';
import { HealthStore } from '../health/store.ts';
import { incidentDescription, incidentTitle, postNote, resolutionNote, resolvedButLeftNote } from './text.ts';

/**
 * The effects of the health-issue incidents (flow.ts), run by the engine as jobs. Each reads the
 * ticket as it is now before writing, and hands what it saw back to the flow, which decides whether a
 * person has taken it over: a resolve never lands on a ticket someone else changed since Ticketloop's
 * last write. Opening looks the correlation key up first, so a retried open never makes a second one.
 * Only a crash between the ITSM accepting a work note and the job being marked done repeats a note.
 */

const ev = (id: string, ...events: HealthIncidentEvent[]): JobResult => ({
  events: events.map((event) => ({ flow: FLOW, id, event })),
});

interface Base {
  flowId: string;
  integration: string;
  issueId: string;
}

export function incidentEffects(
  app: Ticketloop,
  integrationNamed: (name: string) => M365Integration | undefined,
): Record<string, JobHandler> {
  const setup = async (p: Base) => {
    const i = integrationNamed(p.integration);
    if (!i) throw new PermanentError(`m365 integration "${p.integration}" is no longer configured`);
    const stored = await new HealthStore(app.store.db).issue(i.name, p.issueId);
    if (!stored) throw new PermanentError(`health issue ${p.issueId} is not in the store of "${i.name}"`);
    return { i, port: app.connections.itsm(i.itsm), stored };
  };

  return {
    async 'incident-open'(p: Base & { kind: string }) {
      const { i, port, stored } = await setup(p);
      const fields: Record<string, string> = { ...i.incidents.fields };
      if (i.incidents.assignmentGroup) fields.assignment_group = i.incidents.assignmentGroup;
      const { issue, summary } = stored;
      const { ticket, created } = await port.openTicket({
        kind: p.kind,
        correlation: correlationKey(FLOW, p.flowId),
        origin: `Microsoft 365 service health ${issue.id}`,
        title: incidentTitle(issue),
        description: incidentDescription(issue, summary),
        fields,
      });
      const describedThrough = issue.posts[issue.posts.length - 1]?.createdDateTime;
      return ev(p.flowId, { type: 'ticket_opened', ticket, created, describedThrough });
    },

    /** One post's work note (`post`), or the note that Microsoft resolved an issue whose ticket Ticketloop leaves alone. */
    async 'incident-note'(p: Base & { ticket: TicketRef; post?: string; resolvedNote?: string }) {
      const { port, stored } = await setup(p);
      const now = await port.getTicket(p.ticket);
      const done = (written: boolean): HealthIncidentEvent[] =>
        p.post ? [{ type: 'note_written', post: p.post, written }] : [];
      if (!now) return ev(p.flowId, { type: 'ticket_deleted', ref: p.ticket, source: 'reconcile' }, ...done(false));
      const seen: HealthIncidentEvent = { type: 'ticket_changed', ticket: now, source: 'reconcile' };
      // A closed ticket takes no more notes (Microsoft's app stopped posting there too).
      if (now.status === 'closed' || now.status === 'canceled') return ev(p.flowId, seen, ...done(false));
      const post = p.post ? stored.issue.posts.find((x) => x.createdDateTime === p.post) : undefined;
      const text = post
        ? postNote(stored.issue, post)
        : p.resolvedNote
          ? resolvedButLeftNote(stored.issue, p.resolvedNote)
          : undefined;
      if (text) await port.addWorkNote(now.ref, text);
      return ev(p.flowId, seen, ...done(!!text));
    },

    async 'incident-resolve'(p: Base & { ticket: TicketRef; account?: string }) {
      const { i, port, stored } = await setup(p);
      const now = await port.getTicket(p.ticket);
      if (!now) return ev(p.flowId, { type: 'resolve_refused' });
      const touched = !!(p.account && now.updatedBy && now.updatedBy !== p.account);
      if (now.status !== 'open' || touched) return ev(p.flowId, { type: 'resolve_refused', ticket: now });
      const resolved = await port.resolveTicket(now.ref, {
        notes: resolutionNote(stored.issue, stored.summary),
        ...(i.incidents.closeCode ? { code: i.incidents.closeCode } : {}),
      });
      return ev(p.flowId, { type: 'ticket_resolved', ticket: resolved });
    },
  };
}
