import { ArmError, isDateTime } from './arm.ts';
import { parseClassificationId, parseServiceId } from './support-catalog.ts';

/**
 * Request checks for Microsoft.Support (support.json 2024-04-01 `SupportTicketDetails`,
 * `UpdateSupportTicket`, `ContactProfile`) and the small `$filter` grammar its lists take. Every
 * refusal is a 400 naming the field (`target`).
 */

type Body = Record<string, any>;

export const SEVERITIES = ['minimal', 'moderate', 'critical', 'highestcriticalimpact'];
const CONSENT = ['Yes', 'No'];
const CONTACT_REQUIRED = [
  'firstName',
  'lastName',
  'preferredContactMethod',
  'primaryEmailAddress',
  'preferredTimeZone',
  'country',
  'preferredSupportLanguage',
] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const bad = (field: string, message: string) => new ArmError(400, 'InvalidInput', message, field);
const text = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

function checkContact(c: unknown, required: boolean): Body | undefined {
  if (c === undefined && !required) return undefined;
  if (!c || typeof c !== 'object') throw bad('properties.contactDetails', "'properties.contactDetails' is required.");
  const d = c as Body;
  if (required)
    for (const k of CONTACT_REQUIRED)
      if (!text(d[k])) throw bad(`properties.contactDetails.${k}`, `'properties.contactDetails.${k}' is required.`);
  if (d.preferredContactMethod !== undefined && !['email', 'phone'].includes(d.preferredContactMethod))
    throw bad(
      'properties.contactDetails.preferredContactMethod',
      "'preferredContactMethod' must be 'email' or 'phone'.",
    );
  if (d.preferredContactMethod === 'phone' && !text(d.phoneNumber))
    throw bad('properties.contactDetails.phoneNumber', "'phoneNumber' is required when the contact method is phone.");
  if (d.primaryEmailAddress !== undefined && !EMAIL.test(String(d.primaryEmailAddress)))
    throw bad('properties.contactDetails.primaryEmailAddress', "'primaryEmailAddress' is not an e-mail address.");
  if (d.country !== undefined && !/^[A-Za-z]{3}$/.test(String(d.country)))
    throw bad('properties.contactDetails.country', "'country' must be an ISO 3166-1 alpha-3 code, e.g. 'usa'.");
  if (d.additionalEmailAddresses !== undefined && !Array.isArray(d.additionalEmailAddresses))
    throw bad('properties.contactDetails.additionalEmailAddresses', "'additionalEmailAddresses' must be an array.");
  const keep = [...CONTACT_REQUIRED, 'additionalEmailAddresses', 'phoneNumber'];
  return Object.fromEntries(Object.entries(d).filter(([k]) => keep.includes(k)));
}

/** The create body's properties, as stored: input fields only (read-only ones are the server's). */
export function checkTicketBody(body: unknown, apiVersion: string, _scope: string): Body {
  const p = (body as Body | undefined)?.properties as Body | undefined;
  if (!p || typeof p !== 'object') throw bad('properties', "'properties' is required.");
  for (const k of ['serviceId', 'title', 'description', 'problemClassificationId', 'severity'])
    if (!text(p[k])) throw bad(`properties.${k}`, `'properties.${k}' is required.`);
  const service = parseServiceId(p.serviceId);
  if (!service) throw bad('properties.serviceId', `The service '${p.serviceId}' is not a support service.`);
  const pc = parseClassificationId(p.problemClassificationId);
  if (!pc || pc.service !== service)
    throw bad(
      'properties.problemClassificationId',
      `The problem classification '${p.problemClassificationId}' does not belong to the service '${p.serviceId}'.`,
    );
  if (!SEVERITIES.includes(p.severity))
    throw bad('properties.severity', `'severity' must be one of ${SEVERITIES.join(', ')}.`);
  // 2024-04-01 made diagnostic consent a required answer; 2020-04-01 had no such field.
  if (apiVersion >= '2024-04-01' && !CONSENT.includes(p.advancedDiagnosticConsent))
    throw bad('properties.advancedDiagnosticConsent', "'properties.advancedDiagnosticConsent' must be 'Yes' or 'No'.");
  if (p.problemStartTime !== undefined && !isDateTime(p.problemStartTime))
    throw bad('properties.problemStartTime', "'problemStartTime' must be an ISO 8601 date-time.");
  if (p.problemScopingQuestions !== undefined) {
    try {
      JSON.parse(String(p.problemScopingQuestions));
    } catch {
      throw bad('properties.problemScopingQuestions', "'problemScopingQuestions' must be a JSON string.");
    }
  }
  const contactDetails = checkContact(p.contactDetails, true);
  const optional = [
    'require24X7Response',
    'problemStartTime',
    'supportPlanId',
    'problemScopingQuestions',
    'technicalTicketDetails',
    'quotaTicketDetails',
    'secondaryConsent',
    'fileWorkspaceName',
    'enrollmentId',
    ...(apiVersion >= '2024-04-01' ? ['advancedDiagnosticConsent'] : []),
  ];
  const out: Body = {
    serviceId: service && `/providers/Microsoft.Support/services/${service.name}`,
    title: p.title,
    description: p.description,
    problemClassificationId: p.problemClassificationId,
    severity: p.severity,
    contactDetails,
  };
  for (const k of optional) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

export interface TicketUpdate {
  severity?: string;
  status?: 'open' | 'closed';
  contactDetails?: Body;
  advancedDiagnosticConsent?: string;
  secondaryConsent?: unknown[];
}

export function checkUpdateBody(body: unknown, apiVersion: string): TicketUpdate {
  if (!body || typeof body !== 'object') throw bad('updateSupportTicket', 'The request body is required.');
  const b = body as Body;
  const u: TicketUpdate = {};
  if (b.severity !== undefined) {
    if (!SEVERITIES.includes(b.severity)) throw bad('severity', `'severity' must be one of ${SEVERITIES.join(', ')}.`);
    u.severity = b.severity;
  }
  if (b.status !== undefined) {
    if (!['open', 'closed'].includes(b.status)) throw bad('status', "'status' must be 'open' or 'closed'.");
    u.status = b.status;
  }
  if (b.contactDetails !== undefined) u.contactDetails = checkContact(b.contactDetails, false);
  if (b.advancedDiagnosticConsent !== undefined) {
    if (apiVersion < '2024-04-01' || !CONSENT.includes(b.advancedDiagnosticConsent))
      throw bad('advancedDiagnosticConsent', "'advancedDiagnosticConsent' must be 'Yes' or 'No' (2024-04-01).");
    u.advancedDiagnosticConsent = b.advancedDiagnosticConsent;
  }
  if (b.secondaryConsent !== undefined) {
    if (!Array.isArray(b.secondaryConsent)) throw bad('secondaryConsent', "'secondaryConsent' must be an array.");
    u.secondaryConsent = b.secondaryConsent;
  }
  return u;
}

export interface FilterTerm {
  field: string;
  op: 'eq' | 'gt' | 'ge';
  value: string;
}

/**
 * `Status eq 'Open' and CreatedDate ge 2024-01-01T00:00:00Z`: terms joined by `and`; text fields take
 * `eq`, `CreatedDate` `gt`/`ge` (the spec's rule). Field names are matched case-insensitively.
 */
export function parseFilter(filter: string | undefined, fields: string[]): FilterTerm[] {
  if (!filter?.trim()) return [];
  return filter.split(/\s+and\s+/i).map((raw) => {
    const m = /^\s*(\w+)\s+(eq|gt|ge)\s+(?:'((?:[^']|'')*)'|(\S+))\s*$/i.exec(raw);
    const field = m?.[1].toLowerCase();
    const op = m?.[2].toLowerCase() as FilterTerm['op'] | undefined;
    if (!m || !field || !op || !fields.includes(field) || (field === 'createddate') === (op === 'eq'))
      throw new ArmError(400, 'InvalidFilter', `The $filter term '${raw.trim()}' is not supported.`, '$filter');
    const value = m[3] !== undefined ? m[3].replaceAll("''", "'") : m[4];
    if (field === 'createddate' && Number.isNaN(Date.parse(value)))
      throw new ArmError(400, 'InvalidFilter', `'${value}' is not a date.`, '$filter');
    return { field, op, value };
  });
}

export function matchesFilter(props: Body, terms: FilterTerm[]): boolean {
  return terms.every((t) => {
    const key = Object.keys(props).find((k) => k.toLowerCase() === t.field);
    const v = key === undefined ? '' : String(props[key] ?? '');
    if (t.op === 'eq') return v.toLowerCase() === t.value.toLowerCase();
    const d = Date.parse(v);
    const want = Date.parse(t.value);
    return t.op === 'gt' ? d > want : d >= want;
  });
}
