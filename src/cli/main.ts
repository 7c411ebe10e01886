import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { buildTicketloop, createLogger, moduleMigrations } from '../app/build.ts';
import { loadConfig } from '../app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../app/registry.ts';
import { ConfigError, type LoadedConfig } from '../config/load.ts';
import { listJobs, retryDeadJobs, countJobsByState } from '../engine/jobs.ts';
import { verifyAudit } from '../store/audit.ts';
import { openStore, StoreUnavailableError } from '../store/db.ts';
import { migrateToLatest } from '../store/migrations.ts';
import type { Config } from '../config/schema.ts';
import { systemClock } from '../engine/clock.ts';

const USAGE = `ticketloop — closes the loop between cloud events and ITSM tickets

Usage: ticketloop <command> [options]

Commands:
  start                 run the service (HTTP + engine)
  demo [--auto]         start the sandbox and Ticketloop and walk through the loops
  sandbox               start the sandbox services alone (ServiceNow, Microsoft, Azure)
  migrate               apply database migrations
  config check          validate the configuration; print each error with its path
  jobs list [--state S] [--kind K] [--limit N]
  jobs dead             list dead-lettered jobs
  jobs retry <id>|--all put dead-lettered jobs back in the queue
  audit verify          check the audit log's hash chain

Options:
  --config FILE         configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)
  -h, --help            this text
`;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function loaded(file: string | undefined): LoadedConfig {
  try {
    return loadConfig({ file });
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

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      state: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      auto: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }

  switch (command) {
    case 'config': {
      if (sub !== 'check') fail(`unknown command: config ${sub ?? ''}\n\n${USAGE}`, 2);
      try {
        const { source } = loadConfig({ file: values.config });
        process.stdout.write(`configuration OK (${source})\n`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const p of e.problems) process.stderr.write(`${p.path || '(root)'}: ${p.message}\n`);
        process.stderr.write(`${e.problems.length} problem(s) in ${e.source}\n`);
        process.exit(1);
      }
      return;
    }
    case 'migrate': {
      const config = load(values.config);
      const store = await openStore({ databaseUrl: config.database.url, dataDir: resolve(config.dataDir) });
      const applied = await migrateToLatest(store, migrations);
      await store.close();
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      return;
    }
    case 'jobs': {
      const config = load(values.config);
      await withStore(config, async (store) => {
        if (sub === 'list' || sub === 'dead') {
          const state = sub === 'dead' ? 'dead' : (values.state as 'ready' | 'running' | 'done' | 'dead' | undefined);
          if (state && !['ready', 'running', 'done', 'dead'].includes(state))
            fail(`--state must be ready, running, done or dead`, 2);
          const jobs = await listJobs(store.db, { state, kind: values.kind, limit: Number(values.limit ?? 50) });
          process.stdout.write(
            `${table(jobs.map((j) => ({ id: j.id, kind: j.kind, state: j.state, attempts: `${j.attempts}/${j.max_attempts}`, run_at: new Date(Number(j.run_at)).toISOString(), last_error: j.last_error ?? '' })))}\n`,
          );
          const counts = await countJobsByState(store.db);
          process.stdout.write(
            `\n${Object.entries(counts)
              .map(([k, v]) => `${k}: ${v}`)
              .join('  ')}\n`,
          );
        } else if (sub === 'retry') {
          if (!arg && !values.all) fail('jobs retry needs a job id or --all', 2);
          const n = await retryDeadJobs(store.db, systemClock.now(), values.all ? undefined : arg);
          if (n === 0) fail(values.all ? 'no dead jobs' : `no dead job with id ${arg}`, 1);
          process.stdout.write(`re-queued ${n} job(s)\n`);
        } else fail(`unknown command: jobs ${sub ?? ''}\n\n${USAGE}`, 2);
      });
      return;
    }
    case 'audit': {
      if (sub !== 'verify') fail(`unknown command: audit ${sub ?? ''}\n\n${USAGE}`, 2);
      const config = load(values.config);
      const r = await withStore(config, (store) => verifyAudit(store.db));
      if (r.ok) process.stdout.write(`audit log OK: ${r.rows} rows, hash chain intact\n`);
      else fail(`audit log FAILED verification: ${r.problem} (after ${r.rows} good rows)`, 1);
      return;
    }
    case 'start': {
      const config = load(values.config);
      const app = await buildTicketloop(config, { itsm: ITSM_MODULES, flows: FLOW_MODULES });
      const url = await app.start();
      app.log.info({ url, database: app.store.description }, 'Ticketloop started');
      const shutdown = async (signal: string) => {
        app.log.info({ signal }, 'shutting down');
        await app.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      return;
    }
    case 'sandbox': {
      const { runSandboxCommand } = await import('./sandbox.ts');
      await runSandboxCommand(load(values.config));
      return;
    }
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      const { raw, config } = loaded(values.config);
      await runDemo(raw, config, { auto: Boolean(values.auto) });
      return;
    }
    default:
      fail(`unknown command: ${command}\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof StoreUnavailableError) fail(`cannot start: ${e.message}`, 1);
  if (e instanceof ConfigError) fail(e.message, 2);
  createLogger('error').error({ err: e }, 'fatal');
  fail(`fatal: ${(e as Error).message}`, 1);
});
