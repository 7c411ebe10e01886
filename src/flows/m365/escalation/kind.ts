import type {
  AzureSupportClient,
  ProblemClassification,
  SupportService,
} from '../../../connectors/microsoft/support.ts';
import { HttpProblem } from '../../../http/server.ts';
import type { EscalationKind, EscalationMode } from './config.ts';
import { kindsOf } from './config.ts';

/**
 * Which kind of escalation fits, and for the Azure support API which service and problem
 * classification: both discovered from `GET …/services` and `…/problemClassifications`, never
 * hard-coded (the spec asks it). Microsoft 365 workloads (the names service health uses) have no
 * case API and go to the guided hand-off.
 */

/** Service names (service health's words) that only the Microsoft 365 admin center takes cases for. */
const M365_WORKLOADS = [
  'exchange',
  'outlook',
  'sharepoint',
  'onedrive',
  'teams',
  'skype',
  'microsoft 365 apps',
  'microsoft 365 suite',
  'office',
  'planner',
  'forms',
  'viva',
  'yammer',
  'intune',
  'power bi',
  'bookings',
  'purview',
  'defender xdr',
];

export const isM365Workload = (service: string) => {
  const s = service.toLowerCase();
  return M365_WORKLOADS.some((w) => s.includes(w));
};

const bad = (field: string, message: string) =>
  new HttpProblem(400, 'invalid_request', `${field}: ${message}`, [{ path: `body.${field}`, message }]);

/** The kind asked for, or the one the service implies; refused when the mode does not allow it. */
export function chooseKind(
  mode: EscalationMode,
  asked: { kind?: EscalationKind; service?: string; problemClassification?: string },
): EscalationKind {
  const allowed = kindsOf(mode);
  if (allowed.length === 0)
    throw new HttpProblem(
      409,
      'insights_only',
      'escalation is off for this integration ("Insights only"): set escalation.mode to azure-support, guided or both',
      [{ path: 'integration.escalation.mode', message: 'off' }],
    );
  const kind =
    asked.kind ??
    (allowed.length === 1
      ? allowed[0]
      : asked.problemClassification
        ? 'azure-support'
        : asked.service
          ? isM365Workload(asked.service)
            ? 'guided'
            : 'azure-support'
          : undefined);
  if (!kind)
    throw bad(
      'kind',
      "say 'azure-support' (Azure and Entra services) or 'guided' (Microsoft 365 services), or name the service",
    );
  if (!allowed.includes(kind)) throw bad('kind', `${kind} is not enabled (escalation.mode is ${mode})`);
  return kind;
}

const CLASSIFICATION_ID = /^\/providers\/Microsoft\.Support\/services\/([^/]+)\/problemClassifications\/([^/]+)$/i;
const names = (list: { displayName: string }[]) =>
  list
    .slice(0, 15)
    .map((x) => `'${x.displayName}'`)
    .join(', ') + (list.length > 15 ? `, … (${list.length} in all)` : '');

/**
 * The service and classification for a ticket: `problemClassification` is a full id, or words in its
 * display name within the service whose display name has `service`'s words.
 */
export async function resolveClassification(
  support: AzureSupportClient,
  asked: { service?: string; problemClassification?: string },
): Promise<{ service: SupportService; classification: ProblemClassification }> {
  const services = await support.listServices();
  const byId = asked.problemClassification ? CLASSIFICATION_ID.exec(asked.problemClassification) : null;
  let candidates: SupportService[];
  if (byId) candidates = services.filter((s) => s.name.toLowerCase() === byId[1].toLowerCase());
  else {
    if (!asked.service)
      throw bad('service', `required for an Azure support ticket: one of ${names(services)} (or words of one)`);
    const words = asked.service.toLowerCase().split(/\s+/).filter(Boolean);
    candidates = services.filter((s) => words.every((w) => s.displayName.toLowerCase().includes(w)));
    const exact = candidates.find((s) => s.displayName.toLowerCase() === asked.service!.toLowerCase());
    if (exact) candidates = [exact];
  }
  if (candidates.length === 0)
    throw bad(
      byId ? 'problemClassification' : 'service',
      `no Azure support service matches "${byId ? byId[1] : asked.service}"; the support API lists ${names(services)}`,
    );
  for (const service of candidates) {
    const classifications = await support.listProblemClassifications(service.name);
    if (!asked.problemClassification) {
      if (candidates.length > 1) continue;
      throw bad('problemClassification', `required; for '${service.displayName}' one of ${names(classifications)}`);
    }
    const want = asked.problemClassification.toLowerCase();
    const hit = byId
      ? classifications.find((c) => c.name.toLowerCase() === byId[2].toLowerCase())
      : classifications.find((c) => want.split(/\s+/).every((w) => c.displayName.toLowerCase().includes(w)));
    if (hit) return { service, classification: hit };
    if (candidates.length === 1)
      throw bad(
        'problemClassification',
        `"${asked.problemClassification}" is not a classification of '${service.displayName}': one of ${names(classifications)}`,
      );
  }
  throw bad(
    asked.problemClassification ? 'problemClassification' : 'service',
    `"${asked.service}" matches several services (${names(candidates)}): name one, or give the problemClassification`,
  );
}
