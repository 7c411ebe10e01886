import type { FlowModule } from '../../app/module.ts';
import { defenderChecks } from './checks.ts';
import { cleanupHandlers } from './cleanup.ts';
import { defenderShape, type DefenderIntegration } from './config.ts';
import { effectHandlers } from './effects.ts';
import { defenderFlow, FLOW, itemOf } from './flow.ts';
import { manualTicketTypes } from './manual.ts';
import { manualEffectHandlers } from './manual-effects.ts';
import { reconcileHandler } from './reconcile.ts';
import { trackConfigFile } from './removal.ts';
import { registerDefenderRoutes } from './routes.ts';
import { runtime } from './runtime.ts';
import { defenderSetup } from './setup.ts';
import { defenderMigrations } from './tables.ts';

/**
 * Defender for Cloud → tickets: the flow and its effects, a reconcile schedule per integration,
 * the clean-up jobs, the ticket kinds to watch, and the API.
 */

export const defenderModule: FlowModule = {
  name: FLOW,
  flow: defenderFlow,
  integration: { type: 'defender', shape: defenderShape },
  migrations: defenderMigrations,
  effects(app) {
    const d = runtime(app);
    return {
      ...effectHandlers(d),
      ...manualEffectHandlers(d),
      reconcile: reconcileHandler(d),
      ...cleanupHandlers(d),
    };
  },
  async register(app) {
    const d = runtime(app);
    await d.integrations.load();
    await trackConfigFile(app, d.integrations);
    // Later ticket generations carry `tl:defender:<item>/<gen>`; their changes belong to <item>.
    app.watch.mapItemIds(FLOW, itemOf);
    // Also for integrations created over the API after start: the watch adds their schedules then.
    const activate = async (i: DefenderIntegration) => {
      if (!i.enabled) return;
      await app.watch.track(app.connections.itsm(i.itsm), i.ticketType);
      // Manual assignments may have chosen other ticket kinds.
      for (const kind of await manualTicketTypes(d, i.name)) await app.watch.track(app.connections.itsm(i.itsm), kind);
      await app.engine.schedule(
        `defender-reconcile:${i.name}`,
        i.reconcileIntervalSeconds * 1000,
        'defender.reconcile',
        { integration: i.name },
      );
    };
    for (const e of d.integrations.list()) await activate(e.config);
    registerDefenderRoutes({ ...d, activate });
  },
  checks: defenderChecks,
  setup: defenderSetup,
  demo: () => import('./demo.ts').then((m) => m.defenderDemo),
};
