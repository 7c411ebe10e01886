import type { Ticketloop } from '../../../app/build.ts';
import type { JobHandler } from '../../../engine/engine.ts';
import { PermanentError } from '../../../engine/errors.ts';
import type { TicketRef } from '../../../itsm/port.ts';
import type { M365Integration } from '../config.ts';
import { runFeedPass } from './pass.ts';
import { MatchStore } from './store.ts';

/**
 * The feed's jobs: a pass (scheduled), and per new suggestion one work note and, when the issue has
 * a parent incident, the parent link. Each is recorded on its match row once done, so a retry after
 * a lost answer, a second pass or a restart never writes it twice; a suggestion rejected (or out of
 * the top 3) before its note was written is not written.
 */
export function feedEffects(
  app: Ticketloop,
  integration: (name: string) => M365Integration | undefined,
): Record<string, JobHandler> {
  const store = new MatchStore(app.store.db);
  const now = () => app.clock.now();
  const pending = async (
    p: { integration: string; incident: TicketRef; issue: string },
    done: 'noted_at' | 'linked_at',
  ) => {
    const i = integration(p.integration);
    if (!i) return undefined;
    const row = await store.match(i.name, p.incident.id, p.issue);
    // Rejected, or no longer among the incident's top matches (a later pass notes it if it comes back).
    if (!row || row[done] !== null || row.status === 'rejected' || row.rank === null) return undefined;
    return i;
  };

  return {
    async 'match-feed'(p: { integration: string }) {
      const i = integration(p.integration);
      if (!i?.feed.enabled) return;
      const r = await runFeedPass(app, i);
      if (r.notes > 0) app.log.info({ integration: i.name, ...r }, 'incidents matched to service health');
    },

    async 'match-note'(p: { integration: string; incident: TicketRef; issue: string; text: string }) {
      const i = await pending(p, 'noted_at');
      if (!i) return;
      await app.connections.itsm(i.itsm).addWorkNote(p.incident, p.text);
      await store.markDone(i.name, p.incident.id, p.issue, 'noted_at', now());
    },

    async 'match-link'(p: { integration: string; incident: TicketRef; issue: string; parent: TicketRef }) {
      const i = await pending(p, 'linked_at');
      if (!i) return;
      const feed = app.connections.itsm(i.itsm).incidentFeed;
      if (!feed) throw new PermanentError(`${i.itsm}: this ITSM has no parent incidents`);
      await feed.linkToParent(p.incident, p.parent);
      await store.markDone(i.name, p.incident.id, p.issue, 'linked_at', now());
    },
  };
}
