import { Counter } from 'prom-client';
import type { FlowModule } from '../../app/module.ts';
import { GroupIntake } from '../../engine/intake.ts';
import { entitlementChecks } from './checks.ts';
import { entitlementShape, type EntitlementIntegration } from './config.ts';
import { createEffects } from './effects.ts';
import { entitlementSetup } from './setup.ts';
import { DEFAULT_STATES, statesNotInTable } from './states.ts';
import { entitlementFlow, FLOW } from './flow.ts';
import { registerItemRoutes } from './items.ts';
import { registerCalloutRoutes } from './routes.ts';

/**
 * Entitlement management's ticketed provisioning: the flow and its effects, the callout endpoints,
 * the ticket kinds the watch follows (push + poll) for closes, and the items' read API. Its console
 * pages are console/src/flows/entitlement/.
 */
export const entitlementModule: FlowModule = {
  name: FLOW,
  flow: entitlementFlow,
  integration: { type: 'entitlement', shape: entitlementShape },
  effects: (app) => createEffects(app, () => app.integrations<EntitlementIntegration>('entitlement')),
  async register(app) {
    // The read API exists with or without integrations (the console asks it; an empty list is an answer).
    registerItemRoutes(app);
    const list = app.integrations<EntitlementIntegration>('entitlement').filter((i) => i.enabled);
    if (list.length === 0) return;
    if (!app.config.microsoft) {
      const n = app.config.integrations.findIndex((i) => i.type === 'entitlement' && i.enabled);
      throw new Error(
        `integrations[${n}] (entitlement "${list[0].name}"): needs the top-level \`microsoft\` connection (tenantId, clientId, clientSecret or certificate) to verify callouts and resume requests`,
      );
    }
    for (const i of list) {
      const wrong = statesNotInTable(i.table, i.states)[0];
      if (wrong) {
        const n = app.config.integrations.findIndex((x) => x.type === 'entitlement' && x.name === i.name);
        throw new Error(
          `integrations[${n}].${wrong.path} (entitlement "${i.name}"): table ${i.table} has no state '${wrong.state}' (its states: ${Object.keys(DEFAULT_STATES[i.table] ?? {}).join(', ')})`,
        );
      }
    }
    for (const i of list) await app.watch.track(app.connections.itsm(i.itsm), i.table);

    const counter = new Counter({
      name: 'ticketloop_entitlement_callouts_total',
      help: 'Entitlement-management callouts by outcome (accepted, duplicate, connection-test, invalid, unauthorized, unmatched)',
      labelNames: ['outcome'],
      registers: [app.metrics.registry],
    });
    const intake = new GroupIntake(app.store, entitlementFlow, app.clock, 'callout', () => app.engine.wake());
    registerCalloutRoutes({ app, integrations: () => list, intake, count: (outcome) => counter.inc({ outcome }) });
  },
  checks: entitlementChecks,
  setup: entitlementSetup,
  demo: () => import('./demo.ts').then((m) => m.entitlementDemo),
};
