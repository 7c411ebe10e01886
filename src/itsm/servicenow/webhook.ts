import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { resolveSecret } from '../../config/secrets.ts';
import { hmacHex } from '../../http/auth.ts';
import type { TicketChange } from '../port.ts';
import type { SnRecord } from './client.ts';
import type { WebhookAuthConfig } from './config.ts';
import { toRef, toTicket, type MapContext } from './map.ts';

/**
 * Receiver for the ServiceNow business-rule webhook (docs/servicenow-business-rule.js).
 * Body: `{table, operation: 'insert'|'update'|'delete', sys_id, record}`; signature header
 * `X-Sn-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (or Basic / Bearer auth).
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
}

/** Where an instance's business rule posts (see docs/servicenow-business-rule.js). */
export function webhookPath(instance: string): string {
  return `/webhooks/servicenow/${encodeURIComponent(instance)}`;
}

export const SIGNATURE_HEADER = 'x-sn-signature';
const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${hmacHex(secret, body)}`;
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

function verify(want: Expected, headers: Record<string, string | string[] | undefined>, raw: Buffer): boolean {
  const h = (n: string) => {
    const v = headers[n];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  // An empty secret or token would let anyone in: it never verifies.
  if ('hmacSecret' in want)
    return !!want.hmacSecret && same(h(SIGNATURE_HEADER).trim().toLowerCase(), signBody(want.hmacSecret, raw));
  return !!want.authorization && same(h('authorization'), want.authorization);
}

export function verifyWebhookAuth(
  auth: WebhookAuthConfig,
  headers: Record<string, string | string[] | undefined>,
  raw: Buffer,
): boolean {
  return verify(expected(auth), headers, raw);
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
  await app.register(async (scope) => {
    // Keep the raw bytes: the HMAC covers the body exactly as sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(path, { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!verify(want, req.headers, raw)) {
        return reply.code(401).send({
          error: { code: 'unauthorized', message: 'invalid webhook signature or credentials', requestId: req.id },
        });
      }
      const body = parseBody(raw);
      if (typeof body === 'string')
        return reply
          .code(400)
          .send({ error: { code: 'invalid_request', message: `bad webhook body: ${body}`, requestId: req.id } });
      if (opts.tables && !opts.tables().has(body.table)) return reply.code(202).send({ status: 'ignored' });
      await opts.onChange(webhookChange(body, ctx));
      return reply.code(202).send({ status: 'accepted' });
    });
  });
}
