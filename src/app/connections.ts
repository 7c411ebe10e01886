import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import type { Config, MicrosoftConnection } from '../config/schema.ts';
import { resolveSecret } from '../config/secrets.ts';
import type { OutboundRecorder } from '../connectors/http.ts';
import { ArmClient, ARM_SCOPE } from '../connectors/microsoft/arm.ts';
import { GraphClient, GRAPH_SCOPE } from '../connectors/microsoft/graph.ts';
import { EntraTokenSource } from '../connectors/microsoft/identity.ts';
import type { Clock } from '../engine/clock.ts';
import type { ItsmModule, ItsmPort } from '../itsm/port.ts';

/**
 * Connections built from configuration, once each and shared by every flow: one ITSM port per
 * named connection (through its adapter module), one Entra token source with Graph and ARM clients.
 */

export interface MicrosoftHandle {
  config: MicrosoftConnection;
  tokens: EntraTokenSource;
  graph: GraphClient;
  arm: ArmClient;
}

export class Connections {
  private readonly ports = new Map<string, ItsmPort>();
  private ms: MicrosoftHandle | undefined;

  constructor(
    private readonly config: Config,
    private readonly adapters: ItsmModule[],
    private readonly deps: { recorder: OutboundRecorder; clock: Clock; registry: Registry },
  ) {}

  /** The ITSM connection with this name (every configured one, inline ones included). */
  itsm(name: string): ItsmPort {
    const existing = this.ports.get(name);
    if (existing) return existing;
    const config = this.config.itsm.find((c) => c.name === name);
    if (!config) throw new Error(`no ITSM connection named "${name}"`);
    const adapter = this.adapters.find((a) => a.configKey === config.type);
    if (!adapter) throw new Error(`no ITSM adapter for "${config.type}" (connection "${name}")`);
    const { type: _type, ...connection } = config;
    const port = adapter.connect(connection, this.deps);
    this.ports.set(name, port);
    return port;
  }

  /** Every configured ITSM connection. */
  itsmAll(): ItsmPort[] {
    return this.config.itsm.map((c) => this.itsm(c.name));
  }

  hasItsm(name: string): boolean {
    return this.config.itsm.some((c) => c.name === name);
  }

  microsoft(): MicrosoftHandle {
    if (this.ms) return this.ms;
    const config = this.config.microsoft;
    if (!config) throw new Error('no `microsoft` connection configured');
    const ca = config.caFile ? readFileSync(config.caFile) : undefined;
    const tokens = new EntraTokenSource({
      authorityHost: config.authorityHost,
      tenantId: config.tenantId,
      clientId: config.clientId,
      clientSecret: config.clientSecret ? resolveSecret(config.clientSecret).reveal() : undefined,
      certificate: config.certificate
        ? {
            certificatePem: resolveSecret(config.certificate.certificatePem).reveal(),
            privateKeyPem: resolveSecret(config.certificate.privateKeyPem).reveal(),
          }
        : undefined,
      ca,
      clock: this.deps.clock,
    });
    const recorder = this.deps.recorder;
    const graph = new GraphClient({ graphUrl: config.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca, recorder });
    const arm = new ArmClient({ baseUrl: config.armUrl, auth: tokens.authProvider(ARM_SCOPE), ca, recorder });
    this.ms = { config, tokens, graph, arm };
    return this.ms;
  }

  async close(): Promise<void> {
    for (const port of this.ports.values()) await port.close().catch(() => {});
    await this.ms?.tokens.close().catch(() => {});
  }
}
