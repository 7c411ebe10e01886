import { buildConfigSchema, type Config } from '../config/schema.ts';
import { loadConfig as load, validateConfig as validate, type LoadOptions, type LoadedConfig } from '../config/load.ts';
import type { ItsmModule } from '../itsm/port.ts';
import type { FlowModule } from './module.ts';
import { FLOW_MODULES, ITSM_MODULES } from './registry.ts';

/** The configuration schema of the registered modules, and loading against it. */

export function configSchemaFor(itsm: ItsmModule[], flows: FlowModule[]) {
  return buildConfigSchema(
    itsm,
    flows.flatMap((m) => (m.integration ? [m.integration] : [])),
  );
}

export const configSchema = configSchemaFor(ITSM_MODULES, FLOW_MODULES);

export function validateConfig(raw: unknown, source: string): Config {
  return validate(configSchema, raw, source);
}

export function loadConfig(o: LoadOptions = {}): LoadedConfig {
  return load(configSchema, o);
}
