import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import pino, { type Logger } from 'pino';
import type { Config, IntegrationConfig } from '../config/schema.ts';
import { loadStoredSecrets, SecretStore } from '../config/secrets.ts';
import { systemClock, type Clock } from '../engine/clock.ts';
import { Engine } from '../engine/engine.ts';
import { registerAdminRoutes } from '../http/admin.ts';
import { consoleServing } from '../http/console.ts';
import { registerOverviewRoutes } from '../http/overview.ts';
import { createHttpServer, type App } from '../http/server.ts';
import { cookiePolicy, openapiAccess, type DeclaredRoute } from '../identity/guard.ts';
import type { Identity } from '../identity/identity.ts';
import { announceSetup, installIdentity } from '../identity/install.ts';
import type { ItsmModule } from '../itsm/port.ts';
import { TicketWatch } from '../itsm/watch.ts';
import { verifyAudit, type AuditVerifyResult } from '../store/audit-verify.ts';
import { AuditCheckpointer, checkpointFile } from '../store/checkpoints.ts';
import { openStore, type Store } from '../store/db.ts';
import { migrateToLatest, pendingMigrations, type Migrations } from '../store/migrations.ts';
import { HostAllowList } from './allowlist.ts';
import type { CheckResult } from './checks.ts';
import { configFileOf, type ConfigFile } from './config-file.ts';
import { Connections } from './connections.ts';
import { ConnectionHealth, runChecks } from './doctor.ts';
import { Metrics } from './metrics.ts';
import type { FlowModule } from './module.ts';
import { OutboundAudit } from './outbound.ts';

/**
 * The composition root: store → engine → HTTP, with metrics, audit and secrets wired in, then the
 * ITSM connections and the flow modules (app/module.ts), each adding its effects, routes and
 * schedules. Which modules exist is app/registry.ts's business; this file names none of them.
 */

export interface Ticketloop {
  config: Config;
  store: Store;
  engine: Engine;
  http: App;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Secrets entered through the API, encrypted at rest. */
  secrets: SecretStore;
  outbound: OutboundAudit;
  /** Hosts that connections named over the API may reach (`outbound.allowHosts`). */
  allowHosts: HostAllowList;
  /** Signed checkpoints of the audit chain (start, every `audit.checkpoints.everySeconds`, stop). */
  checkpoints: AuditCheckpointer;
  /** Verify the audit chain against the checkpoints (GET /api/audit/verify). */
  verifyAudit(): Promise<AuditVerifyResult>;
  /** ITSM ports and Microsoft clients from configuration, shared by all flows. */
  connections: Connections;
  /** The configuration file it started from, for setup over the API; undefined on embedded defaults. */
  configFile?: ConfigFile & { withReloadedApp<T>(fn: (app: Ticketloop) => Promise<T>): Promise<T> };
  /** Ticket changes (push, poll, reconcile) routed to flows by correlation key. */
  watch: TicketWatch;
  /** Users, sessions, API tokens; the access control every `/api/` route goes through. */
  identity: Identity;
  /** Every `/api/` route with the role it declared. */
  apiRoutes: DeclaredRoute[];
  /** The ITSM adapter modules (their connection schemas validate integrations created over the API). */
  itsmModules: ItsmModule[];
  /** This flow's enabled and disabled integrations from the configuration file. */
  integrations<I extends IntegrationConfig>(type: string): I[];
  /**
   * Check every connection (doctor); the result shows on /readyz. With `log`, each problem is
   * logged as one warning line with its fix. With `flows`, only those flows' checks run beside the
   * connections' ("Test setup" of one flow), and /readyz keeps the last full run.
   */
  checkConnections(o?: { log?: boolean; flows?: string[] }): Promise<CheckResult[]>;
  /** Listen and start the engine; returns the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export interface BuildOptions {
  itsm: ItsmModule[];
  flows: FlowModule[];
  clock?: Clock;
  logger?: Logger;
  /** Skip the engine loop (one-shot CLI commands). */
  engine?: boolean;
  /** The built console (default dist/console beside the package; http/console.ts). */
  consoleDir?: string;
  /** The configuration file `config` was loaded from (none: embedded defaults, the demo). */
  configFile?: string;
}

/**
 * The service's logger. With `destination` (a stream, e.g. pino.multistream), logs go there
 * instead of stdout — the demo sends them to a file and only warnings to the terminal.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    // Never log secrets, even by accident.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-csrf-token"]',
        'req.headers["x-sn-apikey"]',
        '*.password',
        '*.clientSecret',
        '*.client_secret',
        '*.token',
        '*.access_token',
        '*.refresh_token',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Instances on one database must hold the same secret key: stored secrets are written with it and
 * the audit chain they all append to is MAC'd with it. A process with another key stops here.
 */
async function checkSharedKey(store: Store): Promise<void> {
  const state = await store.db.selectFrom('secret_key_state').select('kid').executeTakeFirst();
  if (!state || store.keys.byKid(state.kid)) return;
  await store.close();
  throw new Error(
    `this database's secrets and audit chain use secret key ${state.kid}, but this process holds ${store.keys.current.kid} ` +
      `(from ${store.keys.source === 'env' ? 'TICKETLOOP_SECRET_KEY' : store.keys.keyFile}): instances sharing a database ` +
      'must share the key — set TICKETLOOP_SECRET_KEY, or copy secret.key, to the same value on every instance',
  );
}

/** Every module's migrations. */
export function moduleMigrations(flows: FlowModule[]): Migrations[] {
  return flows.flatMap((m) => (m.migrations ? [m.migrations] : []));
}

export async function buildTicketloop(config: Config, o: BuildOptions): Promise<Ticketloop> {
  const log = o.logger ?? createLogger(config.log.level);
  const clock = o.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  const store = await openStore({ databaseUrl: config.database.url, dataDir, poolSize: config.database.poolSize });
  const migrations = moduleMigrations(o.flows);
  const applied = await migrateToLatest(store, migrations);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');
  await checkSharedKey(store);
  const secrets = new SecretStore(store.db, store.keys);
  // Before anything resolves a secret reference: `{secret: name}` values come from the store.
  await loadStoredSecrets(secrets, config);

  const metrics = new Metrics();
  metrics.attach(store.db);
  const workerId = `${hostname()}:${process.pid}`;
  const engine = new Engine({
    store,
    clock,
    workerId,
    log,
    metrics,
    concurrency: config.engine.concurrency,
    pollIntervalMs: config.engine.pollIntervalMs,
    leaseMs: config.engine.leaseMs,
    backoffBaseMs: config.engine.backoffBaseMs,
    backoffMaxMs: config.engine.backoffMaxMs,
    retainDoneMs: config.engine.retainDoneHours * 3_600_000,
  });
  const health = new ConnectionHealth();
  let readinessError: string | undefined;
  const consoleSite = consoleServing(o.consoleDir);
  const http = await createHttpServer({
    page: consoleSite.page,
    logger: log,
    bodyLimit: config.server.bodyLimitBytes,
    timeouts: {
      requestMs: config.server.requestTimeoutMs,
      connectionMs: config.server.connectionTimeoutMs,
      keepAliveMs: config.server.keepAliveTimeoutMs,
    },
    trustProxy: config.server.trustProxy,
    openapi: openapiAccess(cookiePolicy(config.server)),
    metrics,
    readiness: {
      async check() {
        const checks: Record<string, string> = {};
        try {
          await sql`select 1`.execute(store.db);
          checks.database = 'ok';
          const pending = await pendingMigrations(store, migrations);
          checks.migrations = pending.length ? `pending: ${pending.join(', ')}` : 'ok';
          readinessError = undefined;
        } catch (e) {
          // /readyz is unauthenticated: the driver's text (host names, paths) goes to the log only, once per cause.
          const message = (e as Error).message;
          if (message !== readinessError) log.warn({ err: message }, 'readiness: database unreachable');
          readinessError = message;
          checks.database = 'unreachable';
        }
        // Connections only degrade the service: jobs wait and retry until they recover.
        const degraded = health.degraded();
        if (degraded) checks.connections = degraded.length ? 'degraded' : 'ok';
        return { ok: Object.values(checks).every((v) => v === 'ok' || v === 'degraded'), checks, degraded };
      },
    },
  });
  // Before any other route: every /api/ route registered after this goes through its access control.
  const { identity, routes: apiRoutes } = await installIdentity({
    http,
    db: store.db,
    keys: store.keys,
    clock,
    log,
    config,
  });
  const outbound = new OutboundAudit(store, clock, workerId, metrics, log);
  const checkpoints = new AuditCheckpointer({
    db: store.db,
    keys: store.keys,
    now: () => clock.now(),
    by: workerId,
    dataDir,
    config: config.audit.checkpoints,
    log,
  });
  const connections = new Connections(config, o.itsm, { recorder: outbound, clock, registry: metrics.registry });
  const watch = new TicketWatch({
    engine,
    http,
    db: store.db,
    clock,
    connection: (name) => (connections.hasItsm(name) ? connections.itsm(name) : undefined),
    connections: () => connections.itsmAll(),
  });

  const app: Ticketloop = {
    config,
    store,
    engine,
    http,
    metrics,
    log,
    clock,
    secrets,
    outbound,
    allowHosts: new HostAllowList(config),
    checkpoints,
    verifyAudit: () => verifyAudit(store.db, store.keys, { checkpoints: [checkpointFile(dataDir)] }),
    connections,
    watch,
    identity,
    apiRoutes,
    itsmModules: o.itsm,
    configFile: o.configFile
      ? configFileOf(o.configFile, o, (fresh) =>
          buildTicketloop(fresh, { ...o, engine: false, logger: createLogger('fatal'), configFile: undefined }),
        )
      : undefined,
    integrations: <I extends IntegrationConfig>(type: string) =>
      config.integrations.filter((i) => i.type === type) as I[],
    async checkConnections(c = {}) {
      const only = c.flows;
      const results = await runChecks(app, only ? o.flows.filter((m) => only.includes(m.name)) : o.flows);
      // Readiness reflects a full run only.
      if (!only) health.record(results);
      if (c.log) {
        const failed = results.filter((r) => !r.ok);
        for (const r of failed) log.warn(`${r.target} — ${r.check}: ${r.detail} — ${r.fix ?? 'see ticketloop doctor'}`);
        if (!failed.length) log.info({ checks: results.length }, 'every connection checked: ok');
      }
      return results;
    },
    async start() {
      await http.listen({ host: config.server.host, port: config.server.port });
      if (o.engine !== false) engine.start();
      checkpoints.start();
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.server.port;
      const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
      await identity.sessions.sweep();
      const setup = await announceSetup(identity, config.server.publicUrl ?? url);
      if (setup) log.warn(setup);
      return url;
    },
    async stop() {
      await http.close();
      await engine.stop();
      await outbound.flush();
      await checkpoints.stop();
      await connections.close();
      await store.close();
    },
  };
  registerAdminRoutes(app);
  registerOverviewRoutes(app, o.flows);
  await consoleSite.register(http);
  // Every flow's effects first: an item stored earlier may still have effects to finish.
  for (const m of o.flows) app.engine.registerFlow(m.flow, m.effects(app));
  for (const m of o.flows) await m.register?.(app);
  await watch.install();
  return app;
}
