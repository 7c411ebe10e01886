import type { Ticketloop } from '../../app/build.ts';
import { formatPath } from '../../config/common.ts';
import { integrationSchema } from '../../config/schema.ts';
import { HttpProblem } from '../../http/server.ts';
import { defenderShape, type DefenderIntegration } from './config.ts';
import { defenderDb } from './tables.ts';

/**
 * Defender integrations: those in the configuration file (read-only here) and those created over
 * the API (rows of `defender_integration`). A deleted API integration stays as a tombstone
 * (`deleted_at`) so the jobs still cleaning up after it can reach its ITSM connection.
 */

export interface IntegrationEntry {
  config: DefenderIntegration;
  source: 'config' | 'api';
}

export class Integrations {
  private readonly live = new Map<string, IntegrationEntry>();
  private readonly dead = new Map<string, DefenderIntegration>();
  private readonly schema;

  constructor(private readonly app: Ticketloop) {
    for (const config of app.integrations<DefenderIntegration>('defender'))
      this.live.set(config.name, { config, source: 'config' });
    this.schema = integrationSchema({ type: 'defender', shape: defenderShape }, app.itsmModules);
  }

  async load(): Promise<void> {
    const rows = await defenderDb(this.app.store.db).selectFrom('defender_integration').selectAll().execute();
    for (const r of rows) {
      const config = JSON.parse(r.config) as DefenderIntegration;
      if (r.deleted_at !== null) this.dead.set(r.name, config);
      else if (!this.live.has(config.name)) this.live.set(config.name, { config, source: 'api' });
    }
  }

  list(): IntegrationEntry[] {
    return [...this.live.values()].sort((a, b) => a.config.name.localeCompare(b.config.name));
  }

  get(name: string): DefenderIntegration | undefined {
    return this.live.get(name)?.config;
  }

  /** Live or deleted: effect handlers finishing work for a deleted integration still need its settings. */
  any(name: string): DefenderIntegration | undefined {
    return this.live.get(name)?.config ?? this.dead.get(name);
  }

  entry(name: string): IntegrationEntry | undefined {
    return this.live.get(name);
  }

  /** Validate with the configuration's schema and store; API integrations must name a configured connection. */
  async create(raw: unknown): Promise<DefenderIntegration> {
    const body = raw && typeof raw === 'object' ? { type: 'defender', ...(raw as object) } : raw;
    const parsed = this.schema.safeParse(body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: formatPath(['body', ...i.path]), message: i.message }));
      throw new HttpProblem(400, 'invalid_request', details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
    }
    const data = parsed.data as Record<string, unknown>;
    const refs = ['itsm', ...this.app.itsmModules.map((m) => m.configKey)].filter((k) => data[k] !== undefined);
    if (refs.length !== 1 || typeof data[refs[0]] !== 'string') {
      throw new HttpProblem(
        400,
        'invalid_request',
        'itsm must name a connection from the config file (credentials are not accepted over the API)',
      );
    }
    const itsm = data[refs[0]] as string;
    if (!this.app.connections.hasItsm(itsm))
      throw new HttpProblem(400, 'invalid_request', `no ITSM connection named "${itsm}"`);
    for (const k of refs) delete data[k];
    const config = { ...data, itsm } as DefenderIntegration;
    if (this.live.has(config.name) || this.app.config.integrations.some((i) => i.name === config.name)) {
      throw new HttpProblem(409, 'conflict', `an integration named "${config.name}" already exists`);
    }
    const row = {
      name: config.name,
      config: JSON.stringify(config),
      deleted_at: null,
      updated_at: this.app.clock.now(),
    };
    await defenderDb(this.app.store.db)
      .insertInto('defender_integration')
      .values(row)
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({ config: row.config, deleted_at: null, updated_at: row.updated_at }),
      )
      .execute();
    this.dead.delete(config.name);
    this.live.set(config.name, { config, source: 'api' });
    return config;
  }

  /** Remove an API integration, leaving a tombstone; the caller starts the cascade. */
  async remove(name: string): Promise<DefenderIntegration> {
    const e = this.live.get(name);
    if (!e) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    if (e.source === 'config')
      throw new HttpProblem(409, 'conflict', `"${name}" is defined in the config file; remove it there`);
    const now = this.app.clock.now();
    await defenderDb(this.app.store.db)
      .updateTable('defender_integration')
      .set({ deleted_at: now, updated_at: now })
      .where('name', '=', name)
      .execute();
    this.live.delete(name);
    this.dead.set(name, e.config);
    return e.config;
  }
}
