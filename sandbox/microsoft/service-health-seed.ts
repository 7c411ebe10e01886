import type { OffsetClock } from '../shared/clock.ts';
import type { DocStore } from '../shared/persist.ts';
import type { Entra } from './entra.ts';
import records from './fixtures/m365-health-issues.json' with { type: 'json' };

/**
 * The Graph service-communications twin's first data, from the real records in
 * fixtures/m365-health-issues.json (see fixtures/SOURCE.md). The records are as their sources wrote
 * them ("Service restored", "4/10/2024 9:03:00 AM", nulls); this turns each into a
 * serviceHealthIssue, with times moved next to the sandbox clock:
 *   - unresolved records (a status like "Service Degradation (ONGOING …)") become active now: the k-th
 *     starts k × 45 min + 30 min before the seed time, with no end;
 *   - resolved ones keep their real spacing and durations, all moved by one offset so that the newest
 *     ends a day before the seed time (durations unknown in the record count as 3 h).
 * The records carry no posts: each gets posts in Microsoft's layout around its verbatim title and impact.
 */

/** The twin's collections in the Microsoft sandbox's DocStore. */
export const C = { issues: 'm365Issues', messages: 'm365Messages', meta: 'm365Meta' } as const;

export interface ServiceHealthDeps {
  store: DocStore;
  entra: Entra;
  clock: OffsetClock;
}

export interface SeedRecord {
  id: string | null;
  title: string | null;
  service: string | null;
  feature?: string;
  featureGroup?: string;
  classification: string | null;
  status: string | null;
  impactDescription: string | null;
  startDateTime: string | null;
  endDateTime?: string | null;
  statusText?: string;
}

export interface IssuePost {
  createdDateTime: string;
  postType: string;
  description: { contentType: 'html' | 'text'; content: string };
}

/** What issues and messages share: the CSDL's serviceAnnouncementBase. */
export interface AnnouncementBase {
  id: string;
  title: string;
  startDateTime: string;
  endDateTime: string | null;
  lastModifiedDateTime: string;
  details: { name: string; value: string | null }[];
}

export interface IssueDoc extends AnnouncementBase {
  classification: string;
  feature: string | null;
  featureGroup: string | null;
  impactDescription: string;
  isResolved: boolean;
  origin: string;
  posts: IssuePost[];
  service: string;
  status: string;
}

export const ISSUE_STATUSES = [
  'serviceOperational',
  'investigating',
  'restoringService',
  'verifyingService',
  'serviceRestored',
  'postIncidentReviewPublished',
  'serviceDegradation',
  'serviceInterruption',
  'extendedRecovery',
  'falsePositive',
  'investigationSuspended',
  'resolved',
  'mitigatedExternal',
  'mitigated',
  'resolvedExternal',
  'confirmed',
  'reported',
  'unknownFutureValue',
] as const;

/** Statuses after which Microsoft marks an issue resolved. */
export const RESOLVED_STATUSES = new Set([
  'serviceRestored',
  'postIncidentReviewPublished',
  'falsePositive',
  'investigationSuspended',
  'resolved',
  'resolvedExternal',
  'mitigated',
  'mitigatedExternal',
]);

const HOUR = 3_600_000;
const letters = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');

/** "Service restored (final update)", "RESOLVED (NHS mirror; …)" → the CSDL member; null when unknown. */
export function seedStatus(raw: string | null): string | null {
  if (!raw) return null;
  const head = letters(raw.replace(/\(.*$/, ''));
  // Mirrors write "RESOLVED" / "RESTORED" where Microsoft wrote serviceRestored.
  if (head === 'restored' || head === 'resolved') return 'serviceRestored';
  const member = ISSUE_STATUSES.find((s) => s.toLowerCase() === head);
  if (member) return member;
  if (head.startsWith('investigating')) return 'investigating';
  return null;
}

/** The record's dates as epoch ms: ISO (a bare month or year counts as its first day) or US "M/D/YYYY h:mm AM" in UTC. */
export function seedTime(raw: string | null | undefined): number | undefined {
  if (!raw) return undefined;
  const text = raw.replace(/\(.*$/, '').trim();
  const iso = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:[T ](\d{2}:\d{2}(?::\d{2})?))?/.exec(text);
  if (iso) {
    const [, y, m = '01', d = '01', t = '00:00:00'] = iso;
    const ms = Date.parse(`${y}-${m}-${d}T${t.length === 5 ? `${t}:00` : t}Z`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  const ms = Date.parse(`${text} UTC`);
  return Number.isNaN(ms) ? undefined : ms;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** "Wednesday, March 1, 2023, at 5:00 PM UTC": how Microsoft writes times in posts. */
export function postTime(ms: number): string {
  const d = new Date(ms);
  const date = d.toLocaleDateString('en-US', {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const time = d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
  return `${date}, at ${time} UTC`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const paragraphs = (fields: [string, string][]) =>
  fields.map(([label, text]) => `<p>${label}: ${escapeHtml(text)}</p>`).join('');

const SCOPE =
  'Any user routed through the affected infrastructure may be impacted. We are reviewing telemetry to determine the full scope.';

/** The posts an issue would have had: the first update, and the final one when it is resolved. */
function seedPosts(r: { title: string; impact: string; start: number; end: number | null; status: string }) {
  const first = r.start + 15 * 60_000;
  const posts: IssuePost[] = [
    {
      createdDateTime: iso(first),
      postType: 'regular',
      description: {
        contentType: 'html',
        content: paragraphs([
          ['Title', r.title],
          ['User impact', r.impact],
          [
            'Current status',
            "We're reviewing service telemetry and recent changes to isolate the cause of the impact.",
          ],
          ['Scope of impact', SCOPE],
          ['Start time', postTime(r.start)],
          ['Next update by', postTime(first + 2 * HOUR)],
        ]),
      },
    },
  ];
  if (r.end !== null) {
    posts.push({
      createdDateTime: iso(r.end + 20 * 60_000),
      postType: 'regular',
      description: {
        contentType: 'html',
        content:
          paragraphs([
            ['Title', r.title],
            ['User impact', r.impact],
            ['Final status', "We've confirmed that the impact is remediated after monitoring the service."],
            ['Scope of impact', SCOPE],
            ['Start time', postTime(r.start)],
            ['End time', postTime(r.end)],
          ]) +
          (r.status === 'postIncidentReviewPublished'
            ? '<p>A post-incident report has been published.</p>'
            : '<p>This is the final update for the event.</p>'),
      },
    });
  }
  return posts;
}

/** The issues to seed, given the sandbox's time at first start. */
export function seedIssues(seedNow: number): IssueDoc[] {
  const usable = (records as SeedRecord[]).filter((r) => r.id && (r.title || r.impactDescription || r.statusText));
  const parsed = usable.map((r) => {
    const status = seedStatus(r.status);
    const start = seedTime(r.startDateTime);
    const end = seedTime(r.endDateTime);
    // No status in the record: count it resolved (these are years-old news mentions).
    const resolved = status ? RESOLVED_STATUSES.has(status) : true;
    return { r, status: status ?? (resolved ? 'serviceRestored' : 'serviceDegradation'), start, end, resolved };
  });
  const latestEnd = Math.max(...parsed.filter((p) => p.resolved).map((p) => p.end ?? (p.start ?? 0) + 3 * HOUR));
  const offset = seedNow - 24 * HOUR - latestEnd;
  let active = 0;
  let undated = 0;
  return parsed.map(({ r, status, start, end, resolved }) => {
    const title = (r.title ?? r.impactDescription ?? r.statusText ?? '').replace(/\s*\(@MSFT365Status[^)]*\)\s*$/, '');
    const impact = r.impactDescription ?? title;
    let s: number;
    let e: number | null;
    if (!resolved) {
      s = seedNow - (active++ * 45 + 30) * 60_000;
      e = null;
    } else {
      // Undated records go a year back, an hour apart, keeping the file's order.
      const realStart = start ?? seedNow - offset - 365 * 24 * HOUR - undated++ * HOUR;
      const realEnd = end !== undefined && end >= realStart ? end : realStart + 3 * HOUR;
      s = realStart + offset;
      e = realEnd + offset;
    }
    const posts = seedPosts({ title, impact, start: s, end: e, status });
    return {
      id: r.id!,
      title,
      startDateTime: iso(s),
      endDateTime: e === null ? null : iso(e),
      lastModifiedDateTime: posts[posts.length - 1].createdDateTime,
      details: [],
      classification: /advisory/i.test(r.classification ?? '') ? 'advisory' : 'incident',
      feature: r.feature ?? null,
      featureGroup: r.featureGroup ?? null,
      impactDescription: impact,
      isResolved: resolved,
      origin: 'microsoft',
      posts,
      service: r.service ?? 'Microsoft 365 suite',
      status,
    };
  });
}

export interface MessageDoc extends AnnouncementBase {
  actionRequiredByDateTime: string | null;
  body: { contentType: 'html' | 'text'; content: string };
  category: string;
  hasAttachments: boolean;
  isMajorChange: boolean;
  services: string[];
  severity: string;
  tags: string[];
  viewPoint: null;
}

/**
 * A few message-center posts (composed for the sandbox: the records hold none). `viewPoint` is null
 * because it is per user and these calls are app-only.
 */
export function seedMessages(seedNow: number): MessageDoc[] {
  const day = 24 * HOUR;
  const message = (
    id: string,
    ageDays: number,
    title: string,
    services: string[],
    category: string,
    severity: string,
    text: string,
    o: { major?: boolean; actionInDays?: number; tags?: string[] } = {},
  ): MessageDoc => ({
    id,
    title,
    startDateTime: iso(seedNow - ageDays * day),
    endDateTime: iso(seedNow + 60 * day),
    lastModifiedDateTime: iso(seedNow - ageDays * day),
    details: [],
    actionRequiredByDateTime: o.actionInDays === undefined ? null : iso(seedNow + o.actionInDays * day),
    body: { contentType: 'html', content: `<p>${escapeHtml(text)}</p>` },
    category,
    hasAttachments: false,
    isMajorChange: o.major ?? false,
    services,
    severity,
    tags: o.tags ?? [],
    viewPoint: null,
  });
  return [
    message(
      'MC900001',
      3,
      '(Updated) Sandbox: a retired sign-in option for Exchange Online PowerShell',
      ['Exchange Online'],
      'planForChange',
      'normal',
      'A composed sandbox message: plan for the change before the date given.',
      { major: true, actionInDays: 30, tags: ['Admin impact', 'Retirement'] },
    ),
    message(
      'MC900002',
      1,
      'Sandbox: new meeting options in Microsoft Teams',
      ['Microsoft Teams'],
      'stayInformed',
      'normal',
      'A composed sandbox message about a feature rollout.',
      { tags: ['New feature', 'User impact'] },
    ),
    message(
      'MC900003',
      0,
      'Sandbox: action required to keep SharePoint Online sharing links working',
      ['SharePoint Online', 'OneDrive for Business'],
      'preventOrFixIssue',
      'high',
      'A composed sandbox message that asks administrators to act.',
      { actionInDays: 14, tags: ['Action required'] },
    ),
  ];
}
