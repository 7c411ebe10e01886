import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { Agent, request } from 'undici';
import { validateConfig } from '../app/config.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../app/build.ts';
import type { DemoContext, DemoSandbox, FlowDemo } from '../app/module.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../app/registry.ts';
import type { Config } from '../config/schema.ts';
import { ensurePrivateDir, ensurePrivateFile } from '../store/files.ts';
import { ROLES, type Role } from '../identity/roles.ts';

/**
 * `npm start` / `ticketloop demo`: start the sandbox and Ticketloop wired to it, then let each
 * flow module walk through its loop step by step (`--auto` plays the IT agent too).
 */

const SANDBOX_WEBHOOK_SECRET = 'sandbox-webhook-secret';

/**
 * Close-out values for every ticket kind a flow may open on the sandbox instance. Like a real one it
 * refuses a resolve without them: incident and change_request `close_code`, problem `resolution_code`
 * (the base instance's choices: change Successful, problem Fix Applied).
 */
export const SANDBOX_CLOSE_OUT = {
  incident: { resolve: { close_code: 'Solution provided' }, close: { close_code: 'Solution provided' } },
  change_request: { resolve: { close_code: 'successful' }, close: { close_code: 'successful' } },
  problem: { resolve: { resolution_code: 'fix_applied' }, close: { resolution_code: 'fix_applied' } },
};

/** The configuration entries that point Ticketloop at a sandbox: ServiceNow instance "sandbox" and Microsoft. */
export function sandboxConnections(s: DemoSandbox) {
  const sn = s.servicenow;
  const ms = s.microsoft;
  return {
    servicenow: {
      name: 'sandbox',
      instanceUrl: sn.baseUrl,
      caFile: s.tls.caPath,
      auth: {
        type: 'oauth' as const,
        grant: 'client_credentials' as const,
        clientId: sn.credentials.oauth.clientId,
        clientSecret: sn.credentials.oauth.clientSecret,
      },
      account: sn.credentials.oauth.userName,
      closeOut: structuredClone(SANDBOX_CLOSE_OUT), // a copy each: callers patch theirs
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

/** Sign-in with the sandbox's Entra ID: its demo groups mapped to roles. */
export function sandboxSignIn(s: DemoSandbox) {
  const ms = s.microsoft;
  const role: Record<string, Role> = {
    'Ticketloop Admins': 'admin',
    'Ticketloop Operators': 'operator',
    'Ticketloop Auditors': 'auditor',
  };
  return {
    tenantId: ms.tenantId,
    clientId: ms.apps.ticketloop.clientId,
    clientSecret: ms.apps.ticketloop.clientSecret,
    authorityHost: ms.authorityHost,
    caFile: s.tls.caPath,
    displayName: 'the sandbox Entra ID',
    groups: Object.fromEntries(ms.groups.filter((g) => role[g.displayName]).map((g) => [g.id, [role[g.displayName]]])),
  };
}

/**
 * One local account per role (`demo-admin`, `demo-operator`, …), each with a fresh random password
 * at every demo start (an account from an earlier run gets a new one).
 */
export async function demoAccounts(app: Ticketloop): Promise<{ name: string; role: Role; password: string }[]> {
  const out: { name: string; role: Role; password: string }[] = [];
  for (const role of ROLES) {
    const name = `demo-${role}`;
    const password = randomBytes(12).toString('base64url');
    const existing = await app.identity.users.byName(name);
    if (existing) await app.identity.users.update(existing.id, { password, disabled: false }, 'demo');
    else await app.identity.users.create({ name, displayName: `Demo ${role}`, password, roles: [role] }, 'demo');
    out.push({ name, role, password });
  }
  return out;
}

/** The user's configuration plus the sandbox connections and every flow's demo integrations. */
export function sandboxConfig(base: Record<string, any>, s: DemoSandbox, demos: FlowDemo[]): Config {
  const c = sandboxConnections(s);
  return validateConfig(
    {
      ...base,
      servicenow: [
        ...(base.servicenow ?? []).filter((i: { name: string }) => i.name !== 'sandbox'),
        // Closes are pushed by the sandbox's business-rule webhook (set up below), polled as the backstop.
        { ...c.servicenow, pollIntervalSeconds: 5, webhook: { type: 'hmac', secret: SANDBOX_WEBHOOK_SECRET } },
      ],
      integrations: [...(base.integrations ?? []), ...demos.flatMap((d) => d.integrations(s))],
      microsoft: base.microsoft ?? c.microsoft,
      identity: { ...(base.identity ?? {}), oidc: base.identity?.oidc ?? sandboxSignIn(s) },
    },
    'embedded defaults + sandbox',
  );
}

/** Every flow's demo. */
export function loadDemos(): Promise<FlowDemo[]> {
  return Promise.all(FLOW_MODULES.flatMap((m) => (m.demo ? [m.demo()] : [])));
}

/** Point the sandbox instance's business rule at Ticketloop for every ticket kind the flows watch. */
async function connectSandboxWebhooks(app: Ticketloop, s: DemoSandbox, url: string): Promise<string[]> {
  const agent = new Agent({ connect: { ca: s.tls.ca } });
  const kinds = app.watch.kindsOf('sandbox');
  const hookUrl = `${url}/webhooks/servicenow/sandbox`;
  try {
    const webhooks = kinds.map((table) => ({
      table,
      url: hookUrl,
      events: ['insert', 'update'],
      auth: { type: 'hmac', secret: SANDBOX_WEBHOOK_SECRET },
    }));
    const r = await request(`${s.servicenow.baseUrl}/_sandbox/servicenow/webhooks`, {
      method: 'PUT',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(webhooks),
    });
    await r.body.text();
    if (r.statusCode >= 300) throw new Error(`the sandbox refused the webhooks: ${r.statusCode}`);
  } finally {
    await agent.close();
  }
  return kinds;
}

/**
 * The demo's logs: everything at the configured level to `dataDir/logs/ticketloop.log`; on the
 * terminal only warnings and errors (pretty-printed when stderr is a terminal), so they do not
 * interleave with the numbered steps.
 */
function demoLogger(config: Config): { log: Logger; file: string } {
  const dir = resolve(config.dataDir, 'logs');
  ensurePrivateDir(dir);
  const file = join(dir, 'ticketloop.log');
  ensurePrivateFile(file); // pino opens it for appending; created 0600 first, whatever the umask
  const terminal = process.stderr.isTTY ? pretty({ destination: 2, colorize: true }) : process.stderr;
  const streams = pino.multistream([
    { level: config.log.level as pino.Level, stream: pino.destination({ dest: file, mkdir: true, sync: false }) },
    { level: 'warn', stream: terminal },
  ]);
  return { log: createLogger(config.log.level, streams), file };
}

export async function runDemo(raw: Record<string, any>, base: Config, o: { auto: boolean }): Promise<void> {
  const { startSandbox, describeSandbox } = await import('../../sandbox/index.ts');
  let n = 0;
  const step = (text: string) => process.stdout.write(`\n[${++n}] ${text}\n`);
  const say = (text: string) => process.stdout.write(`    ${text}\n`);
  step('Starting the sandbox (ServiceNow, Microsoft Entra + Graph, Azure Resource Manager)…');
  const sandbox = await startSandbox({
    dataDir: resolve(base.sandbox.dataDir ?? join(base.dataDir, 'sandbox')),
    ports: {
      servicenow: base.sandbox.servicenowPort,
      microsoft: base.sandbox.microsoftPort,
      azure: base.sandbox.azurePort,
    },
  });
  process.stdout.write(`${describeSandbox(sandbox)}\n`);

  step('Starting Ticketloop on the embedded defaults…');
  const demos = await loadDemos();
  const config = sandboxConfig(raw, sandbox, demos);
  const { log, file } = demoLogger(config);
  // On the sandbox's clock: when the demo moves sandbox time (an expiry), Ticketloop's timers see it too.
  const app = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    logger: log,
    clock: sandbox.clock,
  });
  // Before start: with accounts in place no first-admin setup token is issued.
  const accounts = await demoAccounts(app);
  const url = await app.start();
  say(`Ticketloop ${url}  (store: ${app.store.description})`);
  say(`service log ${file}  (warnings and errors are shown here too)`);
  say(`API docs ${url}/openapi.json   metrics ${url}/metrics`);
  say(`Sign in (POST ${url}/api/auth/login {"name","password"}) — one account per role, new passwords each start:`);
  for (const a of accounts) say(`  ${a.name.padEnd(16)} ${a.password}`);
  say(
    `or with the sandbox Entra ID: ${url}/auth/oidc/start — Adele Vance (admin), Alex Wilber (operator), Megan Bowen (auditor)`,
  );
  const kinds = await connectSandboxWebhooks(app, sandbox, url);
  say(
    `ServiceNow pushes changes of ${kinds.join(', ')} to ${url}/webhooks/servicenow/sandbox (HMAC-signed); polled every 5 s as the backstop`,
  );

  const shutdown = async () => {
    await app.stop();
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());

  const ctx: DemoContext = { app, sandbox, url, auto: o.auto, step, say };
  for (const demo of demos) await demo.run(ctx);
  step(`Open the console: ${url}/`);
  say('Sign in with one of the demo accounts (each sees what its role allows):');
  for (const a of accounts) say(`  ${a.name.padEnd(16)} ${a.password}`);
  say(
    'or "Sign in with Microsoft" (the sandbox Entra ID): Adele Vance (admin), Alex Wilber (operator), Megan Bowen (auditor)',
  );
  if (o.auto) {
    step('Demo finished.');
    await shutdown();
  } else {
    step('Running. Ctrl-C to stop.');
  }
}
