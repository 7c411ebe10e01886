import type { Ticketloop } from '../../app/build.ts';
import type { CheckResult, SetupStep } from '../../app/checks.ts';
import type { SetupCommand, SetupContext } from '../../app/module.ts';
import type { Kysely } from 'kysely';
import { formatPath } from '../../config/common.ts';
import { integrationSchema, type Config } from '../../config/schema.ts';
import type { Database } from '../../store/schema.ts';
import { m365Shape, type M365Integration } from './config.ts';
import { configuredSnSecret, CONTACT_FLAGS, setupInput, type M365SetupInput } from './setup-input.ts';

/**
 * `ticketloop setup m365`: the steps of Microsoft's retired wizard, on public APIs. The secrets go
 * to the encrypted secret store and the configuration file names them (`{secret: name}`); the
 * `microsoft` connection, the ServiceNow connection (when asked to create it) and the integration
 * are recorded in the file; then Test setup runs on what was written, and each check is printed
 * with its fix. Each step compares before it writes, so a second run reports everything unchanged.
 * The console's PUT /api/m365/setup (setup-save.ts) records through the same `recordSetup`.
 */

/** Names of the secrets setup stores (the configuration refers to them by these names). */
export const SECRET_NAMES = {
  clientSecret: 'microsoft/client-secret',
  privateKeyPem: 'microsoft/certificate-key',
  certificatePem: 'microsoft/certificate',
  snClientSecret: (c: string) => `servicenow/${c}/client-secret`,
  snPassword: (c: string) => `servicenow/${c}/password`,
};

const FLAG_OF: Record<string, string> = {
  name: '--name',
  itsm: '--itsm',
  'escalation.mode': '--escalation',
  'escalation.subscription': '--subscription',
  'escalation.contact': '--contact-email',
  ...Object.fromEntries(Object.entries(CONTACT_FLAGS).map(([f, flag]) => [`escalation.contact.${f}`, flag])),
};

/** Where setup records: the configuration file's sections and, with `trx`, the secrets' transaction. */
export interface SetupRecorder {
  dryRun: boolean;
  recordSection(key: string, value: Record<string, unknown>, o?: { listBy?: string }): Promise<SetupStep>;
  recordIntegration(entry: Record<string, unknown> & { name: string }): Promise<SetupStep>;
  trx?: Kysely<Database>;
}

async function storeSecret(app: Ticketloop, name: string, value: string, w: SetupRecorder): Promise<SetupStep> {
  const what = `secret "${name}" (encrypted in the secret store)`;
  const current = await app.secrets.get(name, w.trx);
  if (current === value) return { what, outcome: 'unchanged' };
  const outcome = current === undefined ? 'created' : 'updated';
  if (w.dryRun) return { what, outcome: 'manual', detail: `would be ${outcome}` };
  await app.secrets.put(name, value, { now: app.clock.now(), trx: w.trx });
  return { what, outcome };
}

/** The integration entry, checked as the configuration will check it; a problem names its flag. */
function integrationEntry(
  app: Ticketloop,
  config: Config,
  i: M365SetupInput,
): Record<string, unknown> & { name: string } {
  const escalation: Record<string, unknown> = { mode: i.escalation };
  if (i.subscription) escalation.subscription = i.subscription;
  // No contact given: keep the linked administrator account already configured (when escalating).
  const current = config.integrations.find((x) => x.type === 'm365' && x.name === i.name) as
    M365Integration | undefined;
  const contact = i.contact ?? (i.escalation !== 'off' ? current?.escalation.contact : undefined);
  if (contact) escalation.contact = contact;
  const entry = { name: i.name, type: 'm365', itsm: i.itsm, testEnvironment: i.testEnvironment, escalation };
  // The schema does not look the connection up: it may be the one this run creates.
  const parsed = integrationSchema({ type: 'm365', shape: m365Shape }, app.itsmModules).safeParse(entry);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    const path = formatPath(first.path);
    throw new Error(`${FLAG_OF[path] ?? `--${path}`}: ${first.message}`);
  }
  return entry;
}

async function recordConnections(
  app: Ticketloop,
  config: Config,
  i: M365SetupInput,
  w: SetupRecorder,
): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  const section = w.recordSection;
  if (i.microsoft) {
    const m = i.microsoft;
    const ms: Record<string, unknown> = { tenantId: m.tenantId, clientId: m.clientId };
    if (m.clientSecret) {
      steps.push(await storeSecret(app, SECRET_NAMES.clientSecret, m.clientSecret, w));
      ms.clientSecret = { secret: SECRET_NAMES.clientSecret };
    }
    if (m.certificate) {
      steps.push(await storeSecret(app, SECRET_NAMES.privateKeyPem, m.certificate.privateKeyPem, w));
      steps.push(await storeSecret(app, SECRET_NAMES.certificatePem, m.certificate.certificatePem, w));
      ms.certificate = {
        privateKeyPem: { secret: SECRET_NAMES.privateKeyPem },
        certificatePem: { secret: SECRET_NAMES.certificatePem },
      };
    }
    steps.push(await section('microsoft', ms));
  }
  const sn = i.servicenow;
  if (sn) {
    let auth: Record<string, unknown>;
    // A secret left empty keeps the one the connection names already (setupInput checked there is one).
    const kept = configuredSnSecret(config, i.itsm, sn.auth);
    if (sn.auth === 'oauth') {
      if (sn.clientSecret) steps.push(await storeSecret(app, SECRET_NAMES.snClientSecret(i.itsm), sn.clientSecret, w));
      auth = {
        type: 'oauth',
        grant: 'client_credentials',
        clientId: sn.clientId,
        clientSecret: sn.clientSecret ? { secret: SECRET_NAMES.snClientSecret(i.itsm) } : kept,
      };
    } else {
      if (sn.password) steps.push(await storeSecret(app, SECRET_NAMES.snPassword(i.itsm), sn.password, w));
      const password = sn.password ? { secret: SECRET_NAMES.snPassword(i.itsm) } : kept;
      auth = { type: 'basic', username: sn.username, password };
    }
    steps.push(await section('servicenow', { name: i.itsm, instanceUrl: sn.instanceUrl, auth }, { listBy: 'name' }));
  }
  return steps;
}

/** Only the checks about this integration and the connections it uses. */
export const concerns = (r: CheckResult, i: { name: string; itsm: string }) =>
  r.target === `m365 ${i.name}` ||
  r.target.startsWith('Microsoft') ||
  r.target.toLowerCase() === `servicenow ${i.itsm}`.toLowerCase();

/** A check as a setup line: passing ones unchanged, failing ones with their fix. */
export function checkStep(r: CheckResult): SetupStep {
  const what = `Test setup: ${r.target} — ${r.check}`;
  return r.ok
    ? { what, outcome: 'unchanged', detail: r.detail }
    : { what, outcome: 'failed', detail: `${r.detail}${r.fix ? `; fix: ${r.fix}` : ''}` };
}

/**
 * Record what setup was told: the secrets (in the store), the connections and the integration (in
 * the file), each compared before it is written. Stops at the first failed step.
 */
export async function recordSetup(
  app: Ticketloop,
  config: Config,
  input: M365SetupInput,
  w: SetupRecorder,
): Promise<SetupStep[]> {
  const entry = integrationEntry(app, config, input);
  const steps = await recordConnections(app, config, input, w);
  if (steps.some((s) => s.outcome === 'failed')) return steps;
  steps.push(await w.recordIntegration(entry));
  return steps;
}

async function run(app: Ticketloop, o: Record<string, any>, ctx: SetupContext): Promise<SetupStep[]> {
  const { recordSection, withReloadedApp } = ctx;
  if (!recordSection || !withReloadedApp) throw new Error('setup m365 needs the configuration file');
  const input = await setupInput(app.config, o, ctx);
  const steps = await recordSetup(app, app.config, input, {
    dryRun: ctx.dryRun,
    recordSection,
    recordIntegration: (e) => ctx.recordIntegration(e),
  });
  if (steps.some((s) => s.outcome === 'failed')) return steps;
  if (ctx.dryRun) {
    steps.push({ what: 'Test setup', outcome: 'manual', detail: 'runs once the configuration is written' });
    return steps;
  }
  const results = await withReloadedApp((fresh) => fresh.checkConnections({ flows: ['m365'] }));
  steps.push(...results.filter((r) => concerns(r, input)).map(checkStep));
  if (input.escalation === 'off') ctx.say('Escalation is off: "Insights only" (health, matches and solutions).');
  return steps;
}

export const m365Setup: SetupCommand = {
  description:
    'connect Microsoft 365 service health, recommended solutions and escalation to ServiceNow, then run Test setup',
  options: [
    { flags: '--name <name>', description: 'the integration name (default m365)' },
    { flags: '--tenant <domain>', description: 'the tenant domain (contoso.onmicrosoft.com) or id' },
    { flags: '--client-id <id>', description: 'the Entra app Ticketloop signs in as (application id)' },
    { flags: '--client-secret <secret>', description: "the app's client secret (stored encrypted, never printed)" },
    { flags: '--certificate <pem file>', description: "a PEM with the app's certificate and private key, instead" },
    { flags: '--itsm <connection>', description: 'the ServiceNow connection (default: the only one configured)' },
    { flags: '--instance <url>', description: 'create or update that connection: the instance URL' },
    { flags: '--sn-auth <oauth|basic>', description: 'how Ticketloop signs in to the instance (default oauth)' },
    { flags: '--sn-client-id <id>', description: 'OAuth: the client id of the Application Registry entry' },
    { flags: '--sn-client-secret <secret>', description: 'OAuth: its client secret (stored encrypted)' },
    { flags: '--sn-username <user>', description: 'basic: the integration user (needs itil)' },
    { flags: '--sn-password <password>', description: 'basic: its password (stored encrypted)' },
    { flags: '--test-environment', description: 'this is a test environment: escalations say so' },
    { flags: '--escalation <mode>', description: 'off (Insights only), azure-support, guided or both' },
    { flags: '--subscription <id>', description: 'azure-support, both: the subscription whose support plan applies' },
    { flags: '--contact-first-name <name>', description: 'escalation: the linked administrator account' },
    { flags: '--contact-last-name <name>', description: 'escalation: its last name' },
    { flags: '--contact-email <email>', description: 'escalation: its e-mail address' },
    { flags: '--contact-phone <phone>', description: 'escalation: its phone number' },
    { flags: '--contact-time-zone <zone>', description: 'escalation: a Windows time zone name' },
    { flags: '--contact-country <code>', description: 'escalation: ISO 3166-1 alpha-3, e.g. usa' },
    { flags: '--contact-language <tag>', description: 'escalation: support language (default en-us)' },
  ],
  run,
};
