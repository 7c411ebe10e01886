import { Counter } from 'prom-client';
import type { Module, Ticketloop } from '../../app/build.ts';
import type { Sandbox } from '../../../sandbox/index.ts';
import type { EntitlementIntegration } from './config.ts';
import { createEffects } from './effects.ts';
import { entitlementFlow, type CalloutEvent } from './flow.ts';
import { GroupIntake } from './intake.ts';
import { registerCalloutRoutes } from './routes.ts';

/**
 * Wires the entitlement flow into Ticketloop: the flow and its effect handlers, the callout
 * endpoints, and the ticket tables the watch should follow (push + poll) for closes.
 */

export function entitlementIntegrations(app: Ticketloop): EntitlementIntegration[] {
  return app.config.integrations.filter((i): i is EntitlementIntegration => i.type === 'entitlement' && i.enabled);
}

export const entitlementModule: Module = {
  name: 'entitlement',
  register(app) {
    const integrations = () => entitlementIntegrations(app);
    // Registered even without integrations, so items already stored still finish their effects.
    app.engine.registerFlow(entitlementFlow, createEffects(app, integrations));
    const list = integrations();
    if (list.length === 0) return;
    if (!app.config.microsoft) {
      const n = app.config.integrations.findIndex((i) => i.type === 'entitlement' && i.enabled);
      throw new Error(`integrations[${n}] (entitlement "${list[0].name}"): needs the top-level \`microsoft\` connection (tenantId, clientId, clientSecret or certificate) to verify callouts and resume requests`);
    }
    for (const i of list) app.watch.track(app.connections.servicenow(i.servicenow), i.table);

    const counter = new Counter({
      name: 'ticketloop_entitlement_callouts_total',
      help: 'Entitlement-management callouts by outcome (accepted, duplicate, connection-test, invalid, unauthorized, unmatched)',
      labelNames: ['outcome'],
      registers: [app.metrics.registry],
    });
    const intake = new GroupIntake<unknown, CalloutEvent>(app.store.db, entitlementFlow as never, app.clock, 'callout', () => app.engine.wake());
    registerCalloutRoutes({ app, integrations, intake, count: (outcome) => counter.inc({ outcome }) });
  },
  async demo(ctx) {
    const { runEntitlementDemo } = await import('./demo.ts');
    await runEntitlementDemo(ctx);
  },
};

/** Integrations the demo runs with against the sandbox. */
export function entitlementDemoIntegrations(_sandbox: Sandbox): Record<string, unknown>[] {
  return [
    {
      name: 'entitlement-demo',
      type: 'entitlement',
      servicenow: 'sandbox',
      accessPackages: ['*'],
      stages: ['assignmentRequestApproved', 'assignmentRequestRemoved'],
      table: 'sc_req_item',
      onTimeout: 'annotate',
      resumeSource: 'Ticketloop (ServiceNow sandbox)',
      inbound: { logicAppHmacSecret: DEMO_LOGIC_APP_SECRET },
    },
  ];
}

/** The sandbox demo's Logic App forwarder secret (not a real secret: the sandbox only). */
export const DEMO_LOGIC_APP_SECRET = 'tl-demo-logic-app-secret';
