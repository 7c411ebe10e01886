import type { Ticketloop } from '../../app/build.ts';
import { formatPath } from '../../config/load.ts';
import { HttpProblem } from '../../http/server.ts';
import { defenderIntegration, type DefenderIntegration } from './config.ts';

/**
 * Defender integrations: those in the config file (seeded, read-only here) and those created
 * through the API (kept in `kv`). A deleted API integration leaves a tombstone so the jobs still
 * cleaning up after it can reach its ServiceNow instance.
 */

const LIVE = 'defender:integration:';
const TOMBSTONE = 'defender:deleted:';

export interface IntegrationEntry {
  config: DefenderIntegration;
  source: 'config' | 'api';
}

export class Integrations {
  private readonly live = new Map<string, IntegrationEntry>();
  private readonly dead = new Map<string, DefenderIntegration>();

  constructor(private readonly app: Ticketloop) {
    for (const i of app.config.integrations) if (i.type === 'defender') this.live.set(i.name, { config: i, source: 'config' });
  }

  async load(): Promise<void> {
    const rows = await this.app.store.db.selectFrom('kv').select(['key', 'value']).where('key', 'like', 'defender:%').execute();
    for (const r of rows) {
      if (r.key.startsWith(LIVE)) {
        const config = defenderIntegration.parse(JSON.parse(r.value));
        if (!this.live.has(config.name)) this.live.set(config.name, { config, source: 'api' });
      } else if (r.key.startsWith(TOMBSTONE)) {
        this.dead.set(r.key.slice(TOMBSTONE.length), defenderIntegration.parse(JSON.parse(r.value)));
      }
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

  /** Validate with the config schema and store; API integrations must name a configured instance. */
  async create(raw: unknown): Promise<DefenderIntegration> {
    const body = raw && typeof raw === 'object' ? { type: 'defender', ...(raw as object) } : raw;
    const parsed = defenderIntegration.safeParse(body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: formatPath(['body', ...i.path]), message: i.message }));
      throw new HttpProblem(400, 'invalid_request', details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
    }
    const config = parsed.data;
    if (typeof config.servicenow !== 'string') {
      throw new HttpProblem(400, 'invalid_request', 'servicenow must name an instance from the config file (credentials are not accepted over the API)');
    }
    if (!this.app.config.servicenow.some((s) => s.name === config.servicenow)) {
      throw new HttpProblem(400, 'invalid_request', `no servicenow instance named "${config.servicenow}"`);
    }
    if (this.live.has(config.name) || this.app.config.integrations.some((i) => i.name === config.name)) {
      throw new HttpProblem(409, 'conflict', `an integration named "${config.name}" already exists`);
    }
    const now = this.app.clock.now();
    await this.app.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('kv').where('key', '=', TOMBSTONE + config.name).execute();
      await trx.insertInto('kv').values({ key: LIVE + config.name, value: JSON.stringify(config), updated_at: now }).execute();
    });
    this.dead.delete(config.name);
    this.live.set(config.name, { config, source: 'api' });
    return config;
  }

  /** Remove an API integration, leaving a tombstone; the caller starts the cascade. */
  async remove(name: string): Promise<DefenderIntegration> {
    const e = this.live.get(name);
    if (!e) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    if (e.source === 'config') throw new HttpProblem(409, 'conflict', `"${name}" is defined in the config file; remove it there`);
    const now = this.app.clock.now();
    await this.app.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('kv').where('key', '=', LIVE + name).execute();
      await trx
        .insertInto('kv')
        .values({ key: TOMBSTONE + name, value: JSON.stringify(e.config), updated_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(e.config), updated_at: now }))
        .execute();
    });
    this.live.delete(name);
    this.dead.set(name, e.config);
    return e.config;
  }
}
