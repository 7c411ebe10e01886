import { createHmac, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from './server.ts';

/**
 * Inbound authentication pieces routes share: an HMAC over the raw body (checked before anything
 * parses it) and a cache in front of a bearer-token verifier.
 */

/** The hex HMAC-SHA256 of `body`. */
export function hmacHex(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export interface RawBodyHmacOptions {
  /** Header carrying `sha256=<hex>`. */
  header: string;
  bodyLimit: number;
  /** The secrets a valid signature may use. */
  secrets(): string[];
  /** The error to throw for a missing, malformed or wrong signature. */
  reject(message: string): Error;
  /** Called with the secrets that matched (one body may be valid for several integrations). */
  accept(req: FastifyRequest, matched: Set<string>): void;
}

/**
 * A Fastify `preParsing` hook: reads the raw body (up to the limit), checks the signature in
 * constant time, and hands the same bytes on to the parser.
 */
export function rawBodyHmac(o: RawBodyHmacOptions) {
  return async (req: FastifyRequest, _reply: unknown, payload: AsyncIterable<Buffer>) => {
    const header = req.headers[o.header];
    if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header))
      throw o.reject(`missing or malformed ${o.header} (sha256=<hex>)`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      size += chunk.length;
      if (size > o.bodyLimit)
        throw new HttpProblem(413, 'payload_too_large', `request body is larger than ${o.bodyLimit} bytes`);
      chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks);
    const given = Buffer.from(header.slice(7).toLowerCase());
    const matched = new Set(o.secrets().filter((s) => timingSafeEqual(Buffer.from(hmacHex(s, raw)), given)));
    if (!matched.size) throw o.reject('the signature does not match the body');
    o.accept(req, matched);
    const replay = Readable.from([raw]) as Readable & { receivedEncodedLength?: number };
    replay.receivedEncodedLength = raw.length;
    return replay;
  };
}

/**
 * A verifier with a cache of tokens it already accepted: senders such as Entra reuse one token for
 * many calls. A token accepted once with every check stays valid until it expires (plus the same
 * clock skew the verifier allows).
 */
export function cachedTokenVerifier<C extends { exp?: unknown }>(
  verify: (authorization: string | undefined) => Promise<C>,
  now: () => number,
  skewMs = 120_000,
) {
  const accepted = new Map<string, C>();
  return async (authorization: string | undefined): Promise<C> => {
    const token = authorization && /^Bearer /i.test(authorization) ? authorization.slice(7) : '';
    const hit = token ? accepted.get(token) : undefined;
    if (hit && Number(hit.exp) * 1000 + skewMs > now()) return hit;
    const claims = await verify(authorization);
    if (accepted.size >= 10_000) accepted.clear();
    if (token) accepted.set(token, claims);
    return claims;
  };
}
