import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import type { OffsetClock } from '../shared/clock.ts';
import type { Entra } from './entra.ts';
import { EM_READ, EM_READWRITE } from './constants.ts';
import type { EmEngine } from './callouts.ts';
import { authorizeGraph, badRequest, notFound, type GraphCaller } from './graph-http.ts';
import { entityResponse, listResponse, type EntityKind } from './odata.ts';
import { emKinds, type EmKinds } from './em-kinds.ts';
import { authorizeEm } from './graph-em-roles.ts';

/** What the entitlement-management routes share: dependencies, permissions, the route helper. */

export interface EmDeps {
  store: DocStore;
  entra: Entra;
  engine: EmEngine;
  clock: OffsetClock;
}

export const READ = [EM_READ, EM_READWRITE];
export const WRITE = [EM_READWRITE];
export const EM_PREFIXES = [
  '/v1.0/identityGovernance/entitlementManagement',
  '/beta/identityGovernance/entitlementManagement',
];
/** Context paths are relative to the version's `$metadata#`. */
export const EM_CONTEXT = 'identityGovernance/entitlementManagement';

export type Body = Record<string, any>;
type Handler = (req: FastifyRequest, caller: GraphCaller) => unknown;

/** The fields findDocs looks up by: each gets an expression index, or every lookup scans the collection. */
function indexLookupFields(store: DocStore): void {
  for (const k of ['_targetId', '_assignmentId', 'requestId'])
    store.db.exec(`CREATE INDEX IF NOT EXISTS docs_by${k} ON docs (coll, json_extract(body, '$.${k}'))`);
}

/** Documents whose top-level fields equal the given values (matched inside SQLite, no full parse). */
export function findDocs<T>(store: DocStore, coll: string, where: Record<string, string>): T[] {
  const keys = Object.keys(where);
  // Sorted here, not by ORDER BY: that would make SQLite walk the (coll, seq) index instead.
  const sql = `SELECT body, seq FROM docs WHERE coll = ? ${keys.map((k) => `AND json_extract(body, '$.${k}') = ?`).join(' ')}`;
  const rows = store.db.prepare(sql).all(coll, ...keys.map((k) => where[k])) as { body: string; seq: number }[];
  return rows.sort((a, b) => a.seq - b.seq).map((r) => JSON.parse(r.body) as T);
}

export interface EmRouter {
  kinds: EmKinds;
  /** One route under both the v1.0 and the beta prefix, authorized for `roles`; `undefined` answers 204. */
  route(method: 'GET' | 'POST' | 'PUT' | 'DELETE', sub: string, roles: string[], h: Handler, status?: number): void;
  /** A collection page under the request's query options. */
  list<D>(req: FastifyRequest, path: string, kind: EntityKind<D>, docs: D[]): unknown;
  /** One entity with its `@odata.context`. */
  entity<D>(req: FastifyRequest, path: string, kind: EntityKind<D>, doc: D): unknown;
  /** A stored document, or Graph's 404. */
  get<T>(coll: string, what: string, id: string): T;
  /** Sandbox time, ISO 8601. */
  now(): string;
  /** A required (non-blank) string property of a request body. */
  text(b: Body, k: string, required?: boolean): string;
}

export function emRouter(app: FastifyInstance, d: EmDeps, baseUrl: () => string): EmRouter {
  indexLookupFields(d.store);
  return {
    kinds: emKinds(d.store),
    route(method, sub, roles, h, status = 200) {
      for (const prefix of EM_PREFIXES) {
        app.route({
          method,
          url: prefix + sub,
          handler: async (req, reply) => {
            // Reads are open to catalog-role holders too (lists are not narrowed to their catalogs).
            const caller =
              roles === READ ? (await authorizeEm(d, req, roles)).caller : await authorizeGraph(d.entra, req, roles);
            const out = await h(req, caller);
            if (out === undefined) return reply.code(204).send();
            return reply.code(status).send(out);
          },
        });
      }
    },
    list: (req, path, kind, docs) => listResponse(req, baseUrl(), `${EM_CONTEXT}/${path}`, kind, docs),
    entity: (req, path, kind, doc) => entityResponse(req, baseUrl(), `${EM_CONTEXT}/${path}`, kind, doc),
    get<T>(coll: string, what: string, id: string): T {
      const doc = d.store.get<T>(coll, id);
      if (!doc) throw notFound(what, id);
      return doc;
    },
    now: () => new Date(d.clock.now()).toISOString(),
    text(b, k, required = true) {
      const v = b[k];
      if (typeof v === 'string' && v.trim()) return v;
      if (required) throw badRequest(`The property '${k}' is required.`, 'InvalidRequest');
      return '';
    },
  };
}
