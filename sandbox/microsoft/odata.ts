import type { FastifyRequest } from 'fastify';
import { GRAPH_TYPES, type GraphNavigation } from './graph-schema.ts';
import { badRequest } from './graph-http.ts';
import { matches, parseFilter, paths, readPath, type Expr } from './odata-filter.ts';

/**
 * OData query options on the Graph twin's entities, checked against the v1.0 schema
 * (graph-schema.ts): `$select`, `$expand` (nested `$select;$expand;$filter;$top`), `$filter`,
 * `$top`/`$skiptoken` paging and `$count`. Navigation properties are in a body only when expanded.
 */

/** How the sandbox turns its documents of one entity type into Graph JSON. */
export interface EntityKind<D = any> {
  /** The CSDL entity type (`accessPackage`). */
  type: string;
  /** The entity's properties; navigation properties found here are dropped unless expanded. */
  shape(doc: D): Record<string, unknown>;
  /** The navigation properties the sandbox can follow, each giving the related document(s). */
  nav?: Record<string, (doc: D) => Related>;
  /** `$select` keeps `id` even when not selected (entitlement management does; the directory does not). */
  selectKeepsId?: boolean;
  /** Without `$select`, only these properties are returned (users: Graph's "limited set"). */
  defaultProperties?: readonly string[];
  /** The same per document, for a collection of several types (a group's members). */
  defaultPropertiesOf?(doc: D): readonly string[] | undefined;
}
export interface Related {
  kind: EntityKind;
  /** One document or null for a single-valued navigation property, a list for a collection. */
  value: unknown;
}

export interface QueryOptions {
  select?: string[];
  expand: ExpandItem[];
  filter?: Expr;
  top?: number;
}
export interface ExpandItem {
  name: string;
  navigation: GraphNavigation;
  options: QueryOptions;
}

const qualified = (type: string) => `microsoft.graph.${type}`;
const noProperty = (name: string, type: string) =>
  badRequest(`Could not find a property named '${name}' on type '${qualified(type)}'.`);

/** A property or navigation property of `type` by name, ignoring case as Graph does. */
export function member(type: string, name: string): { name: string; navigation?: GraphNavigation } | undefined {
  const t = GRAPH_TYPES[type];
  if (!t) return { name }; // a type outside the table (not served): nothing to check against
  const lower = name.toLowerCase();
  const prop = t.properties.find((p) => p.toLowerCase() === lower);
  if (prop) return { name: prop };
  const nav = Object.keys(t.navigation).find((n) => n.toLowerCase() === lower);
  if (nav) return { name: nav, navigation: t.navigation[nav] };
  // A directoryObject collection holds users, groups, …: `$select=displayName` names their properties.
  for (const d of t.derivedTypes ?? []) {
    const found = member(d, name);
    if (found && !found.navigation) return found;
  }
  return undefined;
}

/** Split on `sep` outside parentheses and quotes (`a($select=x,y),b` → `a($select=x,y)`, `b`). */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((x) => x.trim()).filter(Boolean);
}

function parseSelect(text: string, type: string): string[] | undefined {
  const names = splitTop(text, ',');
  if (names.includes('*')) return undefined;
  return names.map((n) => {
    const found = member(type, n);
    if (!found) throw noProperty(n, type);
    return found.name;
  });
}

function parseExpand(text: string, type: string): ExpandItem[] {
  const items: ExpandItem[] = [];
  for (const part of splitTop(text, ',')) {
    const m = /^([^(]+?)\s*(?:\((.*)\))?$/s.exec(part);
    if (!m) throw badRequest(`Syntax error at position 0 in '${text}'.`);
    const [, name, inner] = m;
    const all = name === '*' ? Object.keys(GRAPH_TYPES[type]?.navigation ?? {}) : [name];
    for (const n of all) {
      const found = member(type, n);
      if (!found) throw noProperty(n, type);
      if (!found.navigation) {
        throw badRequest(
          `Property '${found.name}' on type '${qualified(type)}' is not a navigation property or complex property. Only navigation properties can be expanded.`,
        );
      }
      const nested: Record<string, string> = {};
      for (const opt of inner ? splitTop(inner, ';') : []) {
        const eq = opt.indexOf('=');
        const key = opt.slice(0, eq).trim().toLowerCase();
        if (eq < 0 || !['$select', '$expand', '$filter', '$top'].includes(key))
          throw badRequest(`The query option '${opt.slice(0, eq < 0 ? undefined : eq)}' is not supported in $expand.`);
        nested[key] = opt.slice(eq + 1);
      }
      items.push({
        name: found.name,
        navigation: found.navigation,
        options: parseOptions(nested, found.navigation.type),
      });
    }
  }
  return items;
}

/** Check every property path a filter reads against the schema (first segment, and through navigations). */
function checkFilterPaths(filter: Expr, type: string): void {
  for (const segs of paths(filter)) {
    let t: string | undefined = type;
    for (let i = 0; i < segs.length && t && GRAPH_TYPES[t]; i++) {
      const found = member(t, segs[i]);
      if (!found) throw noProperty(segs[i], t);
      if (!found.navigation) break; // a complex property: its members are not in the table
      if (found.navigation.many && i < segs.length - 1) {
        throw badRequest(
          `The parent value for a property access of a property '${segs[i + 1]}' is not a single value. Property access can only be applied to a single value.`,
        );
      }
      t = found.navigation.type;
    }
  }
}

function parseTop(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`Invalid value '${v}' for $top query option found.`);
  return n;
}

/** `$select`, `$expand`, `$filter` and `$top` of a request (or of one `$expand` item), checked against `type`. */
export function parseOptions(q: Record<string, string | undefined>, type: string): QueryOptions {
  const filter = q.$filter?.trim() ? parseFilter(q.$filter) : undefined;
  if (filter) checkFilterPaths(filter, type);
  return {
    select: q.$select?.trim() ? parseSelect(q.$select, type) : undefined,
    expand: q.$expand?.trim() ? parseExpand(q.$expand, type) : [],
    filter,
    top: parseTop(q.$top),
  };
}

// ---- rendering -------------------------------------------------------------------------------------------------

function related(kind: EntityKind, doc: unknown, name: string): Related {
  const follow = kind.nav?.[name];
  if (follow) return follow(doc);
  // A relationship the sandbox does not model (resource roles, incompatible groups…) is empty.
  const nav = GRAPH_TYPES[kind.type].navigation[name];
  return { kind: { type: nav.type, shape: () => ({}) }, value: nav.many ? [] : null };
}

/** How `$filter` reads a document: its properties, and through navigation properties the related ones. */
export function resolverOf(kind: EntityKind, doc: unknown) {
  let shaped: Record<string, unknown> | undefined;
  return (segs: string[]): unknown => {
    const found = member(kind.type, segs[0]);
    if (found?.navigation) {
      const r = related(kind, doc, found.name);
      // A collection is only read by a lambda (checkFilterPaths refuses `collection/property`).
      if (Array.isArray(r.value)) return r.value.map((d) => r.kind.shape(d));
      if (segs.length === 1 || r.value == null) return r.value ?? null;
      return resolverOf(r.kind, r.value)(segs.slice(1));
    }
    shaped ??= kind.shape(doc);
    return readPath(shaped, segs) ?? null;
  };
}

export function filterDocs<D>(kind: EntityKind<D>, docs: D[], filter: Expr | undefined): D[] {
  return filter ? docs.filter((d) => matches(filter, resolverOf(kind, d))) : docs;
}

/** One entity as Graph JSON under the query options: selected properties, expanded relationships. */
export function render(kind: EntityKind, doc: unknown, o: QueryOptions): Record<string, unknown> {
  const full = kind.shape(doc);
  const navigation = GRAPH_TYPES[kind.type]?.navigation ?? {};
  const out: Record<string, unknown> = {};
  const wanted = new Set(o.select ?? kind.defaultPropertiesOf?.(doc) ?? kind.defaultProperties ?? Object.keys(full));
  for (const [k, v] of Object.entries(full)) {
    if (k in navigation) continue;
    if (k.startsWith('@odata.') || wanted.has(k) || (k === 'id' && o.select && kind.selectKeepsId)) out[k] = v;
  }
  for (const s of o.select ?? []) if (!(s in out) && !(s in navigation)) out[s] = null;
  for (const e of o.expand) {
    const r = related(kind, doc, e.name);
    if (e.navigation.many) {
      const list = filterDocs(r.kind, Array.isArray(r.value) ? r.value : [], e.options.filter);
      out[e.name] = list.slice(0, e.options.top ?? list.length).map((d) => render(r.kind, d, e.options));
    } else {
      out[e.name] = r.value == null ? null : render(r.kind, r.value, e.options);
    }
  }
  return out;
}

// ---- responses -------------------------------------------------------------------------------------------------

export function apiVersion(req: FastifyRequest): 'v1.0' | 'beta' {
  return req.url.startsWith('/beta/') ? 'beta' : 'v1.0';
}

/** The context URL's select list: `displayName,assignmentPolicies(displayName)`, an expansion without one as `name()`. */
function selectList(o: QueryOptions): string {
  return [...(o.select ?? []), ...o.expand.map((e) => `${e.name}(${selectList(e.options)})`)].join(',');
}

/** `…/$metadata#users(displayName,mail)`: the select list goes in the context (OData JSON format §10). */
function contextUrl(req: FastifyRequest, baseUrl: string, path: string, o: QueryOptions): string {
  const list = selectList(o);
  return `${baseUrl}/${apiVersion(req)}/$metadata#${path}${list ? `(${list})` : ''}`;
}

const query = (req: FastifyRequest) => (req.query ?? {}) as Record<string, string | undefined>;

/** A single entity: `@odata.context` (`…/$entity`) and the rendered document. */
export function entityResponse(req: FastifyRequest, baseUrl: string, path: string, kind: EntityKind, doc: unknown) {
  const o = parseOptions(query(req), kind.type);
  return { '@odata.context': `${contextUrl(req, baseUrl, path, o)}/$entity`, ...render(kind, doc, o) };
}

export interface ListOptions {
  /** Whether `$count=true` is answered (the directory needs `ConsistencyLevel: eventual` as well). */
  count?: boolean;
  /** Parsed options, when the caller already checked them (the directory's filter rules). */
  options?: QueryOptions;
}

/**
 * One page of a collection: filter, then `$top` (default 100, at most 999) from the `$skiptoken`
 * offset, with `@odata.nextLink` when more remain.
 */
export function listResponse<D>(
  req: FastifyRequest,
  baseUrl: string,
  path: string,
  kind: EntityKind<D>,
  docs: D[],
  lo: ListOptions = {},
) {
  const q = query(req);
  const o = lo.options ?? parseOptions(q, kind.type);
  const items = filterDocs(kind, docs, o.filter);
  const top = Math.min(Math.max(o.top || 100, 1), 999);
  const skip = q.$skiptoken
    ? Number(
        Buffer.from(q.$skiptoken, 'base64url')
          .toString('utf8')
          .replace(/^skip:/, ''),
      ) || 0
    : 0;
  const out: Record<string, unknown> = { '@odata.context': contextUrl(req, baseUrl, path, o) };
  if (q.$count === 'true' && (lo.count ?? true)) out['@odata.count'] = items.length;
  if (skip + top < items.length) {
    const u = new URL(req.url, baseUrl);
    u.searchParams.set('$top', String(top));
    u.searchParams.set('$skiptoken', Buffer.from(`skip:${skip + top}`).toString('base64url'));
    out['@odata.nextLink'] = u.toString();
  }
  out.value = items.slice(skip, skip + top).map((d) => render(kind, d, o));
  return out;
}
