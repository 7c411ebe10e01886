import type { SetupStep } from './checks.ts';
import { upsertIntegration, upsertSection } from '../config/file-edit.ts';
import { loadConfig, validateConfig } from '../config/load.ts';
import { buildConfigSchema, type Config } from '../config/schema.ts';
import type { ItsmModule } from '../itsm/port.ts';
import type { FlowModule } from './module.ts';

/**
 * The configuration file a running Ticketloop was started from, for setup done over the API (the
 * console's setup pages): read it as it is now, record a section or an integration in it (comments
 * kept, validated before it is written), and build a second app from it to test what was saved.
 * The running app keeps the configuration it started with: modules, schedules and connections are
 * built once at start, so a saved change applies at the next start.
 */
export interface ConfigFile {
  path: string;
  /** The file as it is now, validated (what a restart would run with). */
  read(): Config;
  recordSection(key: string, value: Record<string, unknown>, o?: { listBy?: string }): Promise<SetupStep>;
  recordIntegration(entry: Record<string, unknown> & { name: string }): Promise<SetupStep>;
  /** Run `fn` on an app (no engine, no HTTP) built from the file as it is now; stopped after. */
  withReloadedApp<T>(fn: (app: App) => Promise<T>): Promise<T>;
}

interface App {
  stop(): Promise<void>;
}

export function configFileOf<A extends App>(
  path: string,
  modules: { itsm: ItsmModule[]; flows: FlowModule[] },
  build: (config: Config) => Promise<A>,
): ConfigFile & { withReloadedApp<T>(fn: (app: A) => Promise<T>): Promise<T> } {
  const schema = buildConfigSchema(
    modules.itsm,
    modules.flows.flatMap((m) => (m.integration ? [m.integration] : [])),
  );
  const validate = (raw: unknown, source: string) => validateConfig(schema, raw, source);
  const read = () => loadConfig(schema, { file: path }).config;
  return {
    path,
    read,
    recordSection: (key, value, o) => upsertSection(path, key, value, { ...o, validate }),
    recordIntegration: (entry) => upsertIntegration(path, entry, { validate }),
    async withReloadedApp(fn) {
      const fresh = await build(read());
      try {
        return await fn(fresh);
      } finally {
        await fresh.stop();
      }
    },
  };
}
