/**
 * What the two incoming-webhook endpoints accept and answer, apart from HTTP: the checks the real
 * services make on a body, and their error bodies. Teams: Power Automate's "When a Teams webhook
 * request is received" trigger (Logic Apps error envelope); Slack: an incoming webhook (plain-text codes).
 */

export type ChatChannel = 'teams' | 'slack';

export interface ChatProblem {
  status: number;
  /** Teams: a Logic Apps error envelope; Slack: a plain-text code. */
  body: unknown;
}

const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

/** Logic Apps' envelope for a trigger whose input does not match the schema it expects. */
const teamsMismatch = (detail: string): ChatProblem => ({
  status: 400,
  body: {
    error: {
      code: 'TriggerInputSchemaMismatch',
      message: `The input body for trigger 'manual' of type 'Request' did not match its schema definition. Error details: '${detail}'.`,
    },
  },
});

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A Teams workflow body: `type: "message"` and at least one Adaptive Card attachment with a card in it. */
export function checkTeamsBody(body: unknown): ChatProblem | undefined {
  if (!isObject(body)) return teamsMismatch('Invalid type. Expected Object but got ' + jsonType(body) + '.');
  if (body.type !== 'message') return teamsMismatch("Required property 'type' must be 'message'.");
  const attachments = body.attachments;
  if (!Array.isArray(attachments) || attachments.length === 0)
    return teamsMismatch("Required property 'attachments' not found or empty.");
  for (const [i, a] of attachments.entries()) {
    if (!isObject(a) || a.contentType !== ADAPTIVE_CARD)
      return teamsMismatch(`attachments[${i}].contentType must be '${ADAPTIVE_CARD}'.`);
    const card = a.content;
    if (!isObject(card) || card.type !== 'AdaptiveCard')
      return teamsMismatch(`attachments[${i}].content must be an object with type 'AdaptiveCard'.`);
    if (card.body !== undefined && !Array.isArray(card.body))
      return teamsMismatch(`attachments[${i}].content.body must be an array.`);
  }
  return undefined;
}

function jsonType(v: unknown): string {
  if (v === null) return 'Null';
  if (Array.isArray(v)) return 'Array';
  return typeof v === 'string'
    ? 'String'
    : typeof v === 'number'
      ? 'Number'
      : typeof v === 'boolean'
        ? 'Boolean'
        : 'Null';
}

/**
 * A Slack body: a JSON object (or the legacy form field `payload`) with non-empty `text` or
 * `blocks` — `invalid_payload` when it is not one, `no_text` when it says nothing, `invalid_blocks`
 * when blocks are not Block Kit blocks (at most 50, each with a `type`).
 */
export function checkSlackBody(body: unknown): ChatProblem | undefined {
  const slack = (code: string, status = 400): ChatProblem => ({ status, body: code });
  if (!isObject(body)) return slack('invalid_payload');
  const hasText = typeof body.text === 'string' && body.text.length > 0;
  if (body.blocks !== undefined) {
    const blocks = body.blocks;
    if (!Array.isArray(blocks) || blocks.length > 50 || blocks.some((b) => !isObject(b) || typeof b.type !== 'string'))
      return slack('invalid_blocks');
    if (blocks.length > 0) return undefined;
  }
  if (body.text !== undefined && typeof body.text !== 'string') return slack('invalid_payload');
  return hasText ? undefined : slack('no_text');
}

/** A Slack form post carries its JSON in `payload` (the shared server parses forms into objects). */
export function slackBodyOf(body: unknown): unknown {
  if (isObject(body) && typeof body.payload === 'string' && Object.keys(body).length === 1) {
    try {
      return JSON.parse(body.payload);
    } catch {
      return undefined;
    }
  }
  return body;
}

/** Injected faults in each vendor's form: Logic Apps' envelope for Teams, a plain code for Slack. */
export function faultBodyFor(channel: ChatChannel | undefined, status: number): unknown {
  if (channel === 'slack')
    return status === 429 ? 'rate_limited' : status >= 500 ? 'internal_error' : 'invalid_payload';
  if (status === 429)
    return {
      error: {
        code: 'WorkflowRequestsThrottled',
        message: 'Number of requests for this workflow has exceeded the limit. Please try again later.',
      },
    };
  return {
    error: {
      code: status >= 500 ? 'ServiceUnavailable' : 'BadRequest',
      message: `The sandbox answered with an injected ${status}.`,
    },
  };
}

export function channelOfPath(path: string): ChatChannel | undefined {
  const m = /^\/_sandbox\/chat\/(teams|slack)\//.exec(path);
  return m ? (m[1] as ChatChannel) : undefined;
}
