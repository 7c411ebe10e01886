import { HttpError } from '../../engine/errors.ts';
import { TokenAcquisitionError } from './identity.ts';

/**
 * Turn a failed call to Entra, Graph or ARM into what an operator can act on: what happened, in
 * one line, and the fix. AADSTS codes are Entra's (wire-format §3); 403 means a missing Graph
 * application permission or Azure role, which the caller names.
 */

export interface MicrosoftApp {
  tenantId: string;
  clientId: string;
  authorityHost: string;
}

export interface Diagnosis {
  detail: string;
  fix: string;
}

/** What a 403 from this call means: the Graph permission or Azure role the app lacks. */
export type Needs = { graphPermission: string } | { azureRole: string; scope: string };

const AADSTS_FIXES: [RegExp, (app: MicrosoftApp) => string][] = [
  [
    /AADSTS7000215/,
    (a) =>
      `check microsoft.clientSecret: it is not a valid secret of app ${a.clientId} (use the secret's Value, not its Secret ID)`,
  ],
  [
    /AADSTS7000222/,
    (a) => `the client secret of app ${a.clientId} has expired: add a new one and update microsoft.clientSecret`,
  ],
  [
    /AADSTS700016/,
    (a) =>
      `check microsoft.clientId and microsoft.tenantId: app ${a.clientId} is not registered in tenant ${a.tenantId}`,
  ],
  [/AADSTS(90002|900023)/, () => 'check microsoft.tenantId: the tenant does not exist in this cloud'],
  [
    /AADSTS700027|AADSTS700024/,
    (a) => `check microsoft.certificate: Entra refused the certificate assertion of app ${a.clientId}`,
  ],
];

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The admin-consent URL for the app (the one step no API can take for the admin). */
export function adminConsentUrl(app: MicrosoftApp): string {
  const host = app.authorityHost.replace(/\/+$/, '');
  return `${host}/${app.tenantId}/adminconsent?client_id=${encodeURIComponent(app.clientId)}`;
}

export function diagnoseMicrosoft(e: unknown, app: MicrosoftApp, needs?: Needs): Diagnosis {
  const text = message(e);
  const sign =
    e instanceof TokenAcquisitionError || (e instanceof HttpError && e.upstream === 'entra') ? text : undefined;
  if (sign !== undefined) {
    for (const [pattern, fix] of AADSTS_FIXES)
      if (pattern.test(sign)) return { detail: `sign-in refused: ${firstLine(sign)}`, fix: fix(app) };
    if (e instanceof HttpError && e.status === 0)
      return {
        detail: `cannot reach ${new URL(e.url).origin}: ${firstLine(sign)}`,
        fix: 'check microsoft.authorityHost and that this host can reach it (proxy, firewall, caFile)',
      };
    return {
      detail: `sign-in failed: ${firstLine(sign)}`,
      fix: 'check microsoft.tenantId, clientId and the credential',
    };
  }
  if (!(e instanceof HttpError)) return { detail: firstLine(text), fix: 'see the log for details' };
  const where = `${e.method} ${new URL(e.url).pathname}`;
  if (e.status === 0)
    return {
      detail: `cannot reach ${new URL(e.url).origin}: ${firstLine(text)}`,
      fix: `check ${e.upstream === 'arm' ? 'microsoft.armUrl' : 'microsoft.graphUrl'} and that this host can reach it (proxy, firewall, caFile)`,
    };
  if (e.status === 401)
    return { detail: `401 on ${where}`, fix: `check that app ${app.clientId} belongs to tenant ${app.tenantId}` };
  if (e.status === 403 && needs && 'graphPermission' in needs)
    return {
      detail: `403 on ${where}`,
      fix: `grant the application permission ${needs.graphPermission} to app ${app.clientId} and give admin consent: ${adminConsentUrl(app)}`,
    };
  if (e.status === 403 && needs && 'azureRole' in needs)
    return {
      detail: `403 on ${where}`,
      fix: `assign the role "${needs.azureRole}" on ${needs.scope} to app ${app.clientId}: az role assignment create --assignee ${app.clientId} --role "${needs.azureRole}" --scope ${needs.scope}`,
    };
  if (e.status === 404)
    return { detail: `404 on ${where}`, fix: 'check the id in the configuration: it does not exist' };
  if (e.status === 429 || e.status >= 500)
    return {
      detail: `${e.status} on ${where}`,
      fix: 'the service is busy or down; Ticketloop retries — check again later',
    };
  return { detail: firstLine(text), fix: 'see the log for details' };
}

function firstLine(s: string): string {
  // AADSTS descriptions end with trace and correlation ids: useful in the log, noise in a check line.
  return s
    .split('\n')[0]
    .replace(/\s+Trace ID:.*$/, '')
    .slice(0, 300);
}
