import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { GRAPH_ROOTS, GRAPH_TYPES, type GraphNavigation } from './graph-schema.ts';
import { GraphFailure, requestIds, sendGraphFailure } from './graph-http.ts';
import { member } from './odata.ts';

/**
 * Which of the Microsoft server's paths are Graph's, the ids every Graph response carries, and
 * Graph's answers for paths no route serves: an unknown version, an unknown segment (checked
 * against the v1.0 schema), or a resource (or method) Graph has but the sandbox does not implement. Entra's paths and the sandbox's `/_sandbox/*` keep Fastify's plain 404.
 */

/** Second segments of Entra's endpoints (`/{tenant}/oauth2/v2.0/token`, `/{tenant}/discovery/keys`, …). */
const ENTRA_SEGMENTS = new Set(['oauth2', 'v2.0', '.well-known', 'discovery', 'saml2', 'wsfed', 'federationmetadata']);
const ENTRA_TENANT_ALIASES = new Set(['common', 'organizations', 'consumers']);

/** Graph serves every path of its host that is not Entra's or the sandbox's own. */
export function isGraphPath(path: string): boolean {
  const [first = '', second = ''] = path.split('/').slice(1);
  if (first === '' || first === '_sandbox') return false;
  if (first === 'v1.0' || first === 'beta') return true;
  return !ENTRA_TENANT_ALIASES.has(first.toLowerCase()) && !ENTRA_SEGMENTS.has(second.toLowerCase());
}

/** Beta-only navigation the sandbox serves (the legacy request collection), on top of the v1.0 table. */
const BETA_NAVIGATION: Record<string, Record<string, GraphNavigation>> = {
  entitlementManagement: {
    accessPackageAssignmentRequests: { type: 'accessPackageAssignmentRequest', many: true },
  },
};

const local = (seg: string) => seg.replace(/^microsoft\.graph\./i, '').toLowerCase();
const isCast = (seg: string) => /^microsoft\.graph\.\w+$/i.test(seg);

/**
 * The first segment of `segments` (after the version) that the schema does not know, or
 * undefined when every segment resolves. Past a structural property, or into a type outside the
 * table, nothing more is checked.
 */
export function unresolvedSegment(segments: string[], version: 'v1.0' | 'beta'): string | undefined {
  type At = { at: 'root' } | { at: 'collection' | 'entity'; type: string } | { at: 'done' };
  let cur: At = { at: 'root' };
  const into = (nav: GraphNavigation): At =>
    nav.many ? { at: 'collection', type: nav.type } : { at: 'entity', type: nav.type };
  for (const raw of segments) {
    if (cur.at === 'done') return undefined;
    if (raw === '') continue;
    const seg = decodeURIComponent(raw);
    // `users('id')` / `catalogs(id)`: a key in parentheses after the collection's name.
    const keyed = /^([^(]+)\((.*)\)$/.exec(seg);
    const name = keyed ? keyed[1] : seg;
    let next: At | undefined;
    if (cur.at === 'root') {
      const key = Object.keys(GRAPH_ROOTS).find((k) => k.toLowerCase() === name.toLowerCase());
      if (key) next = into(GRAPH_ROOTS[key]);
    } else if (cur.at === 'collection') {
      const t = GRAPH_TYPES[cur.type];
      if (name.startsWith('$') || t?.collectionOperations.some((o) => o.toLowerCase() === local(name)))
        next = { at: 'done' };
      else next = isCast(name) ? cur : { at: 'entity', type: cur.type };
    } else {
      const t = GRAPH_TYPES[cur.type];
      if (!t) return undefined;
      const beta = version === 'beta' ? BETA_NAVIGATION[cur.type] : undefined;
      const betaNav = beta && Object.keys(beta).find((k) => k.toLowerCase() === name.toLowerCase());
      const m = member(cur.type, name);
      if (betaNav) next = into(beta[betaNav]);
      else if (m?.navigation) next = into(m.navigation);
      else if (m) next = { at: 'done' };
      else if (t.operations.some((o) => o.toLowerCase() === local(name)) || name === '$value' || name === '$ref')
        next = { at: 'done' };
      else if (isCast(name)) next = cur;
    }
    if (!next) return seg;
    if (keyed && next.at === 'collection') next = { at: 'entity', type: next.type };
    cur = next;
  }
  return undefined;
}

/**
 * Register before the other hooks (faults), so that their answers carry the ids too: the
 * request-id headers on every Graph response, and the not-found handler.
 */
export function registerGraphPaths(app: FastifyInstance, clock: OffsetClock): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isGraphPath(req.url.split('?')[0])) return;
    const { requestId, clientRequestId } = requestIds(req);
    reply.headers({
      'request-id': requestId,
      'client-request-id': clientRequestId,
      'x-ms-ags-diagnostic': JSON.stringify({
        ServerInfo: { DataCenter: 'Sandbox', Slice: 'E', Ring: '0', ScaleUnit: '000', RoleInstance: 'TICKETLOOP-SB' },
      }),
    });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    if (!isGraphPath(path)) {
      // Fastify's own answer, as before.
      return reply
        .code(404)
        .send({ message: `Route ${req.method}:${req.url} not found`, error: 'Not Found', statusCode: 404 });
    }
    const fail = (e: GraphFailure) => sendGraphFailure(reply, clock.now(), req, e);
    const [version, ...segments] = path.split('/').slice(1);
    if (version !== 'v1.0' && version !== 'beta') return fail(new GraphFailure(400, 'BadRequest', 'Invalid version.'));
    let unresolved: string | undefined;
    try {
      unresolved = unresolvedSegment(segments, version);
    } catch {
      unresolved = segments.find((s) => s); // not percent-decodable
    }
    if (unresolved !== undefined)
      return fail(new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${unresolved}'.`));
    return fail(
      new GraphFailure(501, 'NotImplemented', `The Ticketloop sandbox does not implement ${req.method} ${path}.`),
    );
  });
}
