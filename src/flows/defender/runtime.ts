import type { Ticketloop } from '../../app/build.ts';
import type { Deps } from './effects.ts';
import { Integrations } from './integrations.ts';
import { Mailer } from './notify.ts';
import { MetadataCache } from './assessments.ts';
import { reconcile, type ReconcileStats } from './reconcile.ts';

export type DefenderRuntime = Deps & { meta: MetadataCache };

/** The running app's Defender pieces, built once per app, for the module, the demo, tests and the benchmark. */
const runtimes = new WeakMap<Ticketloop, DefenderRuntime>();

export function runtime(app: Ticketloop): DefenderRuntime {
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
