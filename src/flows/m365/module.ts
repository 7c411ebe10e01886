import type { Ticketloop } from '../../app/build.ts';
import type { FlowModule } from '../../app/module.ts';
import { ServiceHealthClient } from '../../connectors/microsoft/service-health.ts';
import { parseDuration } from '../pod/duration.ts';
import { m365Checks } from './checks.ts';
import { m365Shape, type M365Integration } from './config.ts';
import { escalationEffects } from './escalation/effects.ts';
import { m365EscalationMigrations } from './escalation/store.ts';
import { m365HealthMigrations } from './health/store.ts';
import { syncHealth } from './health/sync.ts';
import { learnOf } from './learn.ts';
import { registerM365Routes } from './routes.ts';
import { registerSetupRoutes } from './setup-routes.ts';
import { m365Setup } from './setup.ts';

/**
 * Microsoft 365 support: the tenant's service health read on a schedule and kept with its history
 * (health/), and incidents matched to it with reasons (match/). It has no items of its own yet: the
 * sync is a scheduled job that writes only what changed.
 */

export const FLOW = 'm365';

const enabled = (app: Ticketloop) => app.integrations<M365Integration>('m365').filter((i) => i.enabled);

export const m365Module: FlowModule = {
  name: FLOW,
  flow: { name: FLOW, decide: () => null },
  integration: { type: 'm365', shape: m365Shape },
  migrations: (dialect) => ({ ...m365HealthMigrations(dialect), ...m365EscalationMigrations(dialect) }),
  effects: (app) => ({
    ...escalationEffects(app, (name) => enabled(app).find((x) => x.name === name)),
    async 'health-sync'(p: { integration: string }) {
      const i = enabled(app).find((x) => x.name === p.integration);
      if (!i) return;
      const r = await syncHealth({
        client: new ServiceHealthClient(app.connections.microsoft().graph),
        db: app.store.db,
        integration: i.name,
        now: () => app.clock.now(),
        messages: i.messages,
      });
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
    // Disabled integrations too: the setup page lists every one configured.
    registerSetupRoutes(app, () => app.integrations<M365Integration>('m365'));
    registerM365Routes(
      app,
      () => enabled(app),
      (i) => learnOf(app, i),
    );
  },
};
