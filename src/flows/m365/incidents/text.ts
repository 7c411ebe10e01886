import type { HealthIssue, HealthPost } from '../../../connectors/microsoft/service-health.ts';
import { boundText } from '../../../itsm/port.ts';
import { htmlToText, type HealthSummary } from '../health/extract.ts';

/**
 * What Ticketloop writes on a health issue's incident, as plain text: the title, the description (what
 * the posts say at a glance, then the newest post), one work note per post, the resolution note.
 * Bounded here so a long post reads well; the adapter bounds every field again by the system's sizes.
 */

const TITLE_MAX = 160;
const POST_MAX = 3_500;
const DESCRIPTION_MAX = 8_000;

const when = (iso: string | null | undefined) => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? (iso ?? '') : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};

/** "serviceDegradation" → "Service degradation". */
export const statusWords = (status: string) => {
  const words = status.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** `[Microsoft 365] EX123456 — <title>`, at most 160 characters. */
export function incidentTitle(issue: HealthIssue): string {
  return boundText(`[Microsoft 365] ${issue.id} — ${issue.title.replace(/\s+/g, ' ').trim()}`, TITLE_MAX);
}

/** A post's text: HTML read as text, blank lines squeezed, bounded. */
export function postText(post: HealthPost): string {
  const text = post.contentType === 'html' ? htmlToText(post.content) : post.content;
  const tidy = text
    .split('\n')
    .map((l) => l.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return boundText(tidy || '(the post has no text)', POST_MAX);
}

export function incidentDescription(issue: HealthIssue, summary: HealthSummary): string {
  const service = issue.feature ? `${issue.service} — ${issue.feature}` : issue.service;
  const lines = [
    `Microsoft 365 service health ${issue.classification} ${issue.id}: ${issue.title}`,
    `Service: ${service}`,
    `Status: ${statusWords(issue.status)}${issue.isResolved ? ' (resolved)' : ''}`,
    `Started: ${when(issue.startDateTime)}`,
    ...(summary.currentStatus ? [`Current status: ${summary.currentStatus}`] : []),
    `User impact: ${summary.userImpact ?? issue.impactDescription}`,
    ...(summary.scopeOfImpact ? [`Scope of impact: ${summary.scopeOfImpact}`] : []),
    ...(summary.nextUpdateBy ? [`Next update by: ${summary.nextUpdateBy.text}`] : []),
  ];
  const latest = issue.posts[issue.posts.length - 1];
  if (latest) lines.push('', `Latest update (${when(latest.createdDateTime)}):`, postText(latest));
  lines.push(
    '',
    'Opened by Ticketloop from the Microsoft 365 admin center (Health > Service health). Each new update is added as a work note.',
  );
  return boundText(lines.join('\n'), DESCRIPTION_MAX);
}

export function postNote(issue: HealthIssue, post: HealthPost): string {
  return `Microsoft 365 service health ${issue.id} — update of ${when(post.createdDateTime)} (status now: ${statusWords(issue.status)}):\n\n${postText(post)}`;
}

const resolvedAt = (issue: HealthIssue) => when(issue.endDateTime ?? issue.lastModifiedDateTime);

/** The resolution notes Ticketloop writes when it resolves the incident. */
export function resolutionNote(issue: HealthIssue, summary: HealthSummary): string {
  return [
    `The Microsoft service health issue ${issue.id} was resolved by Microsoft at ${resolvedAt(issue)} (status: ${statusWords(issue.status)}).`,
    ...(summary.currentStatus ? [`Final status: ${summary.currentStatus}`] : []),
    ...(summary.rootCause ? [`Root cause: ${summary.rootCause}`] : []),
    'Resolved by Ticketloop.',
  ].join('\n');
}

/** The work note when Microsoft resolved the issue but Ticketloop leaves the incident's state alone. */
export function resolvedButLeftNote(issue: HealthIssue, why: string): string {
  return `Microsoft resolved the service health issue ${issue.id} at ${resolvedAt(issue)} (status: ${statusWords(issue.status)}). Ticketloop did not change this incident's state: ${why}.`;
}
