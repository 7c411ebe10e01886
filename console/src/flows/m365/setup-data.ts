import { api, call } from '../../api/client.ts';

/**
 * The setup page's calls (src/flows/m365/setup-routes.ts, setup-save.ts), the body Save sends and
 * the command line the same fields build.
 */

export interface SetupView {
  microsoft: {
    tenantId: string;
    clientId: string;
    credential: 'client secret' | 'certificate';
    kept: string | null;
  } | null;
  itsm: { name: string; type: string; instanceUrl: string | null; auth: string | null; account: string | null }[];
  /** Set when a save changed the configuration file: the service applies it at its next start. */
  pending: string | null;
  integrations: {
    name: string;
    enabled: boolean;
    itsm: string;
    testEnvironment: boolean;
    escalation: { mode: string; subscription: string | null; contact: string | null };
  }[];
}

export interface CheckRow {
  target: string;
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export const loadSetup = async () => (await call(api.GET('/api/m365/setup'))) as unknown as SetupView;

export const testSetup = async (integration: string) =>
  (await call(api.POST('/api/m365/setup/test', { body: { integration } }))) as unknown as {
    integration: string;
    results: CheckRow[];
  };

export interface SaveStep {
  what: string;
  outcome: 'created' | 'updated' | 'unchanged' | 'manual' | 'failed';
  detail?: string;
}

export interface SaveResult {
  integration: string;
  saved: boolean;
  steps: SaveStep[];
  restartNeeded: boolean;
  message: string;
}

export const ESCALATION_MODES = ['off', 'azure-support', 'guided', 'both'] as const;

export interface SetupForm {
  name: string;
  tenant: string;
  clientId: string;
  credential: 'secret' | 'certificate';
  certificateFile: string;
  /** Typed for Save only (never prefilled; empty keeps the stored one). */
  clientSecret: string;
  /** PEM text (key and certificate), for Save. */
  certificatePem: string;
  itsm: string;
  /** Set: create or update the ServiceNow connection. */
  instance: string;
  snAuth: 'oauth' | 'basic';
  snClientId: string;
  snUsername: string;
  snClientSecret: string;
  snPassword: string;
  testEnvironment: boolean;
  escalation: (typeof ESCALATION_MODES)[number];
  subscription: string;
  contactFirstName: string;
  contactLastName: string;
  contactEmail: string;
  contactTimeZone: string;
  contactCountry: string;
}

const given = (v: string) => (v.trim() ? v.trim() : undefined);

/** PUT /api/m365/setup's body for the form: an empty secret is left out, so the stored one stays. */
export function saveBody(f: SetupForm) {
  const ms = Boolean(f.tenant.trim() || f.clientId.trim());
  const escalating = f.escalation !== 'off';
  const contact = {
    firstName: given(f.contactFirstName),
    lastName: given(f.contactLastName),
    primaryEmailAddress: given(f.contactEmail),
    preferredTimeZone: given(f.contactTimeZone),
    country: given(f.contactCountry),
  };
  return {
    name: f.name.trim(),
    tenant: ms ? given(f.tenant) : undefined,
    clientId: ms ? given(f.clientId) : undefined,
    clientSecret: ms && f.credential === 'secret' ? given(f.clientSecret) : undefined,
    certificate: ms && f.credential === 'certificate' ? given(f.certificatePem) : undefined,
    itsm: given(f.itsm),
    servicenow: f.instance.trim()
      ? {
          instanceUrl: f.instance.trim(),
          auth: f.snAuth,
          ...(f.snAuth === 'oauth'
            ? { clientId: given(f.snClientId), clientSecret: given(f.snClientSecret) }
            : { username: given(f.snUsername), password: given(f.snPassword) }),
        }
      : undefined,
    testEnvironment: f.testEnvironment,
    escalation: {
      mode: f.escalation,
      subscription: f.escalation === 'azure-support' || f.escalation === 'both' ? given(f.subscription) : undefined,
      contact: escalating && Object.values(contact).some(Boolean) ? contact : undefined,
    },
  };
}

export const saveSetup = async (f: SetupForm) =>
  (await call(api.PUT('/api/m365/setup', { body: saveBody(f) }))) as unknown as SaveResult;

/** A shell word: quoted when it holds anything but safe characters. */
const word = (v: string) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/**
 * `ticketloop setup m365 …` for the form. Secrets are never in it: each is read from an environment
 * variable the person sets at their terminal, so nothing typed here holds one.
 */
export function setupCommand(f: SetupForm): string {
  const args: string[] = ['ticketloop setup m365'];
  const add = (flag: string, v: string) => v.trim() && args.push(`${flag} ${word(v.trim())}`);
  add('--name', f.name);
  add('--tenant', f.tenant);
  add('--client-id', f.clientId);
  if (f.tenant.trim() || f.clientId.trim()) {
    if (f.credential === 'certificate') add('--certificate', f.certificateFile);
    else args.push('--client-secret "$M365_CLIENT_SECRET"');
  }
  add('--itsm', f.itsm);
  if (f.instance.trim()) {
    add('--instance', f.instance);
    args.push(`--sn-auth ${f.snAuth}`);
    if (f.snAuth === 'oauth') {
      add('--sn-client-id', f.snClientId);
      args.push('--sn-client-secret "$SN_CLIENT_SECRET"');
    } else {
      add('--sn-username', f.snUsername);
      args.push('--sn-password "$SN_PASSWORD"');
    }
  }
  if (f.testEnvironment) args.push('--test-environment');
  args.push(`--escalation ${f.escalation}`);
  if (f.escalation === 'azure-support' || f.escalation === 'both') add('--subscription', f.subscription);
  if (f.escalation !== 'off') {
    add('--contact-first-name', f.contactFirstName);
    add('--contact-last-name', f.contactLastName);
    add('--contact-email', f.contactEmail);
    add('--contact-time-zone', f.contactTimeZone);
    add('--contact-country', f.contactCountry);
  }
  return args.join(' \\\n  ');
}

/** The environment variables the command reads its secrets from. */
export function secretVariables(f: SetupForm): string[] {
  const out: string[] = [];
  if ((f.tenant.trim() || f.clientId.trim()) && f.credential === 'secret') out.push('M365_CLIENT_SECRET');
  if (f.instance.trim()) out.push(f.snAuth === 'oauth' ? 'SN_CLIENT_SECRET' : 'SN_PASSWORD');
  return out;
}
