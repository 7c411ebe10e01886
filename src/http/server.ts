import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import swagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isConnectionError } from '../store/db.ts';
import type { Metrics } from '../app/metrics.ts';
import { formatPath } from '../config/common.ts';

/**
 * The HTTP server: Fastify 5 with zod schemas (which also produce /openapi.json), one error
 * envelope carrying the request id, body-size limits, and the health/readiness/metrics endpoints.
 */

export type App = FastifyInstance<any, any, any, Logger, ZodTypeProvider>;

/** The one error envelope every endpoint answers with. */
export const errorEnvelope = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export class HttpProblem extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export interface Readiness {
  /** `degraded`: connections whose last check failed; they do not make the service unready. */
  check(): Promise<{ ok: boolean; checks: Record<string, string>; degraded?: string[] }>;
}

export interface HttpServerOptions {
  logger: Logger;
  bodyLimit: number;
  /** server.requestTimeoutMs / connectionTimeoutMs / keepAliveTimeoutMs (defaults in config/schema.ts). */
  timeouts?: { requestMs: number; connectionMs: number; keepAliveMs: number };
  /** Behind a reverse proxy: trust its X-Forwarded-For (client address for sign-in limits and audit). */
  trustProxy?: boolean | string[];
  metrics?: Metrics;
  readiness?: Readiness;
  /** A GET no route took: answer it (the console's page, http/console.ts) or return false for the JSON 404. */
  page?(req: FastifyRequest, reply: FastifyReply): boolean;
  /** Access control in /openapi.json: the security schemes, and each route's role and `security`. */
  openapi?: {
    securitySchemes: Record<string, unknown>;
    describeRoute(route: RouteOptions): Record<string, unknown> | undefined;
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request stream failed because its own connection went away (Node's "aborted" ECONNRESET). */
function clientLeft(raw: IncomingMessage, err: { code?: string; message?: string }): boolean {
  if (raw.complete) return false;
  return (err.code === 'ECONNRESET' && err.message === 'aborted') || raw.destroyed || !!raw.socket?.destroyed;
}

/**
 * API reads are per caller and change often: the browser keeps them but asks again each time
 * (`private, no-cache`), and a weak ETag of the body turns an unchanged answer into a body-less 304
 * (the console polls every few seconds).
 */
function apiReadEtag(req: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  if (req.method !== 'GET' || !req.url.startsWith('/api/') || reply.statusCode !== 200) return payload;
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
  const tag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
  reply.header('cache-control', 'private, no-cache');
  reply.header('etag', tag);
  const given = req.headers['if-none-match'];
  if (typeof given === 'string' && given.split(/\s*,\s*/).some((t) => t === tag || `W/${t}` === tag)) {
    reply.code(304);
    return '';
  }
  return payload;
}

export async function createHttpServer(o: HttpServerOptions): Promise<App> {
  const t = o.timeouts ?? { requestMs: 30_000, connectionMs: 60_000, keepAliveMs: 72_000 };
  const app = Fastify({
    loggerInstance: o.logger,
    bodyLimit: o.bodyLimit,
    // A slow body (or one never sent) is cut off with 408 once requestTimeout passes. Node swaps the
    // two limits when headersTimeout (default 60 s) is the larger, and checks them only every
    // connectionsCheckingInterval (default 30 s): both set here, or a body could take minutes.
    requestTimeout: t.requestMs,
    connectionTimeout: t.connectionMs,
    keepAliveTimeout: t.keepAliveMs,
    http: {
      headersTimeout: t.requestMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(t.requestMs / 10))),
    },
    trustProxy: o.trustProxy ?? false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Per-request access logs would dominate at callout rates; latency goes to /metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Deeply nested JSON is refused by the parser's own limits (secure-json-parse guards prototypes).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // URLs the router refuses before any route runs (bad percent-encoding, over-long parameters)
    // still answer with the one error envelope.
    frameworkErrors: (err, req, reply) => {
      (reply as FastifyReply)
        .code(400)
        .send({ error: { code: 'invalid_request', message: err.message, requestId: req.id } });
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Ticketloop', version: '0.1.0', description: 'Cloud events ↔ ITSM tickets' },
      ...(o.openapi ? { components: { securitySchemes: o.openapi.securitySchemes as never } } : {}),
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      const access = o.openapi?.describeRoute(input.route as RouteOptions);
      return access ? { ...out, schema: { ...(out.schema ?? {}), ...access } } : out;
    },
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    return apiReadEtag(req, reply, payload);
  });
  app.addHook('onResponse', async (req, reply) => {
    o.metrics?.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) req.log.warn({ url: req.url, status: reply.statusCode }, 'request failed');
  });

  app.setNotFoundHandler((req, reply) => {
    if (o.page?.(req, reply)) return;
    reply.code(404).send({
      error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, requestId: req.id },
    });
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const send = (status: number, code: string, message: string, details?: { path: string; message: string }[]) =>
      reply.code(status).send({ error: { code, message, requestId: req.id, ...(details ? { details } : {}) } });
    if (err instanceof HttpProblem) return send(err.statusCode, err.code, err.message, err.details);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({
        path: formatPath([
          err.validationContext ?? 'body',
          ...v.instancePath
            .split('/')
            .filter(Boolean)
            .map((p: string) => (/^\d+$/.test(p) ? Number(p) : p)),
        ]),
        message: v.message ?? 'invalid',
      }));
      return send(400, 'invalid_request', details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
    }
    if (clientLeft(req.raw, err)) {
      // The client hung up (or was cut off by requestTimeout) mid-request: nothing to do with the database.
      req.log.info({ err: err.message, url: req.url }, 'client closed the connection before the request was complete');
      return send(400, 'request_aborted', 'the connection closed before the whole request arrived');
    }
    if (isConnectionError(err)) {
      req.log.error({ err: err.message }, 'database unavailable');
      reply.header('retry-after', '5');
      return send(503, 'unavailable', 'the database is unreachable; try again shortly');
    }
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        // The route's own limit where it has one (the callouts' is smaller than the server's).
        return send(
          413,
          'payload_too_large',
          `request body is larger than ${req.routeOptions.bodyLimit ?? o.bodyLimit} bytes`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(415, 'unsupported_media_type', err.message);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(400, 'invalid_json', 'body must not be empty');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return send(400, 'invalid_request', err.message);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      const code = err instanceof SyntaxError || /JSON/i.test(err.message) ? 'invalid_json' : 'bad_request';
      return send(err.statusCode, code, err.message);
    }
    req.log.error({ err }, 'unhandled error');
    return send(500, 'internal', 'internal error');
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const r = (await o.readiness?.check()) ?? { ok: true, checks: {} };
    return reply.code(r.ok ? 200 : 503).send({
      status: r.ok ? 'ready' : 'not ready',
      checks: r.checks,
      ...(r.degraded ? { degraded: r.degraded } : {}),
    });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    if (!o.metrics) return reply.code(404).send();
    reply.header('content-type', o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
