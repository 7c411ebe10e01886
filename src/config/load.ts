import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { formatPath } from './common.ts';
import type { Config } from './schema.ts';

/**
 * Load the configuration: file (YAML or JSON) → environment overrides → schema. Nothing is
 * started with an invalid configuration; every problem is reported with its path.
 */

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `invalid configuration (${source}):\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** The file to read: explicit, $TICKETLOOP_CONFIG, or ./ticketloop.{yaml,yml,json} if present. */
export function findConfigFile(explicit?: string, env = process.env): string | undefined {
  if (explicit) return resolve(explicit);
  if (env.TICKETLOOP_CONFIG) return resolve(env.TICKETLOOP_CONFIG);
  return ['ticketloop.yaml', 'ticketloop.yml', 'ticketloop.json'].map((f) => resolve(f)).find((f) => existsSync(f));
}

function parseFile(file: string): unknown {
  if (!existsSync(file)) throw new ConfigError(file, [{ path: '', message: `file not found: ${file}` }]);
  const text = readFileSync(file, 'utf8');
  try {
    if (file.endsWith('.json')) return JSON.parse(text);
    // The YAML parser is loaded only for a YAML file.
    const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return YAML.parse(text) ?? {};
  } catch (e) {
    throw new ConfigError(file, [{ path: '', message: `cannot parse: ${(e as Error).message}` }]);
  }
}

function setPath(obj: Record<string, any>, path: string[], value: unknown) {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = /^\d+$/.test(k) ? [] : {};
    o = o[k];
  }
  o[path.at(-1)!] = value;
}

function envValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * Environment overrides: the usual names (DATABASE_URL, PORT, LOG_LEVEL, TICKETLOOP_DATA_DIR) and
 * any path as TICKETLOOP__a__b=value (JSON values allowed), e.g. TICKETLOOP__engine__concurrency=32.
 */
export function applyEnv(raw: Record<string, any>, env: NodeJS.ProcessEnv): Record<string, any> {
  const out = structuredClone(raw);
  const named: Record<string, string[]> = {
    DATABASE_URL: ['database', 'url'],
    TICKETLOOP_DATABASE_URL: ['database', 'url'],
    PORT: ['server', 'port'],
    TICKETLOOP_PORT: ['server', 'port'],
    TICKETLOOP_HOST: ['server', 'host'],
    TICKETLOOP_DATA_DIR: ['dataDir'],
    LOG_LEVEL: ['log', 'level'],
    TICKETLOOP_LOG_LEVEL: ['log', 'level'],
  };
  for (const [name, path] of Object.entries(named)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(out, path, path[0] === 'server' && path[1] === 'port' ? Number(v) : v);
  }
  for (const [name, v] of Object.entries(env)) {
    if (!name.startsWith('TICKETLOOP__') || v === undefined) continue;
    setPath(out, name.slice('TICKETLOOP__'.length).split('__'), envValue(v));
  }
  return out;
}

/** Validate against the schema built from the registered modules (app/config.ts binds it). */
export function validateConfig(schema: z.ZodType<Config>, raw: unknown, source: string): Config {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ConfigError(source, issues(r.error));
  return r.data;
}

function issues(e: z.ZodError): ConfigProblem[] {
  return e.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

export interface LoadedConfig {
  config: Config;
  /** What was validated (file + environment + overrides), for tools that extend it (the demo). */
  raw: Record<string, any>;
  source: string;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, any>;
}

export function loadConfig(schema: z.ZodType<Config>, o: LoadOptions = {}): LoadedConfig {
  const env = o.env ?? process.env;
  const file = findConfigFile(o.file, env);
  const raw = file ? parseFile(file) : {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(file ?? 'defaults', [{ path: '', message: 'must be an object' }]);
  const merged = { ...applyEnv(raw as Record<string, any>, env), ...(o.overrides ?? {}) };
  const source = file ?? 'embedded defaults';
  const config = validateConfig(schema, merged, source);
  checkSecrets(merged, source, env);
  return { config, raw: merged, source };
}

/** Secret references must resolve now, so a missing env var or file is caught by `config check`. */
function checkSecrets(raw: Record<string, unknown>, source: string, env: NodeJS.ProcessEnv) {
  const problems: ConfigProblem[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if ('env' in o && Object.keys(o).length === 1 && typeof o.env === 'string') {
      if (!env[o.env]) problems.push({ path: formatPath(path), message: `environment variable ${o.env} is not set` });
      return;
    }
    if ('file' in o && Object.keys(o).length === 1 && typeof o.file === 'string') {
      if (!existsSync(o.file)) problems.push({ path: formatPath(path), message: `secret file not found: ${o.file}` });
      return;
    }
    for (const [k, child] of Object.entries(o)) walk(child, [...path, Array.isArray(v) ? Number(k) : k]);
  };
  walk(raw, []);
  if (problems.length) throw new ConfigError(source, problems);
}
