import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ARM_AUDIENCES } from './arm.ts';

/**
 * ARM's bearer check, in the order ARM reports failures: no header, a header that is not
 * `Bearer <token>`, a token that is not a JWT, the wrong audience, an expired token (judged on
 * sandbox time), a bad signature/issuer (the `verifyBearer` callback), no principal claim.
 * Each answers 401 with ARM's code and message and a `WWW-Authenticate` challenge
 * (azure-sdk-for-python/go ARM challenge tests quote the real header).
 */

export interface ArmPrincipal {
  /** Object id of the caller (service principal or user). */
  oid: string;
  /** The calling client's app id (`appid` in v1 tokens, `azp` in v2). */
  appId?: string;
  tenantId?: string;
}

/** Where ARM's challenge sends a client for a new token; the real value. */
export const AUTHORIZATION_URI = 'https://login.windows.net/';

export const ALLOWED_AUDIENCES_TEXT = ARM_AUDIENCES.map((a) => `'${a}'`).join(',');

const principals = new WeakMap<FastifyRequest, ArmPrincipal>();

/** The authenticated caller of an ARM request (undefined on admin routes). */
export function principalOf(req: FastifyRequest): ArmPrincipal | undefined {
  return principals.get(req);
}

function challenge(reply: FastifyReply, code: string, message: string, description = message): FastifyReply {
  return reply
    .code(401)
    .header(
      'www-authenticate',
      `Bearer authorization_uri="${AUTHORIZATION_URI}", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
    )
    .send({ error: { code, message } });
}

function decodePayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const p = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as unknown;
    return p && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** .NET's invariant `G` format, as ARM prints times in its messages: `5/14/2023 4:53:50 AM`. */
export function armTime(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 || 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

export interface ArmAuthOptions {
  clock: OffsetClock;
  /** Checks signature, issuer and tenant; throws when the token is not genuine. */
  verifyBearer(token: string): Promise<Record<string, unknown>>;
  /** Paths that need no token (the sandbox's control API). */
  skip: RegExp;
}

export function registerArmAuth(app: FastifyInstance, o: ArmAuthOptions): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (o.skip.test(req.url)) return;
    const header = req.headers.authorization;
    if (!header)
      return challenge(
        reply,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        "The authentication failed because of missing 'Authorization' header.",
      );
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m)
      return challenge(
        reply,
        'AuthenticationFailedInvalidHeader',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
    const token = m[1];
    const claims = decodePayload(token);
    if (!claims) return challenge(reply, 'InvalidAuthenticationToken', 'The access token is invalid.');

    const aud = claims.aud;
    if (typeof aud !== 'string' || !(ARM_AUDIENCES as readonly string[]).includes(aud))
      return challenge(
        reply,
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${typeof aud === 'string' ? aud : ''}'. It should exactly match with one of the allowed audiences ${ALLOWED_AUDIENCES_TEXT}.`,
      );

    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    const now = o.clock.now();
    if (exp !== undefined && exp <= now)
      return challenge(
        reply,
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${armTime(exp)}' is earlier than current UTC time '${armTime(now)}'.`,
      );

    try {
      await o.verifyBearer(token);
    } catch {
      return challenge(reply, 'InvalidAuthenticationToken', 'The access token is invalid.');
    }

    // ARM needs a principal to authorize; app tokens carry the service principal's `oid`.
    const oid = [claims.oid, claims.puid, claims.altsecid].find((c) => typeof c === 'string' && c) as
      string | undefined;
    if (!oid)
      return challenge(
        reply,
        'InvalidAuthenticationToken',
        "The received access token is not valid: at least one of the claims 'puid' or 'altsecid' or 'oid' should be present. If you are accessing as application please make sure service principal is properly created in the tenant.",
      );
    const appId = [claims.appid, claims.azp].find((c) => typeof c === 'string') as string | undefined;
    principals.set(req, { oid, appId, tenantId: typeof claims.tid === 'string' ? claims.tid : undefined });
  });
}
