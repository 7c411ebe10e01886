import { PermanentError } from '../engine/errors.ts';

/**
 * A notification as flows write it, before any channel renders it: what happened (`event`), a
 * title, a summary, name/value facts, links (buttons in chat, links in e-mail) and who it is for.
 * Every field is bounded, so a long justification or a thousand-member group cannot make a message
 * a channel refuses (Slack's header block takes 150 characters, a Teams card about 28 KB).
 */

export interface MessageFact {
  name: string;
  value: string;
}

export interface MessageLink {
  title: string;
  /** http(s) only: anything else (javascript:, mailto:) is refused. */
  url: string;
}

export interface NotificationMessage {
  /** What happened, e.g. `pod.submitted`; part of the e-mail's headers, never shown as text alone. */
  event: string;
  title: string;
  summary: string;
  facts: MessageFact[];
  links: MessageLink[];
  recipients: { emails: string[] };
}

export const LIMITS = {
  event: 64,
  title: 200,
  summary: 2_000,
  facts: 20,
  factName: 100,
  factValue: 1_000,
  links: 5,
  linkTitle: 75,
  linkUrl: 2_000,
  emails: 50,
  email: 254,
  /** Summary and facts together: keeps a Teams card well under its ~28 KB once escaped and wrapped. */
  text: 12_000,
} as const;

const ELLIPSIS = '…';

/** At most `max` characters (code points), the last one an ellipsis when something was cut. */
export function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + ELLIPSIS;
}

/** One line: control characters and line breaks become spaces (titles end up in mail headers). */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}

/** Line breaks kept, other control characters dropped. */
function multiLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

const EMAIL = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;

export function isEmailAddress(value: string): boolean {
  return value.length <= LIMITS.email && EMAIL.test(value);
}

function safeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PermanentError('notification link is not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new PermanentError(`notification link must be http(s), not ${u.protocol}`);
  const s = u.toString();
  if (s.length > LIMITS.linkUrl) throw new PermanentError(`notification link is longer than ${LIMITS.linkUrl}`);
  return s;
}

export type MessageInput = Omit<NotificationMessage, 'facts' | 'links' | 'recipients'> & {
  facts?: MessageFact[];
  links?: MessageLink[];
  recipients?: { emails?: string[] };
};

/**
 * The message with every field within its bound: text cut with an ellipsis, facts and links beyond
 * the count dropped (the last fact says how many were left out). A link that is not http(s) or an
 * address that is not one is a PermanentError: the flow wrote it, retrying cannot mend it.
 */
export function boundMessage(m: MessageInput): NotificationMessage {
  const summary = cut(multiLine(m.summary).trim(), LIMITS.summary);
  const facts = (m.facts ?? []).map((f) => ({
    name: cut(oneLine(f.name), LIMITS.factName),
    value: cut(multiLine(f.value).trim(), LIMITS.factValue),
  }));
  if (facts.length > LIMITS.facts) {
    const left = facts.length - (LIMITS.facts - 1);
    facts.splice(LIMITS.facts - 1, facts.length, { name: ELLIPSIS, value: `${left} more not shown` });
  }
  // Over the overall budget: the longest values give way first, each keeping at least 100 characters.
  const size = () => facts.reduce((n, f) => n + f.name.length + f.value.length, summary.length);
  for (let over = size() - LIMITS.text; over > 0; over = size() - LIMITS.text) {
    const longest = facts.reduce((a, f) => (f.value.length > a.value.length ? f : a), facts[0]);
    if (!longest || longest.value.length <= 100) break;
    longest.value = cut(longest.value, Math.max(100, [...longest.value].length - over));
  }
  const emails = [...new Set((m.recipients?.emails ?? []).map((e) => e.trim()))];
  for (const e of emails) if (!isEmailAddress(e)) throw new PermanentError('a recipient is not an e-mail address');
  if (emails.length > LIMITS.emails) throw new PermanentError(`more than ${LIMITS.emails} recipients in one message`);
  return {
    event: cut(oneLine(m.event), LIMITS.event),
    title: cut(oneLine(m.title), LIMITS.title),
    summary,
    facts,
    links: (m.links ?? [])
      .slice(0, LIMITS.links)
      .map((l) => ({ title: cut(oneLine(l.title), LIMITS.linkTitle), url: safeUrl(l.url) })),
    recipients: { emails },
  };
}
