import { cut, type NotificationMessage } from './message.ts';

/**
 * A message as the body a Slack incoming webhook takes: `text` (the notification and fallback text)
 * and Block Kit `blocks`; Slack answers 200 with the plain text `ok`, errors as 400/403/404/410 with
 * a plain-text code (`invalid_payload`, `no_text`, `no_service`, `channel_is_archived`).
 * https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
 * https://docs.slack.dev/reference/block-kit/blocks (header ≤ 150, section text ≤ 3000, fields ≤ 10 × 2000,
 * button text ≤ 75, url ≤ 3000)
 */

export interface SlackWebhookBody {
  text: string;
  blocks: Record<string, unknown>[];
}

/** The three characters mrkdwn reserves (https://docs.slack.dev/messaging/formatting-message-text#escaping). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escaped text within `max` characters: the raw text is cut until its escaped form fits. */
function fitEscaped(raw: string, max: number): string {
  let s = raw;
  for (let e = escapeMrkdwn(s); ; e = escapeMrkdwn(s)) {
    const over = e.length - max;
    if (over <= 0) return e;
    s = cut(s, Math.max(1, [...s].length - over));
  }
}

const plain = (text: string) => ({ type: 'plain_text', text, emoji: false });

export function renderSlack(m: NotificationMessage): SlackWebhookBody {
  const blocks: Record<string, unknown>[] = [{ type: 'header', text: plain(cut(m.title, 150)) }];
  // plain_text: what people wrote is shown as written, never as mrkdwn or a link.
  if (m.summary) blocks.push({ type: 'section', text: plain(cut(m.summary, 3000)) });
  for (let i = 0; i < m.facts.length; i += 10) {
    blocks.push({
      type: 'section',
      fields: m.facts.slice(i, i + 10).map((f) => ({
        type: 'mrkdwn',
        text: `*${fitEscaped(f.name, 200)}*\n${fitEscaped(f.value, 1700)}`,
      })),
    });
  }
  if (m.links.length)
    blocks.push({
      type: 'actions',
      elements: m.links.map((l, i) => ({ type: 'button', action_id: `link-${i}`, text: plain(l.title), url: l.url })),
    });
  const text = fitEscaped(m.summary ? `${m.title}: ${m.summary}` : m.title, 3000);
  return { text, blocks };
}
