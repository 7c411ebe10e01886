import type { Command } from 'commander';
import { buildTicketloop, createLogger, type Ticketloop } from '../app/build.ts';
import type { SetupStep } from '../app/checks.ts';
import type { SetupCommand } from '../app/module.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../app/registry.ts';
import type { LoadedConfig } from '../config/load.ts';
import { validateConfig } from '../app/config.ts';
import { upsertIntegration, upsertSection } from '../config/file-edit.ts';
import { ask } from './prompt.ts';

/**
 * `ticketloop setup <flow|itsm>`: one subcommand per flow module and ITSM adapter that has a
 * setup. Every step is printed with its outcome; a second run reports everything unchanged.
 * Exit code 1 when a step failed, 2 for a usage error (an option named in the message).
 */

const MARK: Record<SetupStep['outcome'], string> = {
  unchanged: '=',
  created: '+',
  updated: '~',
  manual: '!',
  failed: '✗',
};

function print(steps: SetupStep[], notes: string[]): void {
  for (const s of steps)
    process.stdout.write(`${MARK[s.outcome]} ${s.what}: ${s.outcome}${s.detail ? ` — ${s.detail}` : ''}\n`);
  for (const n of notes) process.stdout.write(`    ${n}\n`);
  const changed = steps.filter((s) => s.outcome === 'created' || s.outcome === 'updated').length;
  const manual = steps.filter((s) => s.outcome === 'manual').length;
  const failed = steps.filter((s) => s.outcome === 'failed').length;
  process.stdout.write(
    `\n${changed} changed, ${steps.length - changed - manual - failed} unchanged, ${manual} to do by hand, ${failed} failed\n`,
  );
}

type Load = (file: string | undefined) => LoadedConfig;

/** The ITSM adapter's setup for one connection: the kinds the flows watch plus `extra`. */
async function setupItsm(app: Ticketloop, name: string, extra: string[], o: { publicUrl?: string; dryRun: boolean }) {
  const c = app.config.itsm.find((x) => x.name === name);
  const m = c && ITSM_MODULES.find((x) => x.configKey === c.type);
  if (!c || !m?.setup) return [];
  const { type: _type, ...connection } = c;
  const kinds = [...new Set([...app.watch.kindsOf(name), ...extra])];
  return m.setup(
    connection,
    { recorder: app.outbound, clock: app.clock, registry: app.metrics.registry },
    { kinds, publicUrl: o.publicUrl, dryRun: o.dryRun },
  );
}

const publicUrlOf = (app: Ticketloop, url?: string) => (url ?? app.config.server.publicUrl)?.replace(/\/+$/, '');

const setupApp = (loaded: LoadedConfig) =>
  buildTicketloop(loaded.config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    engine: false,
    logger: createLogger('fatal'),
  });

async function withApp(loaded: LoadedConfig, fn: (app: Ticketloop) => Promise<SetupStep[]>, notes: string[]) {
  const app = await setupApp(loaded);
  let steps: SetupStep[];
  try {
    steps = await fn(app);
  } catch (e) {
    const message = (e as Error).message;
    // An option named first is the user's to fix: a usage error.
    if (/^--[a-z-]+:/.test(message)) {
      process.stderr.write(`error: ${message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  } finally {
    await app.stop();
  }
  print(steps, notes);
  process.exitCode = steps.some((s) => s.outcome === 'failed') ? 1 : 0;
}

function configFile(loaded: LoadedConfig): string {
  if (loaded.source === 'embedded defaults') {
    process.stderr.write(
      'error: setup records what it creates in the configuration file: create ticketloop.yaml first (README: "Run it against your tenant"), or pass --config\n',
    );
    process.exit(2);
  }
  return loaded.source;
}

export function registerSetupCommands(cli: Command, load: Load): void {
  const setup = cli.command('setup').description('create what each loop needs in your tenant and instance');
  const common = (c: Command) =>
    c
      .option('--config <file>', 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)')
      .option('--dry-run', 'show what would change; change nothing');

  for (const m of FLOW_MODULES) {
    if (!m.setup) continue;
    const spec: SetupCommand = m.setup;
    const c = common(setup.command(m.name).description(spec.description));
    for (const o of spec.options) {
      if (o.required) c.requiredOption(o.flags, o.description, o.default);
      else c.option(o.flags, o.description, o.default);
    }
    c.action(async (o: Record<string, any>) => {
      const loaded = load(o.config);
      const file = configFile(loaded);
      const notes: string[] = [];
      // Interactive only at a terminal and with no option of the command's own given.
      const given = Object.keys(o).filter((k) => o[k] !== undefined && k !== 'config' && k !== 'dryRun');
      const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && given.length === 0;
      await withApp(
        loaded,
        (app) =>
          spec.run(app, o, {
            dryRun: Boolean(o.dryRun),
            recordIntegration: (entry) =>
              upsertIntegration(file, entry, { dryRun: Boolean(o.dryRun), validate: validateConfig }),
            setupItsm: (name, kinds) =>
              setupItsm(app, name, kinds, { publicUrl: publicUrlOf(app, o.url), dryRun: Boolean(o.dryRun) }),
            say: (text) => notes.push(text),
            recordSection: (key, value, so) =>
              upsertSection(file, key, value, { ...so, dryRun: Boolean(o.dryRun), validate: validateConfig }),
            async withReloadedApp(fn) {
              const fresh = await setupApp(load(file));
              try {
                return await fn(fresh);
              } finally {
                await fresh.stop();
              }
            },
            ask: interactive ? ask : undefined,
          }),
        notes,
      );
    });
  }

  for (const m of ITSM_MODULES) {
    if (!m.setup) continue;
    common(
      setup
        .command(m.configKey)
        .description(`verify the ${m.configKey} instance and install what Ticketloop needs there`),
    )
      .option('--connection <name>', 'the connection (default: every one of this type)')
      .option('--url <url>', 'where the instance reaches Ticketloop (default: server.publicUrl)')
      .action(async (o: { config?: string; dryRun?: boolean; connection?: string; url?: string }) => {
        const loaded = load(o.config);
        await withApp(
          loaded,
          async (app) => {
            const connections = app.config.itsm.filter(
              (c) => c.type === m.configKey && (!o.connection || c.name === o.connection),
            );
            if (!connections.length)
              throw new Error(
                `--connection: no ${m.configKey} connection${o.connection ? ` named "${o.connection}"` : ''} in ${loaded.source}`,
              );
            const steps: SetupStep[] = [];
            for (const c of connections)
              steps.push(
                ...(await setupItsm(app, c.name, [], {
                  publicUrl: publicUrlOf(app, o.url),
                  dryRun: Boolean(o.dryRun),
                })),
              );
            return steps;
          },
          [],
        );
      });
  }
  setup.action(() => setup.help({ error: true }));
}
