import { readFileSync } from 'node:fs';
import type { SetupContext } from '../../app/module.ts';
import type { Config } from '../../config/schema.ts';
import { ESCALATION_MODES, type EscalationMode } from './escalation/config.ts';

/**
 * What `ticketloop setup m365` is told: from its flags, or asked for at the terminal when it runs
 * there without any (the console's PUT /api/m365/setup gives the same options). A wrong value is an
 * Error whose message starts with the flag (a usage error). Checked against `config`, the
 * configuration file as it is now: a secret left empty keeps the one it already names.
 */

export interface ServiceNowInput {
  instanceUrl: string;
  auth: 'oauth' | 'basic';
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
}

export interface M365SetupInput {
  name: string;
  /** Undefined: keep the configuration's `microsoft` connection as it is. */
  microsoft?: {
    tenantId: string;
    clientId: string;
    clientSecret?: string;
    certificate?: { privateKeyPem: string; certificatePem: string };
  };
  itsm: string;
  /** Create or update this ServiceNow connection (named `itsm`). */
  servicenow?: ServiceNowInput;
  testEnvironment: boolean;
  escalation: EscalationMode;
  subscription?: string;
  contact?: Record<string, string>;
}

type Options = Record<string, string | boolean | undefined>;

/** Contact fields of escalation.contact by flag (escalation/config.ts checks them). */
export const CONTACT_FLAGS: Record<string, string> = {
  firstName: '--contact-first-name',
  lastName: '--contact-last-name',
  primaryEmailAddress: '--contact-email',
  phoneNumber: '--contact-phone',
  preferredTimeZone: '--contact-time-zone',
  country: '--contact-country',
  preferredSupportLanguage: '--contact-language',
};

const usage = (flag: string, message: string) => new Error(`${flag}: ${message}`);
const PEM = (label: string) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`);

/** The private key and certificate of a PEM text (`what` names where it came from). */
export function parseCertificate(text: string, what: string): { privateKeyPem: string; certificatePem: string } {
  const key = PEM('(?:RSA |EC )?PRIVATE KEY').exec(text)?.[0];
  const cert = PEM('CERTIFICATE').exec(text)?.[0];
  if (!key) throw usage('--certificate', `${what} holds no private key (a PEM with the key and the certificate)`);
  if (!cert) throw usage('--certificate', `${what} holds no certificate (a PEM with the key and the certificate)`);
  return { privateKeyPem: key, certificatePem: cert };
}

/** The private key and certificate of one PEM file. */
export function readCertificate(file: string): { privateKeyPem: string; certificatePem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage('--certificate', `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseCertificate(text, file);
}

/** Fill in what a person at the terminal answers (only when `ctx.ask` is there). */
async function askFor(config: Config, ask: NonNullable<SetupContext['ask']>): Promise<Options> {
  const o: Options = {};
  const ms = config.microsoft;
  o.name = await ask('Integration name', { default: 'm365' });
  o.tenant = await ask('Tenant domain (contoso.onmicrosoft.com)', { default: ms?.tenantId });
  o.clientId = await ask('Application (client) ID of the Entra app Ticketloop signs in as', {
    default: ms?.clientId,
  });
  const cert = await ask('Certificate PEM file (empty: use a client secret)');
  if (cert) o.certificate = cert;
  else
    o.clientSecret =
      (await ask('Client secret (not shown; empty: keep the one configured)', { secret: true })) || undefined;
  const only = config.itsm.length === 1 ? config.itsm[0].name : undefined;
  o.itsm = await ask('ServiceNow connection name', { default: only ?? 'servicenow' });
  if (!config.itsm.some((c) => c.name === o.itsm)) {
    o.instance = await ask('ServiceNow instance URL (https://<name>.service-now.com)');
    o.snAuth = await ask('ServiceNow sign-in: oauth or basic', { default: 'oauth' });
    if (o.snAuth === 'oauth') {
      o.snClientId = await ask('OAuth client ID (Application Registry)');
      o.snClientSecret = await ask('OAuth client secret (not shown)', { secret: true });
    } else {
      o.snUsername = await ask('User name (an integration user with itil)');
      o.snPassword = await ask('Password (not shown)', { secret: true });
    }
  }
  o.testEnvironment = /^y/i.test(await ask('Is this a test environment? (y/N)', { default: 'n' }));
  o.escalation = await ask(`Escalation (${ESCALATION_MODES.join(', ')})`, { default: 'off' });
  if (o.escalation !== 'off') {
    if (o.escalation !== 'guided') o.subscription = await ask('Azure subscription id whose support plan opens tickets');
    o.contactFirstName = await ask('Contact first name (the linked administrator account)');
    o.contactLastName = await ask('Contact last name');
    o.contactEmail = await ask('Contact e-mail');
    o.contactTimeZone = await ask('Contact time zone (Windows name)', { default: 'UTC' });
    o.contactCountry = await ask('Contact country (ISO 3166-1 alpha-3)', { default: 'usa' });
  }
  return o;
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** The secret a ServiceNow connection's auth already names (kept when the field is left empty). */
export function configuredSnSecret(config: Config, itsm: string, auth: 'oauth' | 'basic'): unknown {
  const a = (config.itsm.find((c) => c.name === itsm) as { auth?: Record<string, unknown> } | undefined)?.auth;
  if (a?.type !== auth) return undefined;
  return auth === 'oauth' ? a.clientSecret : a.password;
}

export async function setupInput(
  config: Config,
  given: Options,
  ctx: Pick<SetupContext, 'ask'>,
): Promise<M365SetupInput> {
  const o = ctx.ask ? await askFor(config, ctx.ask) : given;
  const name = text(o.name) ?? 'm365';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw usage('--name', 'letters, digits, ".", "_" and "-"');

  let microsoft: M365SetupInput['microsoft'];
  const tenant = text(o.tenant);
  const clientId = text(o.clientId);
  const pem = text(o.certificatePem);
  if (text(o.clientSecret) && (text(o.certificate) || pem))
    throw usage('--client-secret', 'give --client-secret or --certificate, not both');
  if (tenant || clientId || o.clientSecret || o.certificate || pem) {
    const current = config.microsoft;
    const tenantId = tenant ?? current?.tenantId;
    const appId = clientId ?? current?.clientId;
    if (!tenantId) throw usage('--tenant', 'the tenant domain (contoso.onmicrosoft.com) or id is required');
    if (!/^[A-Za-z0-9.-]+$/.test(tenantId)) throw usage('--tenant', `"${tenantId}" is not a domain or tenant id`);
    if (!appId) throw usage('--client-id', 'the application (client) id of the Entra app is required');
    const clientSecret = text(o.clientSecret);
    const certificate = text(o.certificate)
      ? readCertificate(text(o.certificate)!)
      : pem
        ? parseCertificate(pem, 'the certificate PEM')
        : undefined;
    if (!clientSecret && !certificate && !current?.clientSecret && !current?.certificate)
      throw usage('--client-secret', "give the app's client secret, or --certificate <pem file>");
    microsoft = { tenantId, clientId: appId, clientSecret, certificate };
  } else if (!config.microsoft)
    throw usage('--tenant', 'no microsoft connection is configured: give --tenant, --client-id and --client-secret');

  const only = config.itsm.length === 1 ? config.itsm[0].name : undefined;
  const itsm = text(o.itsm) ?? only;
  if (!itsm) throw usage('--itsm', 'name the ServiceNow connection (none or several are configured)');
  let servicenow: ServiceNowInput | undefined;
  const instance = text(o.instance);
  if (instance) {
    if (!/^https:\/\/[^/\s]+/.test(instance)) throw usage('--instance', 'must be an https URL');
    const auth = text(o.snAuth) ?? 'oauth';
    if (auth !== 'oauth' && auth !== 'basic') throw usage('--sn-auth', 'oauth or basic');
    servicenow = {
      instanceUrl: instance.replace(/\/+$/, ''),
      auth,
      clientId: text(o.snClientId),
      clientSecret: text(o.snClientSecret),
      username: text(o.snUsername),
      password: text(o.snPassword),
    };
    const kept = configuredSnSecret(config, itsm, auth) !== undefined;
    if (auth === 'oauth' && (!servicenow.clientId || (!servicenow.clientSecret && !kept)))
      throw usage(
        servicenow.clientId ? '--sn-client-secret' : '--sn-client-id',
        'OAuth needs the client id and secret',
      );
    if (auth === 'basic' && (!servicenow.username || (!servicenow.password && !kept)))
      throw usage(
        servicenow.username ? '--sn-password' : '--sn-username',
        'basic auth needs the user name and password',
      );
  } else if (!config.itsm.some((c) => c.name === itsm))
    throw usage('--itsm', `no ITSM connection named "${itsm}": give --instance and its sign-in to create it`);

  const escalation = (text(o.escalation) ?? 'off') as EscalationMode;
  if (!ESCALATION_MODES.includes(escalation)) throw usage('--escalation', `one of ${ESCALATION_MODES.join(', ')}`);
  const contact = Object.fromEntries(
    Object.entries(CONTACT_FLAGS).flatMap(([field, flag]) => {
      const v = text(o[flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]);
      return v ? [[field, v]] : [];
    }),
  );
  return {
    name,
    microsoft,
    itsm,
    servicenow,
    testEnvironment: o.testEnvironment === true,
    escalation,
    subscription: text(o.subscription),
    contact: Object.keys(contact).length ? contact : undefined,
  };
}
