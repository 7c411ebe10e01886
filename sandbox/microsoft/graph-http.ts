import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors as joseErrors } from 'jose';
import type { Entra } from './entra.ts';
import { GRAPH_APP_ID, GRAPH_RESOURCE } from './constants.ts';

/** Graph's wire conventions shared by the sandbox routes: error envelope, bearer auth, OData paging. */

export function graphError(now: number, req: FastifyRequest, code: string, message: string) {
  const clientRequestId = req.headers['client-request-id'];
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date(now).toISOString().replace(/\.\d+Z$/, ''),
        'request-id': randomUUID(),
        'client-request-id': typeof clientRequestId === 'string' ? clientRequestId : randomUUID(),
      },
    },
  };
}

/** Thrown by handlers; turned into the Graph envelope by the error handler in graph-em.ts. */
export class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) =>
  new GraphFailure(404, 'ResourceNotFound', `${what} with id '${id}' was not found.`);
export const badRequest = (message: string, code = 'BadRequest') => new GraphFailure(400, code, message);

export interface GraphCaller {
  appId: string;
  oid: string;
  roles: string[];
}

const GRAPH_AUDIENCES = [GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, GRAPH_APP_ID];

/**
 * Validate the caller's bearer token the way Graph does: issued by this tenant for Graph, still
 * valid, and carrying one of the application permissions the operation needs.
 */
export async function authorizeGraph(entra: Entra, req: FastifyRequest, anyOf: string[]): Promise<GraphCaller> {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  if (!m) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'Access token is empty.');
  let claims: Record<string, unknown>;
  try {
    claims = await entra.verifyAccessToken(m[1], { audience: GRAPH_AUDIENCES });
  } catch (e) {
    const why =
      e instanceof joseErrors.JWTExpired
        ? 'Lifetime validation failed, the token is expired.'
        : e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'aud'
          ? 'Access token validation failure. Invalid audience.'
          : 'Access token validation failure.';
    throw new GraphFailure(401, 'InvalidAuthenticationToken', why);
  }
  const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
  if (!anyOf.some((r) => roles.includes(r))) {
    throw new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  }
  return { appId: String(claims.appid ?? claims.azp ?? ''), oid: String(claims.oid ?? ''), roles };
}

export function sendGraphFailure(reply: FastifyReply, now: number, req: FastifyRequest, e: GraphFailure) {
  if (e.status === 401) {
    reply.header(
      'www-authenticate',
      `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
    );
  }
  return reply.code(e.status).send(graphError(now, req, e.code, e.message));
}

/**
 * One page of a collection with `@odata.context` and, when more remain, `@odata.nextLink`
 * (`$skiptoken` is an opaque offset). `$top` defaults to 100, as on many Graph collections.
 */
export function page<T>(req: FastifyRequest, baseUrl: string, context: string, items: T[]) {
  const q = req.query as Record<string, string | undefined>;
  const top = Math.min(Math.max(Number(q.$top ?? 100) || 100, 1), 999);
  let skip = 0;
  if (q.$skiptoken)
    skip =
      Number(
        Buffer.from(q.$skiptoken, 'base64url')
          .toString('utf8')
          .replace(/^skip:/, ''),
      ) || 0;
  const slice = items.slice(skip, skip + top);
  const out: Record<string, unknown> = { '@odata.context': `${baseUrl}/${apiVersion(req)}/$metadata#${context}` };
  if (q.$count === 'true') out['@odata.count'] = items.length;
  out.value = slice;
  if (skip + top < items.length) {
    const u = new URL(req.url, baseUrl);
    u.searchParams.set('$top', String(top));
    u.searchParams.set('$skiptoken', Buffer.from(`skip:${skip + top}`).toString('base64url'));
    out['@odata.nextLink'] = u.toString();
  }
  return out;
}

export function apiVersion(req: FastifyRequest): 'v1.0' | 'beta' {
  return req.url.startsWith('/beta/') ? 'beta' : 'v1.0';
}

/** ISO 8601 duration (PnDTnHnMnS, PnW) → milliseconds; undefined when unparseable. */
export function parseDuration(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m || d === 'P' || d.endsWith('T')) return undefined;
  const [, w, days, h, min, s] = m.map((x) => Number(x ?? 0));
  return ((((w * 7 + days) * 24 + h) * 60 + min) * 60 + s) * 1000;
}
