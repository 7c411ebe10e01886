import type { Config } from '../config/schema.ts';

/**
 * Where a connection named over the operator API (an SMTP server of an API-created integration)
 * may go: `outbound.allowHosts`, by default the hosts of the connections in the configuration file
 * (ITSM instance URLs, the Microsoft endpoints, integrations' SMTP servers and inline webhook URLs).
 * Without it an API caller could point Ticketloop, and the credentials it sends, at any host it likes.
 *
 * Entries: `host` (any port), `host:port`, `*.domain` (its subdomains), IPv6 as `[::1]:25`. Names
 * are compared as written (lower case, no trailing dot): `127.1` is not `127.0.0.1`.
 */
export class HostAllowList {
  readonly entries: string[];
  /** Set in the configuration (else derived from the connections). */
  readonly explicit: boolean;
  private readonly rules: { host: string; port?: number; suffix: boolean }[];

  constructor(config: Pick<Config, 'outbound' | 'itsm' | 'integrations' | 'microsoft'>) {
    this.explicit = config.outbound.allowHosts !== undefined;
    this.entries = [...new Set(config.outbound.allowHosts ?? configuredHosts(config))];
    this.rules = this.entries.map(rule);
  }

  allows(host: string, port: number): boolean {
    const h = normalize(host);
    return this.rules.some(
      (r) => (r.port === undefined || r.port === port) && (r.suffix ? h.endsWith(`.${r.host}`) : h === r.host),
    );
  }

  /** For an error message: the key and what it holds. */
  describe(): string {
    const list = this.entries.length ? this.entries.join(', ') : 'none';
    return this.explicit
      ? `outbound.allowHosts (${list})`
      : `outbound.allowHosts (not set; the default is the hosts of the configured connections: ${list})`;
  }
}

function normalize(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[(.*)\]$/, '$1');
}

function rule(entry: string): { host: string; port?: number; suffix: boolean } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim()) ?? [entry, entry];
  const suffix = m[1].startsWith('*.');
  return { host: normalize(suffix ? m[1].slice(2) : m[1]), port: m[2] ? Number(m[2]) : undefined, suffix };
}

function urlHost(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return undefined;
  try {
    const u = new URL(value);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
  } catch {
    return undefined;
  }
}

function configuredHosts(config: Pick<Config, 'itsm' | 'integrations' | 'microsoft'>): string[] {
  const out: string[] = [];
  const add = (h: string | undefined) => h && out.push(h);
  const m = config.microsoft;
  if (m) for (const u of [m.authorityHost, m.graphUrl, m.armUrl]) add(urlHost(u));
  // An adapter's connection points at its system with URL-valued fields (ServiceNow: instanceUrl).
  for (const c of config.itsm) for (const v of Object.values(c)) add(urlHost(v));
  // Servers an integration names, e.g. notifications.smtp: {host, port}, and webhooks given inline
  // (notifications.teams[].url as a string or {value}; one from env or a file is not known here).
  const walk = (v: unknown, depth: number) => {
    if (!v || typeof v !== 'object' || depth > 6) return;
    const o = v as Record<string, unknown>;
    if (typeof o.host === 'string') {
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      add(typeof o.port === 'number' ? `${host}:${o.port}` : host);
    }
    const url = o.url && typeof o.url === 'object' ? (o.url as { value?: unknown }).value : o.url;
    add(urlHost(url));
    for (const child of Object.values(o)) walk(child, depth + 1);
  };
  for (const i of config.integrations) walk(i, 0);
  return out;
}
