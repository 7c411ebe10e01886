import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import pino, { type Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { resolveSecret } from '../config/load.ts';
import { loadSecretKey, SecretBox, SecretStore } from '../config/secrets.ts';
import { systemClock, type Clock } from '../engine/clock.ts';
import { Engine } from '../engine/engine.ts';
import { openStore, type Store } from '../store/db.ts';
import { migrateToLatest, pendingMigrations } from '../store/migrations.ts';
import { createHttpServer, type App } from '../http/server.ts';
import { registerAdminRoutes } from '../http/admin.ts';
import { Metrics } from './metrics.ts';
import { OutboundAudit } from './outbound.ts';
import { Connections } from './connections.ts';
import { TicketWatch } from '../itsm/watch.ts';

/**
 * The composition root: store → engine → HTTP, with metrics, audit and secrets wired in. Flow
 * modules plug in through `modules`; each registers its routes, effect handlers and schedules.
 */

export interface Ticketloop {
  config: Config;
  store: Store;
  engine: Engine;
  http: App;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  secrets: SecretStore;
  outbound: OutboundAudit;
  /** Connector instances from configuration (ServiceNow, Entra/Graph/ARM), shared by all flows. */
  connections: Connections;
  /** Ticket changes (webhook push + polling) routed to flows by correlation id. */
  watch: TicketWatch;
  /** Listen and start the engine; returns the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export interface Module {
  name: string;
  register(app: Ticketloop): Promise<void> | void;
  /** Walk through this flow's loop against the sandbox (`ticketloop demo`). */
  demo?(ctx: import('../cli/demo.ts').DemoContext): Promise<void>;
}

export interface BuildOptions {
  clock?: Clock;
  logger?: Logger;
  modules?: Module[];
  /** Skip the engine loop (one-shot CLI commands). */
  engine?: boolean;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    // Never log secrets, even by accident.
    redact: {
      paths: [
        'req.headers.authorization',
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
  });
}

export async function buildTicketloop(config: Config, o: BuildOptions = {}): Promise<Ticketloop> {
  const log = o.logger ?? createLogger(config.log.level);
  const clock = o.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  const store = await openStore({ databaseUrl: config.database.url, dataDir, poolSize: config.database.poolSize });
  const applied = await migrateToLatest(store);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

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
  const http = await createHttpServer({
    logger: log,
    bodyLimit: config.server.bodyLimitBytes,
    apiToken: config.server.apiToken ? resolveSecret(config.server.apiToken).reveal() : undefined,
    metrics,
    readiness: {
      async check() {
        const checks: Record<string, string> = {};
        try {
          await sql`select 1`.execute(store.db);
          checks.database = 'ok';
          const pending = await pendingMigrations(store);
          checks.migrations = pending.length ? `pending: ${pending.join(', ')}` : 'ok';
        } catch (e) {
          checks.database = `unreachable: ${(e as Error).message}`;
        }
        return { ok: Object.values(checks).every((v) => v === 'ok'), checks };
      },
    },
  });
  const secrets = new SecretStore(store.db, new SecretBox(loadSecretKey(dataDir)));
  const outbound = new OutboundAudit(store.db, clock, workerId, metrics, log);
  const connections = new Connections(config, outbound, clock, metrics);
  const watch = new TicketWatch({ engine, http, db: store.db });

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
    connections,
    watch,
    async start() {
      await http.listen({ host: config.server.host, port: config.server.port });
      if (o.engine !== false) engine.start();
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.server.port;
      return `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
    },
    async stop() {
      await http.close();
      await engine.stop();
      await outbound.flush();
      await connections.close();
      await store.close();
    },
  };
  registerAdminRoutes(app);
  for (const m of o.modules ?? []) await m.register(app);
  await watch.install();
  return app;
}
