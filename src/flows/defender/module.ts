import type { Ticketloop } from '../../app/build.ts';
import type { FlowModule } from '../../app/module.ts';
import { cleanupHandlers } from './cleanup.ts';
import { defenderShape, type DefenderIntegration } from './config.ts';
import { effectHandlers, type Deps } from './effects.ts';
import { defenderFlow, FLOW, itemOf } from './flow.ts';
import { Integrations } from './integrations.ts';
import { Mailer } from './notify.ts';
import { MetadataCache, reconcile, reconcileHandler, type ReconcileStats } from './reconcile.ts';
import { registerDefenderRoutes } from './routes.ts';
import { defenderMigrations } from './tables.ts';

/**
 * Defender for Cloud → tickets: the flow and its effects, a reconcile schedule per integration,
 * the clean-up jobs, the ticket kinds to watch, and the API.
 */

export type DefenderRuntime = Deps & { meta: MetadataCache };

/** The running app's Defender pieces, for the demo, tests and the benchmark. */
const runtimes = new WeakMap<Ticketloop, DefenderRuntime>();

function runtime(app: Ticketloop): DefenderRuntime {
  let r = runtimes.get(app);
  if (!r) {
    const meta = new MetadataCache(
      () => app.connections.microsoft().arm,
      () => app.clock.now(),
    );
    r = { app, integrations: new Integrations(app), mailer: new Mailer(), metadata: (k) => meta.get(k), meta };
    runtimes.set(app, r);
  }
  return r;
}

export function defenderRuntime(app: Ticketloop): DefenderRuntime {
  const r = runtimes.get(app);
  if (!r) throw new Error('the defender module is not registered on this app');
  return r;
}

/** Run one reconcile pass for an integration now, in this process (tests, demo, benchmark). */
export function reconcileNow(app: Ticketloop, integration: string): Promise<ReconcileStats> {
  const d = defenderRuntime(app);
  const i = d.integrations.get(integration);
  if (!i) throw new Error(`no defender integration named ${integration}`);
  return reconcile(d, i);
}

export const defenderModule: FlowModule = {
  name: FLOW,
  flow: defenderFlow,
  integration: { type: 'defender', shape: defenderShape },
  migrations: defenderMigrations,
  effects(app) {
    const d = runtime(app);
    return { ...effectHandlers(d), reconcile: reconcileHandler(d), ...cleanupHandlers(d) };
  },
  async register(app) {
    const d = runtime(app);
    await d.integrations.load();
    // Later ticket generations carry `tl:defender:<item>/<gen>`; their changes belong to <item>.
    app.watch.mapItemIds(FLOW, itemOf);
    // Also for integrations created over the API after start: the watch adds their schedules then.
    const activate = async (i: DefenderIntegration) => {
      if (!i.enabled) return;
      await app.watch.track(app.connections.itsm(i.itsm), i.ticketType);
      await app.engine.schedule(`defender-reconcile:${i.name}`, i.reconcileIntervalSeconds * 1000, 'defender.reconcile', { integration: i.name });
    };
    for (const e of d.integrations.list()) await activate(e.config);
    registerDefenderRoutes({ ...d, activate });
  },
  demo: () => import('./demo.ts').then((m) => m.defenderDemo),
};
