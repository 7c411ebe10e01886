import { countdown, dateTime, duration as spoken } from '../../lib/format.ts';
import type { CatalogPermission, Catalog, PodRequest } from './types.ts';

/** A field the API refused (the error envelope's `details`); api/client.ts is not imported here, so Node tests need no browser. */
interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The permissions-on-demand pages' logic without React or a browser (test/console/pod-logic.test.ts):
 * durations, the request form's policy-driven choices and its body, the API's field errors by field,
 * who may do what on a request (the console hides; the API decides), the timeline, drift targets and
 * the report's address.
 */

const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Milliseconds of an ISO 8601 duration of days, hours, minutes and seconds (as the API takes them). */
export function parseIsoDuration(text: string): number | undefined {
  const m = ISO_DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0));
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  return ms > 0 ? ms : undefined;
}

/** `PT1H30M` as `1 h 30 min`; what it cannot read, as it is. */
export function spokenDuration(iso: string): string {
  const ms = parseIsoDuration(iso);
  return ms === undefined ? iso : spoken(ms);
}

/** The shortest ISO 8601 form of a whole number of minutes or more: 5_400_000 → `PT1H30M`. */
export function isoDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const part = (size: number) => {
    const n = Math.floor(s / size);
    s -= n * size;
    return n;
  };
  const [d, h, m] = [part(86_400), part(3600), part(60)];
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  const text = `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
  return text === 'P' ? 'PT0S' : text;
}

/** The steps a duration list offers, up to a policy's maximum. */
const STEPS = ['PT15M', 'PT30M', 'PT1H', 'PT2H', 'PT4H', 'PT8H', 'PT12H', 'P1D', 'P2D', 'P3D', 'P7D'];

export interface DurationChoice {
  value: string;
  label: string;
}

/** Durations up to `maxMs`, with the policy's default and maximum among them and named so. */
export function durationChoices(maxMs: number, defaultMs?: number): DurationChoice[] {
  const values = new Set(STEPS.map((s) => parseIsoDuration(s)!).filter((ms) => ms <= maxMs));
  values.add(maxMs);
  if (defaultMs !== undefined && defaultMs <= maxMs) values.add(defaultMs);
  return [...values]
    .sort((a, b) => a - b)
    .map((ms) => ({
      value: isoDuration(ms),
      label: `${spoken(ms)}${ms === defaultMs ? ' (default)' : ''}${ms === maxMs ? ' (the maximum)' : ''}`,
    }));
}

/** What an extension may still add: the policy's maximum less the grant's length so far (from now on). */
export function extendChoices(r: PodRequest, maxMs: number | undefined, now: number): DurationChoice[] {
  const grantedAt = Date.parse(r.grant?.grantedAt ?? '');
  const expiresAt = Date.parse(r.grant?.expiresAt ?? '');
  const room =
    maxMs === undefined || Number.isNaN(grantedAt)
      ? parseIsoDuration('P1D')!
      : maxMs - (Math.max(expiresAt, now) - grantedAt);
  const minute = 60_000;
  const rounded = Math.floor(room / minute) * minute;
  return rounded >= minute ? durationChoices(rounded) : [];
}

/** Permissions someone can ask for: those a policy covers (the API refuses the rest). */
export function requestable(catalog: Catalog): CatalogPermission[] {
  return catalog.permissions.filter((p) => p.policy !== null);
}

export interface RequestForm {
  system: string;
  permission: string;
  scope: string;
  identityType: 'user' | 'servicePrincipal';
  identityId: string;
  duration: string;
  justification: string;
  ticketNumber: string;
}

export const EMPTY_REQUEST: RequestForm = {
  system: '',
  permission: '',
  scope: '',
  identityType: 'user',
  identityId: '',
  duration: '',
  justification: '',
  ticketNumber: '',
};

/**
 * The form kept consistent with the catalog: a system that has requestable permissions, a permission
 * of that system, a scope among its allowed ones and a duration the policy allows (its default when
 * the one chosen is not offered any more, e.g. after picking another permission).
 */
export function settle(catalog: Catalog, f: RequestForm): RequestForm {
  const permissions = requestable(catalog);
  const systems = catalog.systems.filter((s) => permissions.some((p) => p.system === s.name)).map((s) => s.name);
  const system = systems.includes(f.system) ? f.system : (systems[0] ?? '');
  const ofSystem = permissions.filter((p) => p.system === system);
  const permission = ofSystem.find((p) => p.name === f.permission) ?? ofSystem[0];
  if (!permission) return { ...f, system, permission: '', scope: '', duration: '' };
  const scope = permission.scopes.includes(f.scope) ? f.scope : (permission.scopes[0] ?? '');
  const policy = permission.policy!;
  const choices = durationChoices(parseIsoDuration(policy.maxDuration)!, parseIsoDuration(policy.defaultDuration));
  const duration = choices.some((c) => c.value === f.duration)
    ? f.duration
    : isoDuration(parseIsoDuration(policy.defaultDuration)!);
  return { ...f, system, permission: permission.name, scope, duration };
}

/** One field changed: a new system or permission starts its scope and duration afresh (the policy's default). */
export function change<K extends keyof RequestForm>(
  catalog: Catalog,
  f: RequestForm,
  k: K,
  v: RequestForm[K],
): RequestForm {
  const next = { ...f, [k]: v };
  if (k === 'system') Object.assign(next, { permission: '', scope: '', duration: '' });
  if (k === 'permission') Object.assign(next, { scope: '', duration: '' });
  return settle(catalog, next);
}

/** The body of POST /api/pod/requests: empty optional fields left out, so the policy's rules answer. */
export function requestBody(f: RequestForm): Record<string, unknown> {
  const opt = (v: string) => (v.trim() === '' ? undefined : v.trim());
  return JSON.parse(
    JSON.stringify({
      system: f.system,
      permission: f.permission,
      scope: opt(f.scope),
      identity: { type: f.identityType, id: f.identityId.trim() },
      duration: opt(f.duration),
      justification: opt(f.justification),
      ticketNumber: opt(f.ticketNumber),
    }),
  ) as Record<string, unknown>;
}

const FORM_FIELDS = new Set([
  'system',
  'permission',
  'scope',
  'identity.id',
  'identity.type',
  'duration',
  'justification',
  'ticketNumber',
]);

/** The API's field errors (`body.identity.id`, `body.duration`) by form field; the rest apart. */
export function errorsByField(details: readonly FieldProblem[]): { fields: Record<string, string>; other: string[] } {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const d of details) {
    const path = d.path.replace(/^body\.?/, '');
    if (FORM_FIELDS.has(path)) fields[path] = fields[path] ? `${fields[path]}; ${d.message}` : d.message;
    else other.push(`${path || 'body'}: ${d.message}`);
  }
  return { fields, other };
}

export interface Viewer {
  actor: string;
  roles: readonly string[];
}

const REVOCABLE = new Set(['approved', 'granting', 'granted', 'revoke_failed']);

/** The requester, an approver of its policy, or an admin may revoke an active (or coming) grant. */
export function mayRevoke(r: PodRequest, me: Viewer): boolean {
  const who = r.requester === me.actor || r.policy.approvers.includes(me.actor) || me.roles.includes('admin');
  return who && REVOCABLE.has(r.status) && !r.ended;
}

export function mayCancel(r: PodRequest, me: Viewer): boolean {
  return r.status === 'submitted' && (r.requester === me.actor || me.roles.includes('admin'));
}

/** The requester (if the policy lets them) or an approver of its policy; the API says which. */
export function mayExtend(r: PodRequest, me: Viewer): boolean {
  return r.status === 'granted' && (r.requester === me.actor || r.policy.approvers.includes(me.actor));
}

/**
 * Approve / reject show to every approver while the request waits and they have not decided: the API
 * alone says no (not an approver of this policy, or their own request), and the page shows why.
 */
export function mayDecide(r: PodRequest, me: Viewer): boolean {
  return r.status === 'submitted' && me.roles.includes('approver') && !r.approvals.some((a) => a.actor === me.actor);
}

/** A grant's time left by the server's clock, while it lasts. */
export function timeLeft(r: PodRequest, now: number): { text: string; tone: 'overdue' | 'soon' | 'ok' | 'none' } {
  if (r.status === 'revoking') return { text: 'ending…', tone: 'none' };
  if (r.status !== 'granted' || !r.grant?.expiresAt) return { text: '—', tone: 'none' };
  const c = countdown(r.grant.expiresAt, now);
  return c.tone === 'overdue' ? { text: 'ending now', tone: 'overdue' } : c;
}

export interface TimelineEntry {
  at: string | null;
  what: string;
  who?: string;
  detail?: string;
}

/** What happened to a request, oldest first: submission, decisions, the grant and its end. */
export function timeline(r: PodRequest): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    { at: r.submittedAt, what: 'Requested', who: r.requester, detail: r.justification || undefined },
  ];
  if (r.policy.autoApproved)
    entries.push({ at: r.decidedAt, what: 'Approved without people', detail: r.policy.autoApproved });
  for (const a of r.approvals)
    entries.push({
      at: a.at,
      what: a.decision === 'approved' ? 'Approved' : 'Rejected',
      who: a.actor,
      detail: [a.comment, a.via !== 'ticketloop' ? `in ${a.via}` : ''].filter(Boolean).join(' · ') || undefined,
    });
  if (r.grant?.grantedAt)
    entries.push({
      at: r.grant.grantedAt,
      what: 'Granted',
      detail: `until ${dateTime(r.grant.expiresAt)}${r.grant.preexisting ? ' · the access existed before: ending this grant leaves it in place' : ''}`,
    });
  if (r.ended)
    entries.push({
      at: r.ended.at,
      what: r.ended.reason === 'expired' ? 'Expired' : r.ended.reason === 'canceled' ? 'Canceled' : 'Revoke requested',
      who: r.ended.by,
      detail: r.ended.reason !== 'expired' && r.ended.reason !== 'canceled' ? r.ended.reason : undefined,
    });
  if (r.grant?.revokedAt)
    entries.push({
      at: r.grant.revokedAt,
      what: 'Removed at the provider',
      detail: r.grant.providerState ?? undefined,
    });
  const time = (e: TimelineEntry) => (e.at ? Date.parse(e.at) : Infinity);
  return entries
    .map((e, n) => ({ e, n }))
    .sort((a, b) => time(a.e) - time(b.e) || a.n - b.n)
    .map((x) => x.e);
}

export const DRIFT_KINDS: Record<string, string> = {
  missing: 'Missing: granted by Ticketloop, gone from the provider',
  leftover: 'Leftover: revoked by Ticketloop, still assigned',
  outside: 'Outside: assigned directly, not through Ticketloop',
};

/** A drift row's target, `system|type|principal|permission|scope`, in parts. */
export function driftTarget(key: string): { principal: string; type: string; permission: string; scope: string } {
  const [, type = '', principal = '', permission = '', ...scope] = key.split('|');
  return { type, principal, permission, scope: scope.join('|') };
}

/** `YYYY-MM-DD` (a date input's value) as the start of that day in the viewer's time zone. */
function startOfDay(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() : undefined;
}

/** The report's address for whole days `from`…`to` (both included), or what is wrong with them. */
export function reportHref(from: string, to: string): { href: string } | { field: 'from' | 'to'; problem: string } {
  const start = startOfDay(from);
  const end = startOfDay(to);
  if (start === undefined) return { field: 'from', problem: 'pick a date' };
  if (end === undefined) return { field: 'to', problem: 'pick a date' };
  if (end < start) return { field: 'to', problem: 'must be on or after the first day' };
  const next = new Date(end);
  next.setDate(next.getDate() + 1);
  const q = new URLSearchParams({ from: new Date(start).toISOString(), to: next.toISOString() });
  return { href: `/api/pod/report.csv?${q.toString()}` };
}

/** A date input's value for a time, in the viewer's time zone. */
export function dateInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Whom a request is for, in words. */
export function identityText(i: PodRequest['identity']): string {
  return `${i.type === 'user' ? 'user' : 'workload'} ${i.id}`;
}
