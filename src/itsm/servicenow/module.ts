import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { resolveSecret } from '../../config/secrets.ts';
import type { ItsmAdapterDeps, ItsmModule } from '../port.ts';
import { ServiceNowItsm } from './adapter.ts';
import { createServiceNowAuth, type ServiceNowAuthConfig } from './auth.ts';
import { ServiceNowClient } from './client.ts';
import { serviceNowInstance, type ServiceNowConnection } from './config.ts';
import type { AuthLabel } from './diagnose.ts';
import { registerServiceNowMetrics, type ServiceNowMetrics } from './metrics.ts';
import { setupServiceNow } from './setup.ts';

/** The ServiceNow ITSM adapter: `servicenow: [{ name, instanceUrl, auth, … }]` in the configuration. */

function authConfig(c: ServiceNowConnection): ServiceNowAuthConfig {
  const a = c.auth;
  if (a.type === 'basic') return { type: 'basic', username: a.username, password: resolveSecret(a.password).reveal() };
  if (a.type === 'apikey') return { type: 'apikey', apiKey: resolveSecret(a.key).reveal() };
  const clientSecret = resolveSecret(a.clientSecret).reveal();
  if (a.grant === 'client_credentials')
    return { type: 'oauth', grant: 'client_credentials', clientId: a.clientId, clientSecret };
  const password = resolveSecret(a.password!).reveal();
  return { type: 'oauth', grant: 'password', clientId: a.clientId, clientSecret, username: a.username!, password };
}

/** Who the connection signs in as, for the checks' findings: names only, never a secret. */
export function authLabel(c: ServiceNowConnection): AuthLabel {
  const a = c.auth;
  if (a.type === 'basic') return { type: 'basic', username: a.username };
  if (a.type === 'apikey') return { type: 'apikey' };
  if (a.grant === 'password') return { type: 'oauth', grant: 'password', clientId: a.clientId, username: a.username! };
  return { type: 'oauth', grant: 'client_credentials', clientId: a.clientId };
}

/** The user_name the connection's records are created by, where the configuration says. */
export function accountOf(c: ServiceNowConnection): string | undefined {
  return c.account ?? ('username' in c.auth ? c.auth.username : undefined);
}

/** One set of rate-limit metrics per registry (a process may build several apps in tests). */
const metricsByRegistry = new WeakMap<Registry, ServiceNowMetrics>();

/** The client and port of one connection (setup also needs the raw client and closes the auth). */
function build(config: ServiceNowConnection, deps: ItsmAdapterDeps, tables?: string[]) {
  let metrics = metricsByRegistry.get(deps.registry);
  if (!metrics) metricsByRegistry.set(deps.registry, (metrics = registerServiceNowMetrics(deps.registry)));
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const base = { baseUrl: config.instanceUrl, ca, timeoutMs: config.timeoutMs, recorder: deps.recorder };
  const auth = createServiceNowAuth(authConfig(config), { ...base, clock: deps.clock });
  const client = new ServiceNowClient({
    ...base,
    auth,
    onRateLimit: (info) => metrics.onRateLimit(info, config.name),
  });
  const itsm = new ServiceNowItsm({
    client,
    system: config.name,
    instanceUrl: config.instanceUrl,
    closeOut: config.closeOut,
    authLabel: authLabel(config),
    tables,
    webhook: config.webhook,
    pollIntervalMs: config.pollIntervalSeconds * 1000,
    reconcileIntervalMs: config.reconcileIntervalSeconds * 1000,
    now: () => deps.clock.now(),
    fieldLimits: config.fieldLimits,
    account: accountOf(config),
  });
  return { client, itsm, auth };
}

export const servicenowModule: ItsmModule<ServiceNowConnection> = {
  configKey: 'servicenow',
  connectionSchema: serviceNowInstance,
  connect(config, deps) {
    return build(config, deps).itsm;
  },
  async setup(config, deps, o) {
    const { client, itsm, auth } = build(config, deps, o.kinds);
    try {
      return await setupServiceNow({ config, client, itsm, auth: authLabel(config) }, o);
    } finally {
      await itsm.close();
      await auth.close?.();
    }
  },
};
