import { join, resolve } from 'node:path';
import { buildTicketloop, type Ticketloop } from '../app/build.ts';
import { validateConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { loadModules } from '../app/modules.ts';
import { entitlementDemoIntegrations } from '../flows/entitlement/module.ts';
import { defenderDemoIntegrations } from '../flows/defender/module.ts';

/**
 * `npm start` / `ticketloop demo`: start the sandbox and Ticketloop wired to it, then let each
 * flow module walk through its loop step by step (`--auto` plays the IT agent too).
 */
export interface DemoContext {
  app: Ticketloop;
  sandbox: import('../../sandbox/index.ts').Sandbox;
  /** Ticketloop's own base URL (callouts and webhooks arrive here). */
  url: string;
  auto: boolean;
  step(text: string): void;
}

/** The configuration Ticketloop runs with against the sandbox: the user's file plus the sandbox endpoints. */
/** The configuration entries that point Ticketloop at a sandbox: ServiceNow instance "sandbox" and Microsoft. */
export function sandboxConnections(s: DemoContext['sandbox']) {
  const sn = s.servicenow;
  const ms = s.microsoft;
  return {
    servicenow: {
      name: 'sandbox',
      instanceUrl: sn.baseUrl,
      caFile: s.tls.caPath,
      auth: { type: 'oauth' as const, grant: 'client_credentials' as const, clientId: sn.credentials.oauth.clientId, clientSecret: sn.credentials.oauth.clientSecret },
      closeOut: { incident: { resolve: { close_code: 'Solution provided' }, close: { close_code: 'Solution provided' } } },
    },
    microsoft: {
      tenantId: ms.tenantId,
      clientId: ms.apps.ticketloop.clientId,
      clientSecret: ms.apps.ticketloop.clientSecret,
      authorityHost: ms.authorityHost,
      graphUrl: ms.graphUrl,
      armUrl: s.azure.baseUrl,
      caFile: s.tls.caPath,
    },
  };
}

export function sandboxConfig(base: Config, s: DemoContext['sandbox']): Config {
  const c = sandboxConnections(s);
  return validateConfig(
    {
      ...base,
      servicenow: [
        ...base.servicenow.filter((i) => i.name !== 'sandbox'),
        // Closes are pushed by the sandbox's business-rule webhook (flows configure it in their demo).
        { ...c.servicenow, pollIntervalSeconds: 5, webhook: { type: 'hmac', secret: 'sandbox-webhook-secret' } },
      ],
      integrations: [...base.integrations, ...entitlementDemoIntegrations(s), ...defenderDemoIntegrations(s)],
      microsoft: base.microsoft ?? c.microsoft,
    },
    'embedded defaults + sandbox',
  );
}

export async function runDemo(base: Config, o: { auto: boolean }): Promise<void> {
  const { startSandbox, describeSandbox } = await import('../../sandbox/index.ts');
  let n = 0;
  const step = (text: string) => process.stdout.write(`\n[${++n}] ${text}\n`);
  step('Starting the sandbox (ServiceNow, Microsoft Entra + Graph, Azure Resource Manager)…');
  const sandbox = await startSandbox({
    dataDir: resolve(base.sandbox.dataDir ?? join(base.dataDir, 'sandbox')),
    ports: { servicenow: base.sandbox.servicenowPort, microsoft: base.sandbox.microsoftPort, azure: base.sandbox.azurePort },
  });
  process.stdout.write(`${describeSandbox(sandbox)}\n`);

  step('Starting Ticketloop on the embedded defaults…');
  const config = sandboxConfig(base, sandbox);
  const modules = await loadModules();
  const app = await buildTicketloop(config, { modules });
  const url = await app.start();
  process.stdout.write(`    Ticketloop ${url}  (store: ${app.store.description})\n    API docs ${url}/openapi.json   metrics ${url}/metrics\n`);

  const shutdown = async () => {
    await app.stop();
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());

  const ctx: DemoContext = { app, sandbox, url, auto: o.auto, step };
  for (const m of modules) if (m.demo) await m.demo(ctx);
  if (o.auto) {
    step('Demo finished.');
    await shutdown();
  } else {
    step('Running. Ctrl-C to stop.');
  }
}
