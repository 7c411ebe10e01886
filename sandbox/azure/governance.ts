import { ArmError, isDateTime } from './arm.ts';
import { getAssessment } from './assessments.ts';
import type { AzureStore } from './store.ts';

/**
 * Governance assignments (2022-01-01-preview) on `{scope}/providers/Microsoft.Security/assessments/
 * {assessmentName}/governanceAssignments/{assignmentKey}`. `{scope}` is the assessed resource id
 * (as in the spec's example) or a subscription / security connector (as in the spec's text).
 */

export const GOVERNANCE_TYPE = 'Microsoft.Security/assessments/governanceAssignments';
const INT32_MAX = 2_147_483_647;

export function governanceId(scope: string, assessmentName: string, key: string): string {
  return `${scope}/providers/Microsoft.Security/assessments/${assessmentName}/governanceAssignments/${key}`;
}

const bad = (target: string, message: string) =>
  new ArmError(400, 'InvalidInput', message, target, [{ code: 'InvalidInput', target, message }]);

/** Validate a PUT body against the spec's schema and return the properties to store. */
export function validateAssignment(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw bad('governanceAssignment', 'The request body must be a JSON object.');
  const p = (body as { properties?: unknown }).properties;
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw bad('properties', "The 'properties' object is required.");
  const props = p as Record<string, unknown>;
  const out: Record<string, unknown> = {};

  if (props.owner !== undefined) {
    if (typeof props.owner !== 'string') throw bad('properties.owner', "'owner' must be a string.");
    out.owner = props.owner;
  }
  if (props.remediationDueDate === undefined || props.remediationDueDate === null) {
    throw bad('properties.remediationDueDate', "The 'remediationDueDate' property is required.");
  }
  if (!isDateTime(props.remediationDueDate))
    throw bad('properties.remediationDueDate', "'remediationDueDate' must be an ISO 8601 date-time.");
  out.remediationDueDate = props.remediationDueDate;

  if (props.remediationEta !== undefined) {
    const eta = props.remediationEta as Record<string, unknown> | null;
    if (!eta || typeof eta !== 'object') throw bad('properties.remediationEta', "'remediationEta' must be an object.");
    if (eta.eta === undefined || eta.justification === undefined) {
      throw bad('properties.remediationEta', "'remediationEta' requires both 'eta' and 'justification'.");
    }
    if (!isDateTime(eta.eta)) throw bad('properties.remediationEta.eta', "'eta' must be an ISO 8601 date-time.");
    if (typeof eta.justification !== 'string')
      throw bad('properties.remediationEta.justification', "'justification' must be a string.");
    out.remediationEta = { eta: eta.eta, justification: eta.justification };
  }
  if (props.isGracePeriod !== undefined) {
    if (typeof props.isGracePeriod !== 'boolean')
      throw bad('properties.isGracePeriod', "'isGracePeriod' must be a boolean.");
    out.isGracePeriod = props.isGracePeriod;
  }
  if (props.governanceEmailNotification !== undefined) {
    const n = props.governanceEmailNotification as Record<string, unknown> | null;
    if (!n || typeof n !== 'object')
      throw bad('properties.governanceEmailNotification', "'governanceEmailNotification' must be an object.");
    const copy: Record<string, boolean> = {};
    for (const k of ['disableManagerEmailNotification', 'disableOwnerEmailNotification']) {
      if (n[k] === undefined) continue;
      if (typeof n[k] !== 'boolean')
        throw bad(`properties.governanceEmailNotification.${k}`, `'${k}' must be a boolean.`);
      copy[k] = n[k] as boolean;
    }
    out.governanceEmailNotification = copy;
  }
  if (props.additionalData !== undefined) {
    const d = props.additionalData as Record<string, unknown> | null;
    if (!d || typeof d !== 'object') throw bad('properties.additionalData', "'additionalData' must be an object.");
    const copy: Record<string, unknown> = {};
    if (d.ticketNumber !== undefined) {
      const n = d.ticketNumber;
      // int32, minimum 0: a ServiceNow number like "INC0010001" is rejected, as the real API does.
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > INT32_MAX) {
        throw bad(
          'properties.additionalData.ticketNumber',
          `'ticketNumber' must be an integer between 0 and ${INT32_MAX} (int32).`,
        );
      }
      copy.ticketNumber = n;
    }
    for (const k of ['ticketLink', 'ticketStatus']) {
      if (d[k] === undefined) continue;
      if (typeof d[k] !== 'string') throw bad(`properties.additionalData.${k}`, `'${k}' must be a string.`);
      copy[k] = d[k];
    }
    out.additionalData = copy;
  }
  return out;
}

/** The scope must exist: a known subscription/connector, or a resource that has this assessment. */
export function checkScope(store: AzureStore, scope: string, assessmentName: string): void {
  const sub = /^\/subscriptions\/([^/]+)(\/.*)?$/i.exec(scope);
  if (!sub || !store.subscription(sub[1])) {
    throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub?.[1] ?? scope}' could not be found.`);
  }
  if (!sub[2]) return;
  if (
    /^\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+$/i.test(sub[2]) &&
    store.connector(scope)
  )
    return;
  if (!getAssessment(store, scope, assessmentName, { apiVersion: '2021-06-01', expandMetadata: false })) {
    throw new ArmError(
      404,
      'ResourceNotFound',
      `The assessment '${assessmentName}' was not found on resource '${scope}'.`,
    );
  }
}

export function resource(id: string, name: string, properties: Record<string, unknown>) {
  return { id, name, type: GOVERNANCE_TYPE, properties };
}
