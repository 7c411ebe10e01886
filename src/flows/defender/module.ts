import type { Module, Ticketloop } from '../../app/build.ts';
import type { Sandbox } from '../../../sandbox/index.ts';
import { cleanupHandlers } from './cleanup.ts';
import type { DefenderIntegration } from './config.ts';
import { runDefenderDemo, demoIntegration } from './demo.ts';
import { effectHandlers, type Deps } from './effects.ts';
import { defenderFlow, FLOW, itemOf } from './flow.ts';
import { Integrations } from './integrations.ts';
import { Mailer, People } from './notify.ts';
import { MetadataCache, reconcile, reconcileHandler, type ReconcileStats } from './reconcile.ts';
import { registerDefenderRoutes } from './routes.ts';

/**
 * Wires the Defender flow into Ticketloop: the flow and its effects, the reconcile schedule per
 * integration, the cleanup jobs, the ticket tables to watch, and the API.
 */

export type DefenderRuntime = Deps & { meta: MetadataCache };

/** The running app's Defender pieces, for the demo, tests and the benchmark. */
const runtimes = new WeakMap<Ticketloop, DefenderRuntime>();

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

export const defenderModule: Module = {
  name: 'defender',
  async register(app) {
    const integrations = new Integrations(app);
    await integrations.load();
    const meta = new MetadataCache(() => app.connections.microsoft().arm, () => app.clock.now());
    const d: DefenderRuntime = { app, integrations, people: new People(), mailer: new Mailer(), metadata: (k) => meta.get(k), meta };
    runtimes.set(app, d);

    // Registered even without integrations, so items already stored still finish their effects.
    app.engine.registerFlow(defenderFlow, effectHandlers(d));
    app.engine.register('defender.reconcile', reconcileHandler(d));
    for (const [kind, h] of Object.entries(cleanupHandlers(d))) app.engine.register(kind, h);
    // Later ticket generations carry `tl:defender:<item>/<gen>`; their changes belong to <item>.
    app.watch.mapItemIds(FLOW, itemOf);

    const activate = async (i: DefenderIntegration, watchInstalled: boolean) => {
      if (!i.enabled) return;
      const sn = app.connections.servicenow(i.servicenow);
      app.watch.track(sn, i.ticketType);
      // Created over the API after start: the watch has installed its schedules already.
      if (watchInstalled) await app.engine.schedule(`itsm-poll:${sn.name}/${i.ticketType}`, sn.config.pollIntervalSeconds * 1000, 'itsm.poll', { instance: sn.name, table: i.ticketType });
      await app.engine.schedule(`defender-reconcile:${i.name}`, i.reconcileIntervalSeconds * 1000, 'defender.reconcile', { integration: i.name });
    };
    for (const e of integrations.list()) await activate(e.config, false);
    registerDefenderRoutes({ ...d, activate: (i) => activate(i, true) });
  },
  demo: (ctx) => runDefenderDemo(ctx, defenderRuntime(ctx.app)),
};

/** Integrations the demo runs with against the sandbox. */
export function defenderDemoIntegrations(sandbox: Sandbox): Record<string, unknown>[] {
  return [demoIntegration(sandbox)];
}
