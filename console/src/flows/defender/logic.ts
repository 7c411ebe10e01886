/** A field the API refused (the error envelope's `details`), as api/client.ts reads it. */
interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The Defender pages' logic without React or a browser (tested in test/console/logic.test.ts):
 * ARM scopes from the form and back, the create body, the API's field errors by field, the
 * assignments query, the reconcile progress and the delete cascade in words.
 */

export const SCOPE_KINDS = {
  managementGroup: {
    label: 'Management group',
    input: 'Management group ID',
    hint: 'e.g. contoso-root',
  },
  subscription: {
    label: 'Subscription',
    input: 'Subscription ID',
    hint: 'a GUID, e.g. 6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f',
  },
  connector: {
    label: 'Security connector (AWS, GCP)',
    input: 'Security connector resource ID',
    hint: '/subscriptions/{guid}/resourceGroups/{group}/providers/Microsoft.Security/securityConnectors/{name}',
  },
} as const;
export type ScopeKind = keyof typeof SCOPE_KINDS;

const MG_PREFIX = '/providers/Microsoft.Management/managementGroups/';

/** The ARM scope for what the form holds (the API validates it; this only assembles it). */
export function scopeFor(kind: ScopeKind, id: string): string {
  const v = id.trim();
  if (kind === 'managementGroup') return v.startsWith('/') ? v : `${MG_PREFIX}${v}`;
  if (kind === 'subscription') return v.startsWith('/') ? v : `/subscriptions/${v}`;
  return v.startsWith('/') || !v ? v : `/${v}`;
}

/** What kind of scope an integration reads, and its short name, for the list. */
export function describeScope(scope: string): { kind: string; name: string } {
  const s = scope.startsWith('/') ? scope : `/${scope}`;
  const connector = /\/providers\/Microsoft\.Security\/securityConnectors\/([^/]+)$/i.exec(s);
  if (connector) return { kind: 'Security connector', name: connector[1] };
  const mg = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i.exec(s);
  if (mg) return { kind: 'Management group', name: mg[1] };
  const rg = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)$/i.exec(s);
  if (rg) return { kind: 'Resource group', name: `${rg[2]} (${rg[1]})` };
  const sub = /^\/subscriptions\/([^/]+)$/i.exec(s);
  if (sub) return { kind: 'Subscription', name: sub[1] };
  return { kind: 'Scope', name: scope };
}

export const SEVERITIES = ['Low', 'Medium', 'High', 'Critical'] as const;

export interface IntegrationForm {
  name: string;
  itsm: string;
  scopeKind: ScopeKind;
  scopeId: string;
  ticketType: 'incident' | 'change_request' | 'problem';
  grouping: 'recommendation' | 'resource';
  severities: string[];
  dailyCap: string;
  mode: 'default' | 'customized';
  assignedTo: string;
  caller: string;
  shortDescription: string;
  description: string;
  assignmentGroup: string;
  impact: '' | '1' | '2' | '3';
  urgency: '' | '1' | '2' | '3';
  category: string;
  /** One `field = template` a line. */
  extraFields: string;
}

export const EMPTY_FORM: IntegrationForm = {
  name: '',
  itsm: '',
  scopeKind: 'managementGroup',
  scopeId: '',
  ticketType: 'incident',
  grouping: 'recommendation',
  severities: [],
  dailyCap: '100',
  mode: 'default',
  assignedTo: '',
  caller: '',
  shortDescription: '[{severity}] {title}',
  description: '',
  assignmentGroup: '',
  impact: '',
  urgency: '',
  category: '',
  extraFields: '',
};

/** `u_source = defender:{assessmentKey}` lines → fields; a line without `=` is a problem the form shows. */
export function parseExtraFields(text: string): { fields: Record<string, string>; problem?: string } {
  const fields: Record<string, string> = {};
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { fields, problem: `line ${n + 1}: write it as field = template` };
    fields[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { fields };
}

/** The body of POST /api/defender/integrations: what the form says, empty fields left to the defaults. */
export function integrationBody(f: IntegrationForm): Record<string, unknown> {
  const set = <T>(v: T | '') => (v === '' ? undefined : v);
  const mapping: Record<string, unknown> = {
    mode: f.mode,
    assignedTo: set(f.assignedTo.trim()),
    caller: set(f.caller.trim()),
  };
  if (f.mode === 'customized') {
    const { fields } = parseExtraFields(f.extraFields);
    Object.assign(mapping, {
      shortDescription: set(f.shortDescription.trim()),
      description: set(f.description.trim()),
      assignmentGroup: set(f.assignmentGroup.trim()),
      impact: set(f.impact),
      urgency: set(f.urgency),
      category: set(f.category.trim()),
      fields: Object.keys(fields).length ? fields : undefined,
    });
  }
  const cap = f.dailyCap.trim() === '' ? undefined : Number(f.dailyCap);
  return JSON.parse(
    JSON.stringify({
      name: f.name.trim(),
      itsm: f.itsm,
      scope: scopeFor(f.scopeKind, f.scopeId),
      ticketType: f.ticketType,
      grouping: f.grouping,
      dailyCap: cap,
      filters: f.severities.length ? { severities: f.severities } : undefined,
      mapping,
    }),
  ) as Record<string, unknown>;
}

/** The API's field errors (`body.mapping.assignedTo`) by form field (`mapping.assignedTo`); the rest apart. */
export function errorsByField(details: readonly FieldProblem[]): {
  fields: Record<string, string>;
  other: string[];
} {
  const known = new Set([
    'name',
    'itsm',
    'scope',
    'ticketType',
    'grouping',
    'dailyCap',
    'filters.severities',
    'mapping.mode',
    'mapping.assignedTo',
    'mapping.caller',
    'mapping.shortDescription',
    'mapping.description',
    'mapping.assignmentGroup',
    'mapping.impact',
    'mapping.urgency',
    'mapping.category',
    'mapping.fields',
  ]);
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const d of details) {
    const path = d.path.replace(/^body\.?/, '').replace(/\[\d+\]$/, '');
    const field = known.has(path) ? path : path.startsWith('mapping.fields') ? 'mapping.fields' : undefined;
    if (field) fields[field] = fields[field] ? `${fields[field]}; ${d.message}` : d.message;
    else other.push(`${path || 'body'}: ${d.message}`);
  }
  return { fields, other };
}

export interface AssignmentFilters {
  integration: string;
  scope: string;
  severity: string;
  status: string;
  owner: string;
  overdue: '' | 'true' | 'false';
}

export const NO_FILTERS: AssignmentFilters = {
  integration: '',
  scope: '',
  severity: '',
  status: '',
  owner: '',
  overdue: '',
};

/** The filters as query parameters, empty ones left out (the JSON list and the CSV take the same). */
export function assignmentQuery(f: AssignmentFilters): Record<string, string> {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v.trim() !== '')) as Record<string, string>;
}

export function csvHref(f: AssignmentFilters): string {
  const q = new URLSearchParams(assignmentQuery(f)).toString();
  return `/api/defender/assignments.csv${q ? `?${q}` : ''}`;
}

export interface PassFigures {
  pages?: number;
  assessments?: number;
  unhealthy?: number;
  attached?: number;
  healed?: number;
  capped?: number;
  ms?: number;
  at?: string;
  startedAt?: string;
}

const n = (v: number | undefined) => (v ?? 0).toLocaleString('en-US');

/** The running pass so far, in one line. */
export function progressText(state: 'idle' | 'queued' | 'running', current: PassFigures | null): string {
  if (state === 'queued') return 'Waiting for a worker to start the pass…';
  if (state === 'idle') return 'No pass is running.';
  if (!current) return 'Starting: reading the first page of assessments…';
  return `Page ${n(current.pages)}: ${n(current.assessments)} assessments read, ${n(current.unhealthy)} unhealthy, ${n(current.attached)} new on tickets, ${n(current.healed)} healed`;
}

/** A finished pass, in one line. */
export function passSummary(last: PassFigures | null): string {
  if (!last) return 'No pass has finished yet.';
  const took = last.ms !== undefined ? ` in ${(last.ms / 1000).toFixed(1)} s` : '';
  return `${n(last.assessments)} assessments read${took}: ${n(last.unhealthy)} unhealthy, ${n(last.attached)} new on tickets, ${n(last.healed)} healed, ${n(last.capped)} held back by the daily cap`;
}

export interface Cascade {
  assessments: number;
  governanceAssignments: number;
  openTickets: number;
  items: number;
}

const plural = (k: number, one: string, many = `${one}s`) => `${k.toLocaleString('en-US')} ${k === 1 ? one : many}`;

/** What DELETE does (src/flows/defender/cleanup.ts), with this integration's numbers. */
export function cascadeSentences(c: Cascade): string[] {
  return [
    `Ticketloop stops reading Defender for this integration at once; its settings and secrets are removed.`,
    `${plural(c.governanceAssignments, 'governance assignment')} Ticketloop wrote in Defender for Cloud will be deleted (owner and due date leave the recommendations).`,
    `${plural(c.openTickets, 'open ticket')} will get a note that the integration was deleted and will no longer be tracked; they stay open in the ITSM.`,
    `${plural(c.items, 'ticket')} in all (open or closed) will be marked deleted here, and ${plural(c.assessments, 'tracked assessment')} dropped.`,
    'This cannot be undone.',
  ];
}
