import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import type { Auth } from './auth.ts';
import { Formatter, type DisplayMode, type FormatOptions } from './format.ts';
import { textSearch } from './knowledge.ts';
import { compileQuery, sortRows, type QueryContext } from './query.ts';
import { rateLimitBody, type RateLimiter } from './ratelimit.ts';
import { SnError, notFound, type Actor, type Records } from './records.ts';
import type { Settings } from './settings.ts';
import type { Row, TableStore } from './store.ts';
import { TABLES } from './tables.ts';

export interface SnContext {
  baseUrl: string;
  store: TableStore;
  records: Records;
  fmt: Formatter;
  auth: Auth;
  settings: Settings;
  limiter: RateLimiter;
  clock: OffsetClock;
}

type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const bool = (v: string | string[] | undefined) => one(v)?.toLowerCase() === 'true';

/** Rows of tickets a user without itil/admin may see: the ones they are the caller/requester of. */
const PERSONAL_FIELDS = ['caller_id', 'opened_by', 'requested_for'];
/** Tables whose read ACL requires admin (system properties, business rules). */
const ADMIN_READ = new Set(['sys_properties', 'sys_script']);

/**
 * Read ACLs that fail for the whole request (403, "User Not Authorized"): a user without any role
 * fails the API-level ACL on every table (the pair ServiceNow KB2466644 quotes), and only admin
 * passes the table ACL of sys_properties and sys_script. The detail of a table-level failure is
 * not documented; the sandbox uses the read form of the documented insert/update details.
 */
function checkTableRead(actor: Actor, table: string, method: string): void {
  if (actor.roles.length === 0) throw new SnError(403, 'User Not Authorized', 'Failed API level ACL Validation');
  // Writes meet their own ACLs in records.ts (403 "ACL Exception Insert Failed …").
  if (method === 'GET' && ADMIN_READ.has(table) && !actor.roles.includes('admin'))
    throw new SnError(403, 'User Not Authorized', 'ACL Exception Read Failed due to security constraints');
}

/** Row-level read ACLs: rows that fail are left out of lists (short pages) and 404 on a get. */
function canRead(actor: Actor, table: string, row: Row): boolean {
  if (actor.roles.includes('admin')) return true;
  if (table === 'sys_user_has_role') return row.user === actor.sysId; // one's own grants only
  if (actor.roles.includes('itil')) return true;
  if (TABLES[table].isTask) return PERSONAL_FIELDS.some((f) => row[f] !== undefined && row[f] === actor.sysId);
  if (table === 'sysapproval_approver') return row.approver === actor.sysId; // "My approvals"
  return !['sysapproval_approver', 'sys_journal_field'].includes(table);
}

/** Any path that is not a resource of the instance (an unknown API, version or page). */
const noSuchResource = () => new SnError(404, 'Requested URI does not represent any resource', null);

const ACCEPTABLE = /application\/json|application\/\*|\*\/\*/i;

/**
 * The Table API (fact sheet §1.1–1.6) on `/api/now/table/{t}` and `/api/now/{v1|v2}/table/{t}`.
 * An unknown table answers 400 "Invalid table <name>" (detail null), as real instances do; any
 * other unknown path (another version, another API) 404 "Requested URI does not represent any
 * resource" (registerErrorHandling).
 */
export function registerTableApi(app: FastifyInstance, ctx: SnContext): void {
  // Last list result per table, reused while the table is unchanged: paging through 100k rows with
  // an ORDERBY must not filter and sort the whole table again for every page.
  const cache = new Map<string, { key: string; version: number; rows: Row[] }>();

  const queryCtx = (table: string, actor: Actor): QueryContext => ({
    table,
    value: (row, path) => ctx.fmt.value(table, row, path),
    display: (row, path) => ctx.fmt.display(table, row, path),
    now: () => ctx.clock.now(),
    userSysId: actor.sysId,
  });

  const formatOpts = (table: string, q: Query): FormatOptions => {
    const d = one(q.sysparm_display_value)?.toLowerCase();
    const display: DisplayMode = d === 'true' ? 'true' : d === 'all' ? 'all' : 'false';
    return {
      fields: Formatter.validFields(table, one(q.sysparm_fields)),
      display,
      excludeRefLink: bool(q.sysparm_exclude_reference_link),
    };
  };

  /** Header rules, authentication and the rate-limit rule, common to every Table API call. */
  async function guard(
    req: FastifyRequest,
    reply: FastifyReply,
    method: string,
  ): Promise<{ actor: Actor; table: string }> {
    const accept = req.headers.accept;
    if (!accept)
      throw new SnError(400, 'Bad Request', 'Accept header is required (application/json or application/xml)');
    if (!ACCEPTABLE.test(accept))
      throw new SnError(406, 'Not Acceptable', `The sandbox answers application/json; Accept was ${accept}`);
    if (['POST', 'PUT', 'PATCH'].includes(method)) {
      const ct = req.headers['content-type'];
      if (!ct)
        throw new SnError(400, 'Bad Request', 'Content-Type header is required (application/json or application/xml)');
      if (!/^application\/json/i.test(ct))
        throw new SnError(415, 'Unsupported Media Type', `Content-Type ${ct} is not supported; use application/json`);
    }
    const actor = ctx.auth.authenticate(req);
    const rl = ctx.limiter.hit(actor.userName);
    if (rl) {
      reply.headers(rl.headers);
      if (rl.exceeded) {
        reply.header('Retry-After', String(rl.retryAfterSeconds));
        throw Object.assign(new SnError(429, 'Rate limit exceeded', ''), { rateLimit: rl.limit });
      }
    }
    const table = (req.params as { table: string }).table;
    if (!TABLES[table]) throw new SnError(400, `Invalid table ${table}`, null);
    checkTableRead(actor, table, method);
    return { actor, table };
  }

  async function list(req: FastifyRequest, reply: FastifyReply) {
    const { actor, table } = await guard(req, reply, 'GET');
    const q = req.query as Query;
    const qc = queryCtx(table, actor);
    const sysparmQuery = one(q.sysparm_query);
    let queryText = sysparmQuery ?? '';
    let byDisplay = false;
    if (sysparmQuery === undefined) {
      // name=value pairs (mutually exclusive with sysparm_query); display values match too.
      const pairs = Object.entries(q).filter(([k]) => !k.startsWith('sysparm_'));
      queryText = pairs.map(([k, v]) => `${k}=${(one(v) ?? '').replaceAll('^', '^^')}`).join('^');
      byDisplay = true;
    }
    const limitRaw = Number(one(q.sysparm_limit));
    const limit = Number.isFinite(limitRaw) && limitRaw > 0 ? Math.floor(limitRaw) : 10000;
    const offsetRaw = Number(one(q.sysparm_offset));
    const offset = Number.isFinite(offsetRaw) && offsetRaw > 0 ? Math.floor(offsetRaw) : 0;

    // Text search (IR_AND_OR_QUERY=…, knowledge.ts): matching rows by relevance, scored.
    const ir = textSearch(queryText);
    const scores = new Map<Row, number>();
    if (ir) queryText = ir.rest;
    const compiled = compileQuery(queryText, qc, byDisplay);
    let rows: Row[];
    if (ir) {
      for (const r of ctx.store.rows(table).filter(compiled.match)) {
        const score = ir.score(r);
        if (score > 0) scores.set(r, score);
      }
      rows = [...scores.keys()];
      rows = compiled.order.length
        ? sortRows(rows, compiled.order, qc)
        : rows.sort((a, b) => scores.get(b)! - scores.get(a)!);
    } else if (compiled.invalid && ctx.settings.property('glide.invalid_query.returns_no_rows') === 'true') rows = [];
    else if (compiled.matchAll && compiled.order.length === 0) rows = ctx.store.rows(table);
    else if (compiled.correlationId !== undefined)
      rows = sortRows(
        ctx.store.byCorrelationId(table, compiled.correlationId).filter(compiled.match),
        compiled.order,
        qc,
      );
    else {
      const key = `${queryText}\u0000${byDisplay}\u0000${actor.sysId}`;
      const version = ctx.store.version(table);
      const hit = cache.get(table);
      if (hit && hit.key === key && hit.version === version) rows = hit.rows;
      else {
        rows = sortRows(ctx.store.rows(table).filter(compiled.match), compiled.order, qc);
        // Relative dates move with the clock, so such results are not reusable.
        if (!/javascript:|RELATIVE/.test(queryText)) cache.set(table, { key, version, rows });
      }
    }
    const total = rows.length;
    // sysparm_limit is applied before ACL evaluation, so a restricted user can get short pages.
    const page = rows.slice(offset, offset + limit).filter((r) => canRead(actor, table, r));

    const noCount = bool(q.sysparm_no_count);
    if (!noCount) reply.header('X-Total-Count', String(total));
    if (!bool(q.sysparm_suppress_pagination_header)) {
      const link = linkHeader(ctx.baseUrl, req.url, total, offset, limit, noCount, page.length);
      if (link) reply.header('Link', link);
    }
    const version = (req.params as { version?: string }).version;
    if (version === 'v1' && page.length === 0) throw notFound();
    const opts = formatOpts(table, q);
    reply.type('application/json; charset=utf-8');
    const withScore = ir && (!opts.fields || one(q.sysparm_fields)!.split(',').includes('ir_query_score'));
    const json = (r: Row) => {
      const j = ctx.fmt.formatJson(table, r, opts);
      return withScore ? `${j.slice(0, -1)}${j.length > 2 ? ',' : ''}"ir_query_score":"${scores.get(r)}"}` : j;
    };
    return `{"result":[${page.map(json).join(',')}]}`;
  }

  async function getOne(req: FastifyRequest, reply: FastifyReply) {
    const { actor, table } = await guard(req, reply, 'GET');
    const row = ctx.store.get(table, (req.params as { sys_id: string }).sys_id);
    if (!row || !canRead(actor, table, row)) throw notFound();
    return { result: ctx.fmt.format(table, row, formatOpts(table, req.query as Query)) };
  }

  function body(req: FastifyRequest): Record<string, unknown> {
    let b = req.body as unknown;
    if (Array.isArray(b)) b = b[0]; // one record per call; extra records are ignored
    if (b === undefined || b === null || typeof b !== 'object') {
      throw new SnError(400, 'Exception while reading request', 'The payload is not valid JSON.');
    }
    return b as Record<string, unknown>;
  }

  function respond(req: FastifyRequest, reply: FastifyReply, table: string, row: Row, status: number) {
    reply.code(status);
    if (String(req.headers['x-no-response-body']).toLowerCase() === 'true') return reply.send();
    return reply.send({ result: ctx.fmt.format(table, row, formatOpts(table, req.query as Query)) });
  }

  async function create(req: FastifyRequest, reply: FastifyReply) {
    const { actor, table } = await guard(req, reply, 'POST');
    const q = req.query as Query;
    const row = ctx.records.insert(table, body(req), actor, { inputDisplay: bool(q.sysparm_input_display_value) });
    reply.header('Location', `${ctx.baseUrl}/api/now/table/${table}/${row.sys_id}`);
    return respond(req, reply, table, row, 201);
  }

  async function update(req: FastifyRequest, reply: FastifyReply, method: string) {
    const { actor, table } = await guard(req, reply, method);
    const q = req.query as Query;
    const sysId = (req.params as { sys_id: string }).sys_id;
    const existing = ctx.store.get(table, sysId);
    if (!existing || !canRead(actor, table, existing)) throw notFound();
    const row = ctx.records.update(table, sysId, body(req), actor, {
      inputDisplay: bool(q.sysparm_input_display_value),
    });
    return respond(req, reply, table, row, 200);
  }

  async function remove(req: FastifyRequest, reply: FastifyReply) {
    const { actor, table } = await guard(req, reply, 'DELETE');
    const sysId = (req.params as { sys_id: string }).sys_id;
    const existing = ctx.store.get(table, sysId);
    if (!existing || !canRead(actor, table, existing)) throw notFound();
    ctx.records.delete(table, sysId, actor);
    return reply.code(204).send();
  }

  const override = (req: FastifyRequest) => String(req.headers['x-http-method-override'] ?? '').toUpperCase();

  for (const prefix of ['/api/now/table', '/api/now/:version/table']) {
    const checkVersion = (req: FastifyRequest) => {
      const v = (req.params as { version?: string }).version;
      if (v !== undefined && v !== 'v1' && v !== 'v2') throw noSuchResource();
    };
    app.get(`${prefix}/:table`, async (req, reply) => (checkVersion(req), list(req, reply)));
    app.post(`${prefix}/:table`, async (req, reply) => {
      checkVersion(req);
      return override(req) === 'GET' ? list(req, reply) : create(req, reply);
    });
    app.get(`${prefix}/:table/:sys_id`, async (req, reply) => (checkVersion(req), getOne(req, reply)));
    app.put(`${prefix}/:table/:sys_id`, async (req, reply) => (checkVersion(req), update(req, reply, 'PUT')));
    app.patch(`${prefix}/:table/:sys_id`, async (req, reply) => (checkVersion(req), update(req, reply, 'PATCH')));
    app.delete(`${prefix}/:table/:sys_id`, async (req, reply) => (checkVersion(req), remove(req, reply)));
    app.post(`${prefix}/:table/:sys_id`, async (req, reply) => {
      checkVersion(req);
      const m = override(req);
      if (m === 'PATCH' || m === 'PUT') return update(req, reply, 'POST');
      if (m === 'DELETE') return remove(req, reply);
      if (m === 'GET') return getOne(req, reply);
      throw new SnError(405, 'Method not Supported', 'POST method not supported for API');
    });
  }
}

/** `Link` header (§1.6): first/prev/next/last; none when everything fits on the first page. */
function linkHeader(
  baseUrl: string,
  url: string,
  total: number,
  offset: number,
  limit: number,
  noCount: boolean,
  pageLen: number,
): string | undefined {
  if (!noCount && offset === 0 && total <= limit) return undefined;
  const [path, search = ''] = url.split('?');
  const make = (o: number) => {
    const p = new URLSearchParams(search);
    p.set('sysparm_limit', String(limit));
    p.set('sysparm_offset', String(o));
    return `<${baseUrl}${path}?${p.toString()}>`;
  };
  const parts = [`${make(0)};rel="first"`];
  if (offset > 0) parts.push(`${make(Math.max(0, offset - limit))};rel="prev"`);
  if (noCount) {
    // Without a count the instance cannot know the last page; a full page suggests more.
    if (pageLen >= limit) parts.push(`${make(offset + limit)};rel="next"`);
    return parts.join(',');
  }
  if (offset + limit < total) parts.push(`${make(offset + limit)};rel="next"`);
  const last = total === 0 ? 0 : Math.floor((total - 1) / limit) * limit;
  parts.push(`${make(last)};rel="last"`);
  return parts.join(',');
}

/** Error handling for the whole server: ServiceNow's envelope for everything that goes wrong. */
export function registerErrorHandling(app: FastifyInstance): void {
  // Own JSON parser: an empty body is allowed (DELETE), invalid JSON gets the instance's 400.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, raw, done) => {
    const s = String(raw);
    if (s.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(s));
    } catch {
      done(new SnError(400, 'Exception while reading request', 'The payload is not valid JSON.'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, raw, done) => done(null, String(raw)));

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof SnError) {
      const limit = (err as SnError & { rateLimit?: number }).rateLimit;
      return reply.code(err.status).send(limit !== undefined ? rateLimitBody(limit) : err.body());
    }
    const e = err as { statusCode?: number; message?: string };
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
    return reply.code(status).send({
      error: { message: status === 500 ? 'Internal Server Error' : 'Bad Request', detail: e.message ?? '' },
      status: 'failure',
    });
  });
  // Paths no route serves get the instance's envelope, not Fastify's {"message":"Route … not found"}.
  app.setNotFoundHandler((_req, reply) => {
    const err = noSuchResource();
    return reply.code(err.status).send(err.body());
  });
}
