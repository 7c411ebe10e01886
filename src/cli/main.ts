import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { buildTicketloop, createLogger, moduleMigrations } from '../app/build.ts';
import { loadConfig } from '../app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../app/registry.ts';
import { ConfigError, type LoadedConfig } from '../config/load.ts';
import { listJobs, retryDeadJobs, countJobsByState } from '../engine/jobs.ts';
import { openStore, StoreUnavailableError } from '../store/db.ts';
import { migrateToLatest } from '../store/migrations.ts';
import type { Config } from '../config/schema.ts';
import { systemClock } from '../engine/clock.ts';
import { registerAuditCommands } from './audit.ts';
import { registerSecretsCommands } from './secrets.ts';
import { registerIdentityCommands } from './identity.ts';
import { registerPodCommands } from './pod.ts';
import { registerM365Commands } from './m365.ts';
import { registerSetupCommands } from './setup.ts';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function loaded(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  try {
    return loadConfig({ file, env });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
}

const load = (file: string | undefined): Config => loaded(file).config;
const migrations = moduleMigrations(FLOW_MODULES);

async function withStore<T>(config: Config, fn: (s: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore({ databaseUrl: config.database.url, dataDir: resolve(config.dataDir) });
  try {
    await migrateToLatest(store, migrations);
    return await fn(store);
  } finally {
    await store.close();
  }
}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length))));
  const line = (vals: string[]) => vals.map((v, i) => v.slice(0, 60).padEnd(width[i])).join('  ');
  return [
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))),
  ].join('\n');
}

/** The package's version, from the nearest package.json (the same from src/ and from dist/). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ticketloop') return pkg.version ?? 'unknown';
    } catch {
      // not here: look one level up
    }
  }
  return 'unknown';
}

function integer(name: string, min: number, max: number) {
  return (value: string): string => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
}

const JOB_STATES = ['ready', 'running', 'done', 'dead'] as const;

function printJobs(jobs: Awaited<ReturnType<typeof listJobs>>): void {
  const rows = jobs.map((j) => ({
    id: j.id,
    kind: j.kind,
    state: j.state,
    attempts: `${j.attempts}/${j.max_attempts}`,
    run_at: new Date(Number(j.run_at)).toISOString(),
    last_error: j.last_error ?? '',
  }));
  process.stdout.write(`${table(rows)}\n`);
}

export function program(): Command {
  const cli = new Command('ticketloop')
    .description('closes the loop between cloud events and ITSM tickets')
    .version(version(), '-v, --version')
    .showHelpAfterError()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .exitOverride();
  // Every command reads the same configuration file.
  const withConfig = (c: Command) =>
    c.option('--config <file>', 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)');

  withConfig(cli.command('start').description('run the service (HTTP + engine)'))
    .option('--port <port>', 'listen on this port (overrides server.port)', integer('--port', 0, 65535))
    .option('--host <host>', 'listen on this address (overrides server.host)')
    .action(async (o: { config?: string; port?: string; host?: string }) => {
      const env = {
        ...process.env,
        ...(o.port ? { PORT: o.port } : {}),
        ...(o.host ? { TICKETLOOP_HOST: o.host } : {}),
      };
      const { config, source } = loaded(o.config, env);
      const configFile = source === 'embedded defaults' ? undefined : source;
      const app = await buildTicketloop(config, { itsm: ITSM_MODULES, flows: FLOW_MODULES, configFile });
      const url = await app.start();
      app.log.info({ url, database: app.store.description }, 'Ticketloop started');
      // The first start without users: the setup token is in a warning on stdout (JSON logs); on a
      // terminal it is printed plainly too (piped, stdout stays JSON lines).
      if (app.identity.setupToken && process.stdout.isTTY)
        process.stdout.write(
          `\nFirst start: create the first admin with the one-time setup token\n  ${app.identity.setupToken}\n` +
            `(POST ${app.config.server.publicUrl ?? url}/api/setup/first-admin {"token", "name", "password"}, or: ticketloop users add <name> --role admin)\n\n`,
        );
      // In the background: a wrong secret or a missing permission is one warning line now, not job retries later.
      void app.checkConnections({ log: true }).catch((e) => app.log.error({ err: e }, 'connection check failed'));
      const shutdown = async (signal: string) => {
        app.log.info({ signal }, 'shutting down');
        await app.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
    });

  withConfig(cli.command('demo').description('start the sandbox and Ticketloop and walk through the loops'))
    .option('--auto', 'play the IT agent too, and exit when every loop is closed')
    .action(async (o: { config?: string; auto?: boolean }) => {
      const { runDemo } = await import('./demo.ts');
      const { raw, config } = loaded(o.config);
      await runDemo(raw, config, { auto: Boolean(o.auto) });
    });

  withConfig(cli.command('sandbox').description('start the sandbox services alone (ServiceNow, Microsoft, Azure)'))
    .option('--seed <set>', 'load a data set into ServiceNow first (demo: incidents, requests, articles)', (v) => {
      if (v !== 'demo') throw new InvalidArgumentError('the only seed set is demo');
      return v;
    })
    .action(async (o: { config?: string; seed?: 'demo' }) => {
      const { runSandboxCommand } = await import('./sandbox.ts');
      await runSandboxCommand(load(o.config), { seed: o.seed });
    });

  withConfig(cli.command('doctor').description('check every connection and permission; exit 1 when one fails')).action(
    async (o: { config?: string }) => {
      const { config } = loaded(o.config);
      const { formatChecks } = await import('../app/doctor.ts');
      let app;
      try {
        app = await buildTicketloop(config, {
          itsm: ITSM_MODULES,
          flows: FLOW_MODULES,
          engine: false,
          logger: createLogger('fatal'),
        });
      } catch (e) {
        if (!(e instanceof StoreUnavailableError)) throw e;
        fail(
          `✗ database — connect: ${e.message}
    fix: check database.url and that PostgreSQL is running`,
          1,
        );
      }
      const results = await app.checkConnections();
      await app.stop();
      const failed = results.filter((r) => !r.ok).length;
      process.stdout.write(`✓ database — ${app.store.description}
${formatChecks(results)}

`);
      process.stdout.write(
        failed ? `${failed} of ${results.length + 1} checks failed\n` : `all ${results.length + 1} checks passed\n`,
      );
      process.exitCode = failed ? 1 : 0;
    },
  );

  withConfig(cli.command('migrate').description('apply database migrations')).action(async (o: { config?: string }) => {
    const config = load(o.config);
    const store = await openStore({ databaseUrl: config.database.url, dataDir: resolve(config.dataDir) });
    const applied = await migrateToLatest(store, migrations);
    await store.close();
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  });

  const configCommand = cli.command('config').description('the configuration file');
  withConfig(
    configCommand.command('check').description('validate the configuration; print each error with its path'),
  ).action((o: { config?: string }) => {
    try {
      const { source } = loadConfig({ file: o.config });
      process.stdout.write(`configuration OK (${source})\n`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) process.stderr.write(`${p.path || '(root)'}: ${p.message}\n`);
      process.stderr.write(`${e.problems.length} problem(s) in ${e.source}\n`);
      process.exit(1);
    }
  });

  const jobs = cli.command('jobs').description('inspect the job queue, retry dead letters');
  withConfig(jobs.command('list').description('list jobs, newest first'))
    .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`, (v) => {
      if (!(JOB_STATES as readonly string[]).includes(v))
        throw new InvalidArgumentError(`--state must be ${JOB_STATES.join(', ')}`);
      return v;
    })
    .option('--kind <kind>', 'only jobs of this kind')
    .option('--limit <n>', 'at most this many (default 50)', integer('--limit', 1, 1000))
    .action(async (o: { config?: string; state?: (typeof JOB_STATES)[number]; kind?: string; limit?: string }) => {
      await withStore(load(o.config), async (store) => {
        printJobs(await listJobs(store.db, { state: o.state, kind: o.kind, limit: Number(o.limit ?? 50) }));
        const counts = await countJobsByState(store.db);
        const summary = Object.entries(counts).map(([k, v]) => `${k}: ${v}`);
        process.stdout.write(`\n${summary.join('  ')}\n`);
      });
    });
  withConfig(jobs.command('dead').description('list dead-lettered jobs')).action(async (o: { config?: string }) => {
    await withStore(load(o.config), async (store) =>
      printJobs(await listJobs(store.db, { state: 'dead', limit: 1000 })),
    );
  });
  withConfig(jobs.command('retry').description('put dead-lettered jobs back in the queue'))
    .argument('[id]', 'the dead job to retry')
    .option('--all', 'every dead job')
    .action(async (id: string | undefined, o: { config?: string; all?: boolean }, command: Command) => {
      if (!id && !o.all) command.error('error: jobs retry needs a job id or --all');
      await withStore(load(o.config), async (store) => {
        const n = await retryDeadJobs(store.db, systemClock.now(), o.all ? undefined : id);
        if (n === 0) fail(o.all ? 'no dead jobs' : `no dead job with id ${id}`, 1);
        process.stdout.write(`re-queued ${n} job(s)\n`);
      });
    });

  registerSetupCommands(cli, (file) => loaded(file));
  registerSecretsCommands(cli, (file) => loaded(file));
  registerAuditCommands(cli, (file) => loaded(file));
  registerIdentityCommands(cli, (file) => loaded(file));
  registerPodCommands(cli);
  registerM365Commands(cli);

  // A command group without its subcommand shows its help (and is a usage error).
  for (const group of [configCommand, jobs]) group.action(() => group.help({ error: true }));
  return cli;
}

program()
  .parseAsync(process.argv)
  .catch((e) => {
    if (e instanceof CommanderError) {
      // Usage errors (unknown option or command, missing argument) exit 2; --help and --version 0.
      process.exit(e.exitCode === 0 ? 0 : 2);
    }
    if (e instanceof StoreUnavailableError) fail(`cannot start: ${e.message}`, 1);
    if (e instanceof ConfigError) fail(e.message, 2);
    createLogger('error').error({ err: e }, 'fatal');
    fail(`fatal: ${(e as Error).message}`, 1);
  });
