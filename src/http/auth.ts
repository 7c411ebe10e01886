import { createHmac, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from './server.ts';

/**
 * Inbound authentication pieces routes share: an HMAC over a timestamp and the raw body (checked
 * before anything parses it), a memory of signatures already accepted, and a cache in front of a
 * bearer-token verifier.
 *
 * The one signature scheme of Ticketloop's HMAC senders (the Logic App forwarder, the ServiceNow
 * business rule; docs/entitlement.md, sandbox/servicenow/WEBHOOKS.md):
 *   <timestamp header>: <unix seconds>
 *   <signature header>: sha256=<lower-case hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>
 * A request whose timestamp is more than MAX_SKEW_MS from Ticketloop's clock is refused, so a
 * captured request cannot be replayed later; the timestamp cannot be changed without the secret.
 */

/** The hex HMAC-SHA256 of `body`. */
export function hmacHex(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export const MAX_SKEW_MS = 5 * 60_000;

/** `sha256=<hex>` over `<timestamp>.<body>`: what a sender puts in the signature header. */
export function signTimestamped(secret: string, timestamp: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** Why a timestamp header is not acceptable now, or undefined when it is. */
export function timestampProblem(header: string, value: unknown, now: number): string | undefined {
  if (typeof value !== 'string' || !/^\d{1,12}$/.test(value)) return `missing or malformed ${header} (unix seconds)`;
  if (Math.abs(Number(value) * 1000 - now) > MAX_SKEW_MS)
    return `${header} is more than ${MAX_SKEW_MS / 1000} s from Ticketloop's clock (a replay, or a clock is wrong)`;
  return undefined;
}

/**
 * Signatures accepted within the timestamp window: the same signed request a second time is a
 * replay (or a sender's retry of one already stored). Per process; beyond the window the
 * timestamp check refuses it anyway, so entries expire with it.
 */
export class ReplayGuard {
  private readonly until = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  seen(signature: string, now: number): boolean {
    const t = this.until.get(signature);
    return t !== undefined && t > now;
  }

  remember(signature: string, timestampSec: number, now: number): void {
    if (this.until.size >= this.max) {
      for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
      // Still full (a flood inside the window): forget the oldest; the job keys still dedupe.
      while (this.until.size >= this.max) this.until.delete(this.until.keys().next().value!);
    }
    this.until.set(signature, timestampSec * 1000 + MAX_SKEW_MS);
  }
}

export interface RawBodyHmacOptions {
  /** Header carrying `sha256=<hex>`. */
  header: string;
  /** Header carrying the signed unix-seconds timestamp. */
  timestampHeader: string;
  /** Ticketloop's clock (ms). */
  now(): number;
  bodyLimit: number;
  /** The secrets a valid signature may use. */
  secrets(): string[];
  /** The error to throw for a missing, malformed or wrong signature. */
  reject(message: string): Error;
  /** Called with the secrets that matched (one body may be valid for several integrations). */
  accept(req: FastifyRequest, matched: Set<string>): void;
}

/**
 * A Fastify `preParsing` hook: checks the timestamp, reads the raw body (up to the limit), checks
 * the signature in constant time, and hands the same bytes on to the parser.
 */
export function rawBodyHmac(o: RawBodyHmacOptions) {
  return async (req: FastifyRequest, _reply: unknown, payload: AsyncIterable<Buffer>) => {
    const header = req.headers[o.header];
    if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header))
      throw o.reject(`missing or malformed ${o.header} (sha256=<hex>)`);
    const timestamp = req.headers[o.timestampHeader];
    const stale = timestampProblem(o.timestampHeader, timestamp, o.now());
    if (stale) throw o.reject(stale);
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
    const matched = new Set(
      o
        .secrets()
        .filter((s) => timingSafeEqual(Buffer.from(signTimestamped(s, timestamp as string, raw).slice(7)), given)),
    );
    if (!matched.size) throw o.reject('the signature does not match the timestamp and body');
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
