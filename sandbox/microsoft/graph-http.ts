import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors as joseErrors } from 'jose';
import type { Entra } from './entra.ts';
import { GRAPH_APP_ID, GRAPH_RESOURCE } from './constants.ts';

/** Graph's wire conventions shared by the sandbox routes: request ids, error envelope, bearer auth. */

export interface RequestIds {
  requestId: string;
  clientRequestId: string;
}
const ids = new WeakMap<FastifyRequest, RequestIds>();

/**
 * The ids of one Graph request: a new `request-id`, and the caller's `client-request-id` echoed
 * (when none was sent, Graph answers one equal to the request id). The same pair goes in the
 * response headers and in every error body's `innerError`.
 */
export function requestIds(req: FastifyRequest): RequestIds {
  let v = ids.get(req);
  if (!v) {
    const requestId = randomUUID();
    const sent = req.headers['client-request-id'];
    v = { requestId, clientRequestId: typeof sent === 'string' && sent ? sent : requestId };
    ids.set(req, v);
  }
  return v;
}

export function graphError(now: number, req: FastifyRequest, code: string, message: string) {
  const { requestId, clientRequestId } = requestIds(req);
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date(now).toISOString().replace(/\.\d+Z$/, ''),
        'request-id': requestId,
        'client-request-id': clientRequestId,
      },
    },
  };
}

/** Thrown by handlers; turned into the Graph envelope by the error handler in index.ts. */
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

/** Validate the caller's bearer token the way Graph does: issued by this tenant for Graph, still valid. */
export async function authenticateGraph(entra: Entra, req: FastifyRequest): Promise<GraphCaller> {
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
  return { appId: String(claims.appid ?? claims.azp ?? ''), oid: String(claims.oid ?? ''), roles };
}

/** A valid token (authenticateGraph) carrying one of the application permissions the operation needs. */
export async function authorizeGraph(entra: Entra, req: FastifyRequest, anyOf: string[]): Promise<GraphCaller> {
  const caller = await authenticateGraph(entra, req);
  if (!anyOf.some((r) => caller.roles.includes(r))) {
    throw new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  }
  return caller;
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

/** ISO 8601 duration (PnDTnHnMnS, PnW) → milliseconds; undefined when unparseable. */
export function parseDuration(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m || d === 'P' || d.endsWith('T')) return undefined;
  const [, w, days, h, min, s] = m.map((x) => Number(x ?? 0));
  return ((((w * 7 + days) * 24 + h) * 60 + min) * 60 + s) * 1000;
}
