import type { Ticketloop } from '../../app/build.ts';
import type { FlowModule } from '../../app/module.ts';
import { ServiceHealthClient } from '../../connectors/microsoft/service-health.ts';
import { parseDuration } from '../../config/duration.ts';
import { m365Checks } from './checks.ts';
import { m365Shape, type M365Integration } from './config.ts';
import { escalationEffects } from './escalation/effects.ts';
import { m365EscalationMigrations } from './escalation/store.ts';
import { FLOW, m365Flow } from './flow.ts';
import { feedEffects } from './feed/effects.ts';
import { m365MatchMigrations } from './feed/store.ts';
import { m365HealthMigrations } from './health/store.ts';
import { syncHealth } from './health/sync.ts';
import { incidentEffects } from './incidents/effects.ts';
import { applyChanged, catchUpIncidents } from './incidents/feed.ts';
import { learnOf } from './learn.ts';
import { registerM365Routes } from './routes.ts';
import { registerSetupRoutes } from './setup-routes.ts';
import { m365Setup } from './setup.ts';
import { m365SolutionNoteMigrations, solutionNoteEffects } from './solution-notes.ts';

/**
 * Microsoft 365 support: the tenant's service health read on a schedule and kept with its history
 * (health/), incidents matched to it with reasons (match/) — on request, and as the ITSM reports them
 * (feed/), with work notes and agents' verdicts — escalations (escalation/), and optionally one ITSM
 * incident per health issue (flow.ts, incidents/): the sync feeds the flow in its own write
 * transaction, and the watch reports people's changes to those incidents.
 */

export { FLOW };

const enabled = (app: Ticketloop) => app.integrations<M365Integration>('m365').filter((i) => i.enabled);
const enabledNamed = (app: Ticketloop) => (name: string) => enabled(app).find((x) => x.name === name);

export const m365Module: FlowModule = {
  name: FLOW,
  flow: m365Flow,
  integration: { type: 'm365', shape: m365Shape },
  migrations: (dialect) => ({
    ...m365HealthMigrations(dialect),
    ...m365EscalationMigrations(dialect),
    ...m365SolutionNoteMigrations(dialect),
    ...m365MatchMigrations(dialect),
  }),
  effects: (app) => ({
    ...escalationEffects(app, enabledNamed(app)),
    ...incidentEffects(app, enabledNamed(app)),
    ...solutionNoteEffects(app, enabledNamed(app)),
    ...feedEffects(app, enabledNamed(app)),
    async 'health-sync'(p: { integration: string }) {
      const i = enabledNamed(app)(p.integration);
      if (!i) return;
      const incidents = i.incidents.enabled;
      const r = await syncHealth({
        client: new ServiceHealthClient(app.connections.microsoft().graph),
        db: app.store.db,
        integration: i.name,
        now: () => app.clock.now(),
        messages: i.messages,
        onChanged: incidents ? (trx, issues) => applyChanged(app, i, trx, issues) : undefined,
      });
      // Open issues kept before incidents were switched on (or fed by no pass yet) get theirs too.
      const caughtUp = incidents ? await catchUpIncidents(app, i) : 0;
      if (incidents && (r.writes > 0 || caughtUp > 0)) app.engine.wake();
      if (r.writes > 0)
        app.log.info(
          {
            integration: i.name,
            new: r.newIssues.length,
            changed: r.changedIssues.length,
            resolved: r.resolvedIssues.length,
          },
          'service health changed',
        );
    },
  }),
  setup: m365Setup,
  demo: async () => (await import('./demo.ts')).m365Demo,
  checks: (app, ctx) => m365Checks(app, ctx, enabled(app), (i) => learnOf(app, i)),
  async register(app) {
    for (const i of enabled(app).filter((x) => x.incidents.enabled))
      await app.watch.track(app.connections.itsm(i.itsm), i.incidents.kind);
    for (const i of enabled(app))
      await app.engine.schedule(`m365-health:${i.name}`, parseDuration(i.healthEvery)!, `${FLOW}.health-sync`, {
        integration: i.name,
      });
    for (const i of enabled(app).filter((x) => x.escalation.mode !== 'off'))
      await app.engine.schedule(
        `m365-escalations:${i.name}`,
        parseDuration(i.escalation.syncEvery)!,
        `${FLOW}.escalation-sync`,
        { integration: i.name },
      );
    for (const i of enabled(app).filter((x) => x.feed.enabled))
      await app.engine.schedule(`m365-feed:${i.name}`, parseDuration(i.feed.every)!, `${FLOW}.match-feed`, {
        integration: i.name,
      });
    // Disabled integrations too: the setup page lists every one configured.
    registerSetupRoutes(app, () => app.integrations<M365Integration>('m365'));
    registerM365Routes(
      app,
      () => enabled(app),
      (i) => learnOf(app, i),
    );
  },
};
