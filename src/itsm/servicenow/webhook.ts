import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { resolveSecret } from '../../config/secrets.ts';
import { ReplayGuard, signTimestamped, timestampProblem } from '../../http/auth.ts';
import type { TicketChange } from '../port.ts';
import type { SnRecord } from './client.ts';
import type { WebhookAuthConfig } from './config.ts';
import { toRef, toTicket, type MapContext } from './map.ts';

/**
 * Receiver for the ServiceNow business-rule webhook (docs/servicenow-business-rule.js).
 * Body: `{table, operation: 'insert'|'update'|'delete', sys_id, record}`; with hmac auth
 * `X-Sn-Timestamp: <unix seconds>` and `X-Sn-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw
 * body>">` (the scheme of http/auth.ts: a timestamp more than 5 minutes from Ticketloop's clock is
 * refused, and a signature already accepted within that window is answered `duplicate` and not
 * handled again); or Basic / Bearer auth, which has no replay protection.
 * Auth is checked in constant time on the raw bytes before anything is parsed; a failure is a 401
 * and changes nothing. 202 is sent only after `onChange` resolved (it stores the change durably).
 */

export interface ServiceNowWebhookOptions {
  path?: string;
  /** As configured (`servicenow[].webhook`); secret references are resolved once, here. */
  auth: WebhookAuthConfig;
  onChange(c: TicketChange): Promise<void>;
  /** For the ticket links and `system` of the produced changes. */
  instanceUrl?: string;
  system?: string;
  /** Only the tables watched right now are accepted (default: any). */
  tables?: () => ReadonlySet<string>;
  /** Ticketloop's clock, for the timestamp window (default Date.now). */
  now?: () => number;
}

/** Where an instance's business rule posts (see docs/servicenow-business-rule.js). */
export function webhookPath(instance: string): string {
  return `/webhooks/servicenow/${encodeURIComponent(instance)}`;
}

export const SIGNATURE_HEADER = 'x-sn-signature';
export const TIMESTAMP_HEADER = 'x-sn-timestamp';
const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** The headers a sender puts on `body` at `nowMs` (what the business rule and the sandbox compute). */
export function signWebhook(secret: string, body: string | Buffer, nowMs = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signTimestamped(secret, timestamp, body) };
}

/** Equal-length digests compared with timingSafeEqual, so neither length nor content leaks. */
function same(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/** What a valid request carries: the HMAC key, or the exact Authorization header. */
type Expected = { hmacSecret: string } | { authorization: string };

function expected(auth: WebhookAuthConfig): Expected {
  switch (auth.type) {
    case 'hmac':
      return { hmacSecret: resolveSecret(auth.secret).reveal() };
    case 'basic': {
      const password = resolveSecret(auth.password).reveal();
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}` };
    }
    case 'bearer': {
      const token = resolveSecret(auth.token).reveal();
      return { authorization: token ? `Bearer ${token}` : '' };
    }
  }
}

type Headers = Record<string, string | string[] | undefined>;
const header = (headers: Headers, n: string) => {
  const v = headers[n];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

function verify(want: Expected, headers: Headers, raw: Buffer, now: number): boolean {
  // An empty secret or token would let anyone in: it never verifies.
  if ('hmacSecret' in want) {
    const timestamp = header(headers, TIMESTAMP_HEADER);
    if (!want.hmacSecret || timestampProblem(TIMESTAMP_HEADER, timestamp, now)) return false;
    const given = header(headers, SIGNATURE_HEADER).trim().toLowerCase();
    return same(given, signTimestamped(want.hmacSecret, timestamp, raw));
  }
  return !!want.authorization && same(header(headers, 'authorization'), want.authorization);
}

export function verifyWebhookAuth(auth: WebhookAuthConfig, headers: Headers, raw: Buffer, now = Date.now()): boolean {
  return verify(expected(auth), headers, raw, now);
}

interface WebhookBody {
  table: string;
  operation: 'insert' | 'update' | 'delete';
  sys_id: string;
  record?: SnRecord;
}

function parseBody(raw: Buffer): WebhookBody | string {
  let b: unknown;
  try {
    b = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  const o = b as Partial<WebhookBody>;
  if (!o || typeof o !== 'object') return 'body is not an object';
  if (typeof o.table !== 'string' || !/^[a-z][a-z0-9_]*$/i.test(o.table)) return 'missing or invalid table';
  if (typeof o.sys_id !== 'string' || !/^[0-9a-f]{32}$/i.test(o.sys_id)) return 'missing or invalid sys_id';
  if (o.operation !== 'insert' && o.operation !== 'update' && o.operation !== 'delete')
    return 'operation must be insert, update or delete';
  if (o.operation !== 'delete' && (!o.record || typeof o.record !== 'object')) return 'record missing';
  return o as WebhookBody;
}

export function webhookChange(body: WebhookBody, ctx: MapContext): TicketChange {
  const record: SnRecord = { ...(body.record ?? {}), sys_id: body.sys_id };
  if (body.operation === 'delete') return { ref: toRef(ctx, body.table, record), source: 'webhook', deleted: true };
  const ticket = toTicket(ctx, body.table, record);
  return { ticket, ref: toRef(ctx, body.table, record), source: 'webhook' };
}

export async function registerServiceNowWebhook(
  app: FastifyInstance<any, any, any, any, any>,
  opts: ServiceNowWebhookOptions,
): Promise<void> {
  const path = opts.path ?? '/webhooks/servicenow';
  const ctx: MapContext = { system: opts.system ?? 'servicenow', instanceUrl: opts.instanceUrl ?? '' };
  const want = expected(opts.auth);
  const now = opts.now ?? Date.now;
  const replays = new ReplayGuard();
  const refused =
    'hmacSecret' in want
      ? `invalid webhook signature, or ${TIMESTAMP_HEADER} missing or more than 5 minutes from Ticketloop's clock`
      : 'invalid webhook credentials';
  await app.register(async (scope) => {
    // Keep the raw bytes: the HMAC covers the body exactly as sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(path, { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!verify(want, req.headers, raw, now())) {
        return reply.code(401).send({ error: { code: 'unauthorized', message: refused, requestId: req.id } });
      }
      // The signature covers timestamp and body: the same one again is the same request again.
      const signature = 'hmacSecret' in want ? header(req.headers, SIGNATURE_HEADER).trim().toLowerCase() : undefined;
      if (signature && replays.seen(signature, now())) return reply.code(202).send({ status: 'duplicate' });
      const body = parseBody(raw);
      if (typeof body === 'string')
        return reply
          .code(400)
          .send({ error: { code: 'invalid_request', message: `bad webhook body: ${body}`, requestId: req.id } });
      if (opts.tables && !opts.tables().has(body.table)) return reply.code(202).send({ status: 'ignored' });
      await opts.onChange(webhookChange(body, ctx));
      if (signature) replays.remember(signature, Number(header(req.headers, TIMESTAMP_HEADER)), now());
      return reply.code(202).send({ status: 'accepted' });
    });
  });
}
