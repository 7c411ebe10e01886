import type { Ticketloop } from '../../app/build.ts';
import { formatPath } from '../../config/common.ts';
import { integrationSchema } from '../../config/schema.ts';
import { HttpProblem } from '../../http/server.ts';
import { appendAudit } from '../../store/audit.ts';
import { defenderShape, type DefenderIntegration } from './config.ts';
import { defenderDb, type DefenderDb } from './tables.ts';

/**
 * Defender integrations: those in the configuration file (read-only here) and those created over
 * the API (rows of `defender_integration`). A deleted API integration stays as a tombstone
 * (`deleted_at`) so the jobs still cleaning up after it can reach its ITSM connection; those jobs
 * need no secret of it.
 *
 * What an API caller may not do that the configuration file may: name a secret by reference
 * (`{file}`, `{env}` — Ticketloop would read and send it), name a file to read (`caFile`), or point
 * a connection at a host outside `outbound.allowHosts`. Secrets given over the API are values,
 * kept in the secret store (encrypted), never in the row, never shown, removed on delete.
 */

export interface IntegrationEntry {
  config: DefenderIntegration;
  source: 'config' | 'api';
}

type Path = readonly string[];

/** Secret fields of an integration: write-only over the API. */
export const SECRET_FIELDS: Path[] = [['notifications', 'smtp', 'password']];
/** Files Ticketloop would read: the configuration file may name them, the API may not. */
const FILE_FIELDS: Path[] = [['notifications', 'smtp', 'caFile']];

const at = (o: unknown, path: Path): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

function setAt(o: Record<string, any>, path: Path, value: unknown): void {
  let v = o;
  for (const k of path.slice(0, -1)) {
    if (!v[k] || typeof v[k] !== 'object') return;
    v = v[k];
  }
  if (value === undefined) delete v[path.at(-1)!];
  else v[path.at(-1)!] = value;
}

/** A copy with every secret field removed (what is stored in the row and kept in a tombstone). */
export function withoutSecrets<T extends object>(config: T): T {
  const out = structuredClone(config) as Record<string, any>;
  for (const p of SECRET_FIELDS) setAt(out, p, undefined);
  return out as T;
}

const secretName = (integration: string, path: Path) => `defender/${integration}/${path.join('.')}`;

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
    const db = defenderDb(this.app.store.db);
    for (const r of await db.selectFrom('defender_integration').selectAll().execute()) {
      const config = await this.upgrade(r.name, JSON.parse(r.config) as DefenderIntegration, r.deleted_at !== null);
      if (r.deleted_at !== null) this.dead.set(r.name, config);
      else if (!this.live.has(config.name)) {
        for (const p of SECRET_FIELDS) setAt(config, p, await this.app.secrets.get(secretName(r.name, p)));
        this.live.set(config.name, { config, source: 'api' });
      }
    }
  }

  /**
   * A row stored before secrets went to the secret store may hold one in its JSON, or a reference
   * or a host an API caller should never have been able to give: move the value to the secret
   * store, drop the rest (reminders off when their server goes), and say so in the log and audit.
   */
  private async upgrade(name: string, stored: DefenderIntegration, deleted: boolean): Promise<DefenderIntegration> {
    const config = withoutSecrets(stored);
    const dropped: string[] = [];
    const moved: [Path, string][] = [];
    for (const p of SECRET_FIELDS) {
      const v = at(stored, p);
      if (v === undefined) continue;
      const value = v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
      if (typeof value !== 'string') dropped.push(`${p.join('.')} (a reference)`);
      else if (deleted) dropped.push(`${p.join('.')} (from the tombstone)`);
      else moved.push([p, value]);
    }
    for (const p of FILE_FIELDS) {
      if (at(config, p) === undefined) continue;
      setAt(config, p, undefined);
      dropped.push(p.join('.'));
    }
    const smtp = config.notifications?.smtp;
    if (smtp && !this.app.allowHosts.allows(smtp.host, smtp.port)) {
      config.notifications = { ...config.notifications, smtp: undefined, owner: false, manager: false };
      dropped.push(`notifications.smtp (host ${smtp.host}:${smtp.port} not allowed)`);
    }
    const keep = moved.filter(([p]) => at(config, p.slice(0, -1)) !== undefined); // not those of a dropped server
    const changed = JSON.stringify(config) !== JSON.stringify(stored);
    if (!changed) return config;
    await this.app.store.db.transaction().execute(async (trx) => {
      for (const [p, v] of keep) await this.app.secrets.put(secretName(name, p), v, { trx });
      await defenderDb(trx)
        .updateTable('defender_integration')
        .set({ config: JSON.stringify(config) })
        .where('name', '=', name)
        .execute();
      const detail = { action: 'api-integration-upgraded', secretsMoved: keep.map(([p]) => p.join('.')), dropped };
      await appendAudit(
        trx,
        [{ kind: 'security', actor: 'ticketloop', subject: `defender/${name}`, detail }],
        this.app.clock.now(),
        this.app.store.keys,
      );
    });
    if (dropped.length)
      this.app.log.warn({ integration: name, dropped }, 'API integration: settings the API may not give were dropped');
    return config;
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

  /** One gone from the configuration file (removal.ts): its settings, for the jobs finishing after it. */
  retire(name: string, config: DefenderIntegration): void {
    if (!this.live.has(name) && !this.dead.has(name)) this.dead.set(name, config);
  }

  entry(name: string): IntegrationEntry | undefined {
    return this.live.get(name);
  }

  /** Validate with the configuration's schema and store; API integrations must name a configured connection. */
  async create(raw: unknown): Promise<DefenderIntegration> {
    const body = raw && typeof raw === 'object' ? { type: 'defender', ...(raw as object) } : raw;
    refuseReferences(body);
    const parsed = this.schema.safeParse(body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: formatPath(['body', ...i.path]), message: i.message }));
      throw invalid(details);
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
    const smtp = config.notifications.smtp;
    if (smtp && !this.app.allowHosts.allows(smtp.host, smtp.port))
      throw invalid([
        {
          path: 'body.notifications.smtp.host',
          message: `${smtp.host}:${smtp.port} is not an allowed host: see ${this.app.allowHosts.describe()}`,
        },
      ]);
    if (this.live.has(config.name) || this.app.config.integrations.some((i) => i.name === config.name)) {
      throw new HttpProblem(409, 'conflict', `an integration named "${config.name}" already exists`);
    }
    const row = {
      name: config.name,
      config: JSON.stringify(withoutSecrets(config)),
      deleted_at: null,
      updated_at: this.app.clock.now(),
    };
    await this.app.store.db.transaction().execute(async (trx) => {
      for (const p of SECRET_FIELDS) {
        const v = at(config, p);
        if (typeof v === 'string') await this.app.secrets.put(secretName(config.name, p), v, { trx });
        else await this.app.secrets.delete(secretName(config.name, p), trx);
      }
      await defenderDb(trx)
        .insertInto('defender_integration')
        .values(row)
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({ config: row.config, deleted_at: null, updated_at: row.updated_at }),
        )
        .execute();
    });
    this.dead.delete(config.name);
    this.live.set(config.name, { config, source: 'api' });
    return config;
  }

  /** Remove an API integration and its secrets, leaving a tombstone; the caller starts the cascade. */
  async remove(name: string): Promise<DefenderIntegration> {
    const e = this.live.get(name);
    if (!e) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    if (e.source === 'config')
      throw new HttpProblem(409, 'conflict', `"${name}" is defined in the config file; remove it there`);
    const now = this.app.clock.now();
    const tombstone = withoutSecrets(e.config);
    await this.app.store.db.transaction().execute(async (trx) => {
      for (const p of SECRET_FIELDS) await this.app.secrets.delete(secretName(name, p), trx);
      await tombstoneRow(defenderDb(trx), name, tombstone, now);
    });
    this.live.delete(name);
    this.dead.set(name, tombstone);
    return tombstone;
  }
}

async function tombstoneRow(db: DefenderDb, name: string, config: DefenderIntegration, now: number) {
  await db
    .updateTable('defender_integration')
    .set({ config: JSON.stringify(config), deleted_at: now, updated_at: now })
    .where('name', '=', name)
    .execute();
}

function invalid(details: { path: string; message: string }[]): HttpProblem {
  return new HttpProblem(400, 'invalid_request', details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
}

/** Before the schema (which accepts references, as the configuration file does): values only. */
function refuseReferences(body: unknown): void {
  const details: { path: string; message: string }[] = [];
  for (const p of SECRET_FIELDS) {
    const v = at(body, p);
    if (v !== undefined && typeof v !== 'string')
      details.push({
        path: formatPath(['body', ...p]),
        message:
          'must be the secret itself, as a string: references ({file}, {env}) are accepted only in the configuration file',
      });
  }
  for (const p of FILE_FIELDS)
    if (at(body, p) !== undefined)
      details.push({
        path: formatPath(['body', ...p]),
        message: 'file paths are accepted only in the configuration file',
      });
  if (details.length) throw invalid(details);
}
