import { readFileSync } from 'node:fs';
import { resolveSecret } from '../config/load.ts';
import type { Config, MicrosoftConnection, ServiceNowConnection } from '../config/schema.ts';
import { ServiceNowClient } from '../connectors/servicenow/client.ts';
import { createServiceNowAuth, type ServiceNowAuthConfig } from '../connectors/servicenow/auth.ts';
import { registerServiceNowMetrics } from '../connectors/servicenow/metrics.ts';
import { EntraTokenSource } from '../connectors/microsoft/identity.ts';
import { GraphClient, GRAPH_SCOPE } from '../connectors/microsoft/graph.ts';
import { ArmClient } from '../connectors/microsoft/arm.ts';
import type { OutboundRecorder } from '../connectors/http.ts';
import type { Clock } from '../engine/clock.ts';
import { ServiceNowItsm } from '../itsm/servicenow.ts';
import type { Metrics } from './metrics.ts';

/**
 * Connector instances built from configuration, once each and shared by every flow: one
 * ServiceNow client + ITSM adapter per instance, one Entra token source, Graph and ARM clients.
 */

export interface ServiceNowConnectionHandle {
  /** The configured instance name ("inline:<url>" for an inline connection). */
  name: string;
  config: ServiceNowConnection;
  client: ServiceNowClient;
  itsm: ServiceNowItsm;
}

export interface MicrosoftHandle {
  config: MicrosoftConnection;
  tokens: EntraTokenSource;
  graph: GraphClient;
  arm: ArmClient;
}

function caOf(file: string | undefined): Buffer | undefined {
  return file ? readFileSync(file) : undefined;
}

function snAuth(c: ServiceNowConnection): ServiceNowAuthConfig {
  const a = c.auth;
  if (a.type === 'basic') return { type: 'basic', username: a.username, password: resolveSecret(a.password).reveal() };
  if (a.type === 'apikey') return { type: 'apikey', apiKey: resolveSecret(a.key).reveal() };
  const clientSecret = resolveSecret(a.clientSecret).reveal();
  return a.grant === 'password'
    ? { type: 'oauth', grant: 'password', clientId: a.clientId, clientSecret, username: a.username!, password: resolveSecret(a.password!).reveal() }
    : { type: 'oauth', grant: 'client_credentials', clientId: a.clientId, clientSecret };
}

export class Connections {
  private readonly sn = new Map<string, ServiceNowConnectionHandle>();
  private ms: MicrosoftHandle | undefined;
  private readonly rateLimits;

  constructor(
    private readonly config: Config,
    private readonly recorder: OutboundRecorder,
    private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.rateLimits = registerServiceNowMetrics(metrics.registry, {});
  }

  /** A named instance from `servicenow`, or an inline connection from an integration. */
  servicenow(ref: string | ServiceNowConnection): ServiceNowConnectionHandle {
    const name = typeof ref === 'string' ? ref : `inline:${ref.instanceUrl}`;
    const existing = this.sn.get(name);
    if (existing) return existing;
    const config = typeof ref === 'string' ? this.config.servicenow.find((s) => s.name === ref) : ref;
    if (!config) throw new Error(`no servicenow instance named "${ref}"`);
    const ca = caOf(config.caFile);
    const auth = createServiceNowAuth(snAuth(config), { baseUrl: config.instanceUrl, ca, clock: this.clock, timeoutMs: config.timeoutMs, recorder: this.recorder });
    const client = new ServiceNowClient({
      baseUrl: config.instanceUrl,
      auth,
      ca,
      timeoutMs: config.timeoutMs,
      recorder: this.recorder,
      onRateLimit: (info) => this.rateLimits.onRateLimit(info),
    });
    const itsm = new ServiceNowItsm({ client, instanceUrl: config.instanceUrl, closeOut: config.closeOut });
    const handle = { name, config, client, itsm };
    this.sn.set(name, handle);
    return handle;
  }

  /** All configured (named) ServiceNow instances plus any inline ones already built. */
  servicenowInstances(): ServiceNowConnectionHandle[] {
    for (const s of this.config.servicenow) this.servicenow(s.name);
    return [...this.sn.values()];
  }

  microsoft(): MicrosoftHandle {
    if (this.ms) return this.ms;
    const config = this.config.microsoft;
    if (!config) throw new Error('no `microsoft` connection configured');
    const ca = caOf(config.caFile);
    const tokens = new EntraTokenSource({
      authorityHost: config.authorityHost,
      tenantId: config.tenantId,
      clientId: config.clientId,
      clientSecret: config.clientSecret ? resolveSecret(config.clientSecret).reveal() : undefined,
      certificate: config.certificate
        ? { certificatePem: resolveSecret(config.certificate.certificatePem).reveal(), privateKeyPem: resolveSecret(config.certificate.privateKeyPem).reveal() }
        : undefined,
      ca,
      clock: this.clock,
    });
    const graph = new GraphClient({ graphUrl: config.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca, recorder: this.recorder });
    const arm = new ArmClient({ baseUrl: config.armUrl, auth: tokens.authProvider('https://management.azure.com/.default'), ca, recorder: this.recorder });
    this.ms = { config, tokens, graph, arm };
    return this.ms;
  }

  async close(): Promise<void> {
    for (const h of this.sn.values()) await h.client.close().catch(() => {});
    if (this.ms) {
      await this.ms.tokens.close().catch(() => {});
    }
  }
}
