import type { Ticketloop } from '../../app/build.ts';
import type { FlowModule } from '../../app/module.ts';
import { loadFlowState } from '../../engine/flow.ts';
import { Notifier } from '../../notify/channels.ts';
import { podReferenceErrors, podShape, type PodIntegration } from './config.ts';
import { registerDecisionLinkRoute } from './decision-link-routes.ts';
import { decisionLinkMigrations, decisionLinks } from './decision-links.ts';
import { podMigrations, reconcileHandler } from './drift.ts';
import { parseDuration } from '../../config/duration.ts';
import { approverGroupsOf } from './approver-groups.ts';
import { createPodEffects } from './effects.ts';
import { itsmFrontHandlers, withItsmSync } from './itsm-front.ts';
import { itsmNoteMigrations } from './itsm-notes.ts';
import { notifyHandlers } from './notify.ts';
import type { RequestState } from './request.ts';
import { FLOW, podFlow } from './flow.ts';
import { PROVIDER_FACTORIES } from './providers/index.ts';
import { ProviderRegistry } from './providers/registry.ts';
import { registerPodRoutes } from './routes.ts';
import { setPodService } from './runtime.ts';
import { PodService } from './service.ts';

/**
 * Permissions on demand: time-bound cloud permissions requested, approved, granted, expired, revoked
 * and audited. The request and assignment decisions are flow.ts; providers/ are the clouds.
 */

const enabled = (app: Ticketloop) => app.integrations<PodIntegration>('pod').filter((i) => i.enabled);

/** The module with these provider factories (tests pass their own). */
export function createPodModule(factories: typeof PROVIDER_FACTORIES): FlowModule {
  // One provider registry per app: effects and routes share its instances and its name cache.
  const registries = new WeakMap<Ticketloop, ProviderRegistry>();
  const notifiers = new WeakMap<Ticketloop, Map<string, Notifier>>();
  /** The integration's notifier (one per integration with a `notifications` block), made on first use. */
  const notifierOf = (app: Ticketloop, name: string): Notifier | undefined => {
    const byName = notifiers.get(app) ?? new Map<string, Notifier>();
    notifiers.set(app, byName);
    const config = enabled(app).find((i) => i.name === name)?.notifications;
    if (!config) return undefined;
    let n = byName.get(name);
    if (!n) byName.set(name, (n = new Notifier(config, { recorder: app.outbound, log: app.log })));
    return n;
  };
  const registryOf = (app: Ticketloop) => {
    let r = registries.get(app);
    if (!r) {
      r = new ProviderRegistry(
        () => enabled(app),
        factories(app),
        () => app.clock.now(),
      );
      registries.set(app, r);
    }
    return r;
  };
  const services = new WeakMap<Ticketloop, PodService>();
  const serviceOf = (app: Ticketloop) => {
    let s = services.get(app);
    if (!s) services.set(app, (s = new PodService(app, () => enabled(app), registryOf(app))));
    return s;
  };
  const fronted = (app: Ticketloop) => enabled(app).filter((i) => i.itsmFront);
  /** The notify handler with the ITSM mirror beside it (itsm-front.ts). */
  const withFront = (h: ReturnType<typeof notifyHandlers>, app: Ticketloop) => ({
    ...h,
    notify: withItsmSync(
      h.notify,
      (item) => loadFlowState<RequestState>(app.store.db, FLOW, item),
      (name) => fronted(app).some((i) => i.name === name),
    ),
  });
  return {
    name: FLOW,
    flow: podFlow,
    integration: { type: 'pod', shape: podShape },
    migrations: (dialect) => ({
      ...podMigrations(dialect),
      ...decisionLinkMigrations(dialect),
      ...itsmNoteMigrations(dialect),
    }),
    effects: (app) => ({
      ...createPodEffects({ db: app.store.db, providers: registryOf(app) }),
      ...withFront(
        notifyHandlers({
          notifier: (name) => notifierOf(app, name),
          consoleUrl: (name) => enabled(app).find((i) => i.name === name)?.consoleUrl ?? app.config.server.publicUrl,
          load: (item) => loadFlowState<RequestState>(app.store.db, FLOW, item),
          groupMembers: async (s) => {
            const ag = approverGroupsOf(app);
            return (await Promise.all((s.policy.approverGroups ?? []).map((g) => ag.usersOf(g.id)))).flat();
          },
          decisionLinks: (id, approver, s, consoleUrl) =>
            decisionLinks(
              id,
              approver,
              consoleUrl,
              parseDuration(enabled(app).find((i) => i.name === s.integration)?.decisionLinksFor ?? '') ?? 86_400_000,
              { keys: app.store.keys, clock: app.clock },
            ),
        }),
        app,
      ),
      ...itsmFrontHandlers({ app, service: () => serviceOf(app), integrations: () => enabled(app) }),
      reconcile: reconcileHandler({
        db: app.store.db,
        dialect: app.store.dialect,
        providers: registryOf(app),
        integrations: () => enabled(app),
        now: () => app.clock.now(),
        onNew: async (integration, f) => {
          app.log.warn({ integration, drift: f }, 'pod: drift between the grant ledger and the provider');
        },
      }),
    }),
    async register(app) {
      for (const i of enabled(app)) {
        const errors = podReferenceErrors(i);
        if (!errors.length) continue;
        const n = app.config.integrations.findIndex((x) => x.name === i.name);
        throw new Error(errors.map((e) => `integrations[${n}].${e.path}: ${e.message}`).join('\n'));
      }
      for (const i of enabled(app))
        await app.engine.schedule(`pod-reconcile:${i.name}`, parseDuration(i.reconcileEvery)!, `${FLOW}.reconcile`, {
          integration: i.name,
        });
      for (const i of fronted(app)) {
        const n = app.config.integrations.findIndex((x) => x.name === i.name);
        if (!app.connections.itsm(i.itsm).accessRequests)
          throw new Error(
            `integrations[${n}].itsmFront: the ITSM connection "${i.itsm}" does not take access requests`,
          );
        const every = parseDuration(i.itsmFront?.pollEvery ?? '') ?? app.connections.itsm(i.itsm).pollIntervalMs;
        await app.engine.schedule(`pod-itsm-intake:${i.name}`, every, `${FLOW}.itsm-intake`, { integration: i.name });
      }
      setPodService(app, serviceOf(app));
      registerPodRoutes(app, serviceOf(app), () => enabled(app));
      registerDecisionLinkRoute(app, serviceOf(app));
    },
  };
}

export const podModule: FlowModule = {
  ...createPodModule(PROVIDER_FACTORIES),
  demo: () => import('./demo.ts').then((m) => m.podDemo),
};
