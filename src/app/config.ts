import { buildConfigSchema, type Config } from '../config/schema.ts';
import { loadConfig as load, validateConfig as validate, type LoadOptions, type LoadedConfig } from '../config/load.ts';
import { FLOW_MODULES, ITSM_MODULES } from './registry.ts';

/** The configuration schema of the registered modules, and loading against it. */

export const configSchema = buildConfigSchema(
  ITSM_MODULES,
  FLOW_MODULES.flatMap((m) => (m.integration ? [m.integration] : [])),
);

export function validateConfig(raw: unknown, source: string): Config {
  return validate(configSchema, raw, source);
}

export function loadConfig(o: LoadOptions = {}): LoadedConfig {
  return load(configSchema, o);
}
