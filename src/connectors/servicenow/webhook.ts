import { createHmac, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TicketChange } from '../../itsm/port.ts';
import { toRef, toTicket, type MapContext } from '../../itsm/servicenow-map.ts';
import type { SnRecord } from './client.ts';

/**
 * Receiver for the ServiceNow business-rule webhook (docs/servicenow-business-rule.js).
 * Body: `{table, operation: 'insert'|'update'|'delete', sys_id, record}`; signature header
 * `X-Sn-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (or Basic / Bearer auth).
 * Auth is checked in constant time on the raw bytes before anything is parsed; a failure is a 401
 * and changes nothing. 202 is sent only after `onChange` resolved (it stores the change durably).
 */

export type WebhookAuth =
  | { type: 'hmac'; secret: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string };

export interface ServiceNowWebhookOptions {
  path?: string;
  auth: WebhookAuth;
  onChange(c: TicketChange): Promise<void>;
  /** For the ticket links and `system` of the produced changes. */
  instanceUrl?: string;
  system?: string;
  /** Only these tables are accepted (default: any). */
  tables?: string[];
}

export const SIGNATURE_HEADER = 'x-sn-signature';

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Equal-length digests compared with timingSafeEqual, so neither length nor content leaks. */
function same(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

export function verifyWebhookAuth(auth: WebhookAuth, headers: Record<string, string | string[] | undefined>, raw: Buffer): boolean {
  const h = (n: string) => {
    const v = headers[n];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  switch (auth.type) {
    case 'hmac':
      return !!auth.secret && same(h(SIGNATURE_HEADER).trim().toLowerCase(), signBody(auth.secret, raw));
    case 'basic':
      return same(h('authorization'), `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
    case 'bearer':
      return !!auth.token && same(h('authorization'), `Bearer ${auth.token}`);
  }
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
  if (o.operation !== 'insert' && o.operation !== 'update' && o.operation !== 'delete') return 'operation must be insert, update or delete';
  if (o.operation !== 'delete' && (!o.record || typeof o.record !== 'object')) return 'record missing';
  return o as WebhookBody;
}

export function webhookChange(body: WebhookBody, ctx: MapContext): TicketChange {
  const record: SnRecord = { ...(body.record ?? {}), sys_id: body.sys_id };
  if (body.operation === 'delete') return { ref: toRef(ctx, body.table, record), source: 'webhook', deleted: true };
  const ticket = toTicket(ctx, body.table, record);
  return { ticket, ref: toRef(ctx, body.table, record), source: 'webhook' };
}

export async function registerServiceNowWebhook(app: FastifyInstance, opts: ServiceNowWebhookOptions): Promise<void> {
  const path = opts.path ?? '/webhooks/servicenow';
  const ctx: MapContext = { system: opts.system ?? 'servicenow', instanceUrl: opts.instanceUrl ?? '' };
  const tables = opts.tables && new Set(opts.tables);
  await app.register(async (scope) => {
    // Keep the raw bytes: the HMAC covers the body exactly as sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    scope.post(path, async (req: FastifyRequest, reply: FastifyReply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!verifyWebhookAuth(opts.auth, req.headers, raw)) {
        return reply.code(401).send({ error: { code: 'unauthorized', message: 'invalid webhook signature or credentials', requestId: req.id } });
      }
      const body = parseBody(raw);
      if (typeof body === 'string') return reply.code(400).send({ error: { code: 'invalid_request', message: `bad webhook body: ${body}`, requestId: req.id } });
      if (tables && !tables.has(body.table)) return reply.code(202).send({ status: 'ignored' });
      await opts.onChange(webhookChange(body, ctx));
      return reply.code(202).send({ status: 'accepted' });
    });
  });
}
