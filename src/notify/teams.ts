import type { NotificationMessage } from './message.ts';

/**
 * A message as the body a Teams "Workflows" incoming webhook takes (Power Automate's trigger "When a
 * Teams webhook request is received", then "Post card in a chat or channel"): one activity of type
 * `message` carrying one Adaptive Card 1.4 attachment. The trigger answers 202 Accepted.
 * https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
 * https://adaptivecards.io/explorer/ (TextBlock, FactSet, Action.OpenUrl)
 */

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

export interface TeamsWorkflowBody {
  type: 'message';
  attachments: [{ contentType: typeof ADAPTIVE_CARD; contentUrl: null; content: AdaptiveCard }];
}

export interface AdaptiveCard {
  $schema: typeof ADAPTIVE_CARD_SCHEMA;
  type: 'AdaptiveCard';
  version: '1.4';
  body: Record<string, unknown>[];
  actions: { type: 'Action.OpenUrl'; title: string; url: string }[];
  msteams: { width: 'Full' };
}

/**
 * TextBlocks render a Markdown subset (emphasis, lists, `[text](url)` links): a requester's
 * justification must not become a disguised link or bold text in the approvers' channel, so the
 * characters that open a link or emphasis are backslash-escaped (CommonMark); the rest stays as written.
 */
export function escapeCardMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]]/g, (c) => `\\${c}`);
}

export function renderTeams(m: NotificationMessage): TeamsWorkflowBody {
  const body: Record<string, unknown>[] = [
    { type: 'TextBlock', text: escapeCardMarkdown(m.title), size: 'Medium', weight: 'Bolder', wrap: true },
  ];
  if (m.summary) body.push({ type: 'TextBlock', text: escapeCardMarkdown(m.summary), wrap: true });
  if (m.facts.length)
    body.push({
      type: 'FactSet',
      facts: m.facts.map((f) => ({ title: escapeCardMarkdown(f.name), value: escapeCardMarkdown(f.value) })),
    });
  return {
    type: 'message',
    attachments: [
      {
        contentType: ADAPTIVE_CARD,
        contentUrl: null,
        content: {
          $schema: ADAPTIVE_CARD_SCHEMA,
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          actions: m.links.map((l) => ({ type: 'Action.OpenUrl', title: l.title, url: l.url })),
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}
