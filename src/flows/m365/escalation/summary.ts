import { boundText } from '../../../itsm/port.ts';
import type { StoredIssue } from '../health/store.ts';
import type { EscalationContact } from './config.ts';

/**
 * The guided hand-off's case summary: plain text an administrator pastes into the Microsoft 365 admin
 * center's support form (Microsoft 365 services have no public case API), bounded so it fits there
 * and in a work note.
 */

export const ADMIN_CENTER_SUPPORT_URL = 'https://admin.microsoft.com/#/support';
export const TEST_ENVIRONMENT_MARK = 'TEST ENVIRONMENT – do not act';
export const SUMMARY_MAX = 4000;

export interface SummaryInput {
  incident: { key: string; link: string; title: string };
  title: string;
  service: string;
  severity: string;
  symptoms: string;
  affectedUsers?: string;
  issues: StoredIssue[];
  contact?: EscalationContact;
  testEnvironment: boolean;
  /** ISO times. */
  incidentUpdatedAt?: string;
  preparedAt: string;
}

const line = (label: string, value: string | null | undefined) => (value ? [`${label}: ${value}`] : []);

export function guidedSummary(i: SummaryInput): string {
  const timeline = [
    ...i.issues.map((s) => ({ at: s.issue.startDateTime, what: `${s.issue.id} began (${s.issue.service})` })),
    ...i.issues.flatMap((s) =>
      s.issue.posts.length
        ? [{ at: s.issue.posts[s.issue.posts.length - 1].createdDateTime, what: `${s.issue.id} last update` }]
        : [],
    ),
    ...(i.incidentUpdatedAt ? [{ at: i.incidentUpdatedAt, what: `${i.incident.key} last updated` }] : []),
    { at: i.preparedAt, what: 'escalation prepared in Ticketloop' },
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const text = [
    ...(i.testEnvironment ? [`${TEST_ENVIRONMENT_MARK}.`, ''] : []),
    `Title: ${i.title}`,
    `Service: ${i.service}`,
    `Severity: ${i.severity}`,
    `Our incident: ${i.incident.key} — ${i.incident.title} (${i.incident.link})`,
    '',
    'Symptoms:',
    i.symptoms || '(none given)',
    '',
    ...line('Affected users', i.affectedUsers),
    '',
    'Matched Microsoft 365 service health issues:',
    ...(i.issues.length
      ? i.issues.map((s) =>
          [
            `- ${s.issue.id}: ${s.issue.title} — ${s.issue.status}${s.issue.isResolved ? ' (resolved)' : ''}`,
            ...line('  User impact', s.summary.userImpact),
            ...line('  Current status', s.summary.currentStatus),
          ].join('\n'),
        )
      : ['- none matched']),
    '',
    'Timeline (UTC):',
    ...timeline.map((t) => `- ${t.at.replace('T', ' ').slice(0, 16)} ${t.what}`),
    '',
    ...(i.contact
      ? [
          `Contact: ${i.contact.firstName} ${i.contact.lastName} <${i.contact.primaryEmailAddress}>, by ${i.contact.preferredContactMethod}` +
            `${i.contact.phoneNumber ? ` (${i.contact.phoneNumber})` : ''}, ${i.contact.preferredTimeZone}, ${i.contact.preferredSupportLanguage}`,
          '',
        ]
      : []),
    `Open a service request at ${ADMIN_CENTER_SUPPORT_URL} (Microsoft 365 has no public API for cases), paste this summary,`,
    'then record the case number in Ticketloop; Ticketloop tracks it from there, with status set by hand.',
  ].join('\n');
  return boundText(text.replace(/\n{3,}/g, '\n\n'), SUMMARY_MAX);
}
