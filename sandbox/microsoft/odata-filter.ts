import { badRequest } from './graph-http.ts';

/**
 * OData `$filter` for the Graph twin: text → tokens → AST → predicate. Covers what Microsoft's
 * Graph examples use: `eq ne gt ge lt le in`, `and or not`, parentheses, `contains startswith
 * endswith tolower toupper`, lambdas `any`/`all`, and string, GUID, date, number, boolean and
 * null literals. Keywords and function names are matched case-insensitively, as Graph does
 * (its own docs write `startsWith(…) OR NOT(…)`). Errors carry ODL's messages.
 */

export type Comparison = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type Literal = string | number | boolean | null;

export type Expr =
  | { k: 'literal'; value: Literal }
  | { k: 'path'; segments: string[] }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'not'; operand: Expr }
  | { k: 'and' | 'or'; left: Expr; right: Expr }
  | { k: 'compare'; op: Comparison; left: Expr; right: Expr }
  | { k: 'in'; left: Expr; list: Expr[] }
  | { k: 'lambda'; fn: 'any' | 'all'; collection: string[]; variable: string; body: Expr };

const FUNCTIONS: Record<string, number> = { contains: 2, startswith: 2, endswith: 2, tolower: 1, toupper: 1 };
const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

type Token =
  | { t: 'punct'; v: '(' | ')' | ',' | '/' | ':'; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'literal'; v: Literal; at: number }
  | { t: 'word'; v: string; at: number };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?/;
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_$][\w.$]*/;

const syntaxError = (at: number, text: string) => badRequest(`Syntax error at position ${at} in '${text}'.`);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if (/\s/.test(c)) {
      i++;
    } else if ('(),/:'.includes(c)) {
      out.push({ t: 'punct', v: c as '(', at: i });
      i++;
    } else if (c === "'") {
      // '' inside a string literal is one quote.
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length)
          throw badRequest(`There is an unterminated string literal at position ${i} in '${text}'.`);
        if (text[j] === "'" && text[j + 1] === "'") {
          v += "'";
          j += 2;
        } else if (text[j] === "'") break;
        else v += text[j++];
      }
      out.push({ t: 'string', v, at: i });
      i = j + 1;
    } else if ((m = GUID.exec(rest))) {
      out.push({ t: 'literal', v: m[0].toLowerCase(), at: i });
      i += m[0].length;
    } else if ((m = DATE.exec(rest))) {
      out.push({ t: 'literal', v: m[0], at: i }); // compared as a date when the property holds one
      i += m[0].length;
    } else if ((m = NUMBER.exec(rest))) {
      out.push({ t: 'literal', v: Number(m[0]), at: i });
      i += m[0].length;
    } else if ((m = WORD.exec(rest))) {
      const lower = m[0].toLowerCase();
      if (lower === 'true' || lower === 'false') out.push({ t: 'literal', v: lower === 'true', at: i });
      else if (lower === 'null') out.push({ t: 'literal', v: null, at: i });
      else out.push({ t: 'word', v: m[0], at: i });
      i += m[0].length;
    } else {
      throw syntaxError(i, text);
    }
  }
  return out;
}

/** Parse a `$filter` value. Throws a 400 GraphFailure with ODL's message when it does not parse. */
export function parseFilter(text: string): Expr {
  const tokens = tokenize(text);
  let p = 0;
  const peek = () => tokens[p];
  const at = () => peek()?.at ?? text.length;
  const word = () => {
    const tok = peek();
    return tok?.t === 'word' ? tok.v.toLowerCase() : '';
  };
  const isWord = (w: string) => word() === w;
  const isPunct = (v: string) => peek()?.t === 'punct' && peek().v === v;
  const expect = (v: string) => {
    if (!isPunct(v)) throw syntaxError(at(), text);
    p++;
  };

  const orExpr = (): Expr => {
    let left = andExpr();
    while (isWord('or')) {
      p++;
      left = { k: 'or', left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): Expr => {
    let left = notExpr();
    while (isWord('and')) {
      p++;
      left = { k: 'and', left, right: notExpr() };
    }
    return left;
  };
  const notExpr = (): Expr => {
    if (isWord('not')) {
      p++;
      return { k: 'not', operand: notExpr() };
    }
    return comparison();
  };
  const comparison = (): Expr => {
    const left = primary();
    const w = word();
    if (COMPARISONS.has(w)) {
      p++;
      return { k: 'compare', op: w as Comparison, left, right: primary() };
    }
    if (w === 'in') {
      p++;
      expect('(');
      const list: Expr[] = [primary()];
      while (isPunct(',')) {
        p++;
        list.push(primary());
      }
      expect(')');
      return { k: 'in', left, list };
    }
    return left;
  };
  const primary = (): Expr => {
    const tok = peek();
    if (!tok) throw syntaxError(text.length, text);
    if (tok.t === 'punct' && tok.v === '(') {
      p++;
      const e = orExpr();
      expect(')');
      return e;
    }
    if (tok.t === 'punct') throw syntaxError(tok.at, text);
    p++;
    if (tok.t === 'string' || tok.t === 'literal') return { k: 'literal', value: tok.v };
    if (isPunct('(')) {
      const name = tok.v.toLowerCase();
      if (!(name in FUNCTIONS)) {
        throw badRequest(
          `An unknown function with name '${tok.v}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.`,
        );
      }
      p++;
      const args: Expr[] = isPunct(')') ? [] : [orExpr()];
      while (isPunct(',')) {
        p++;
        args.push(orExpr());
      }
      expect(')');
      if (args.length !== FUNCTIONS[name]) {
        throw badRequest(
          `No function signature for the function with name '${tok.v}' matches the specified arguments.`,
        );
      }
      return { k: 'call', name, args };
    }
    const segments = [tok.v];
    while (isPunct('/')) {
      p++;
      const seg = peek();
      if (seg?.t !== 'word') throw syntaxError(at(), text);
      p++;
      const lower = seg.v.toLowerCase();
      if ((lower === 'any' || lower === 'all') && isPunct('(')) {
        p++;
        const variable = peek();
        if (variable?.t !== 'word') throw syntaxError(at(), text);
        p++;
        expect(':');
        const body = orExpr();
        expect(')');
        return { k: 'lambda', fn: lower, collection: segments, variable: variable.v, body };
      }
      segments.push(seg.v);
    }
    return { k: 'path', segments };
  };

  const e = orExpr();
  if (p < tokens.length) throw syntaxError(at(), text);
  return e;
}

// ---- evaluation ------------------------------------------------------------------------------------------------

/** How a predicate reads a property path (`displayName`, `accessPackage/id`, a lambda variable's `c/issuer`). */
export type Resolve = (segments: string[]) => unknown;

const fold = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
const asTime = (v: unknown) => (typeof v === 'string' && DATE.test(v) ? Date.parse(v) : NaN);

/** Graph compares strings (and so GUIDs and enum members) without regard to case. */
function compare(op: Comparison, a: unknown, b: unknown): boolean {
  if (op === 'eq') return a == null || b == null ? a == b : fold(a) === fold(b);
  if (op === 'ne') return !compare('eq', a, b);
  if (a == null || b == null) return false;
  const ta = asTime(a);
  const tb = asTime(b);
  const [x, y] = !isNaN(ta) && !isNaN(tb) ? [ta, tb] : [fold(a) as never, fold(b) as never];
  return op === 'gt' ? x > y : op === 'ge' ? x >= y : op === 'lt' ? x < y : x <= y;
}

function value(e: Expr, resolve: Resolve): unknown {
  switch (e.k) {
    case 'literal':
      return e.value;
    case 'path':
      return resolve(e.segments);
    case 'call': {
      const args = e.args.map((a) => value(a, resolve));
      const s = args.map((a) => (typeof a === 'string' ? a.toLowerCase() : null));
      if (e.name === 'tolower') return typeof args[0] === 'string' ? args[0].toLowerCase() : null;
      if (e.name === 'toupper') return typeof args[0] === 'string' ? args[0].toUpperCase() : null;
      if (s[0] === null || s[1] === null) return false;
      if (e.name === 'contains') return s[0].includes(s[1]);
      if (e.name === 'startswith') return s[0].startsWith(s[1]);
      return s[0].endsWith(s[1]);
    }
    default:
      return matches(e, resolve);
  }
}

/** Whether the item behind `resolve` satisfies the filter. */
export function matches(e: Expr, resolve: Resolve): boolean {
  switch (e.k) {
    case 'and':
      return matches(e.left, resolve) && matches(e.right, resolve);
    case 'or':
      return matches(e.left, resolve) || matches(e.right, resolve);
    case 'not':
      return !matches(e.operand, resolve);
    case 'compare':
      return compare(e.op, value(e.left, resolve), value(e.right, resolve));
    case 'in': {
      const v = value(e.left, resolve);
      return e.list.some((x) => compare('eq', v, value(x, resolve)));
    }
    case 'lambda': {
      const items = resolve(e.collection);
      if (!Array.isArray(items)) return false;
      const test = (item: unknown) =>
        matches(e.body, (segs) => (segs[0] === e.variable ? readPath(item, segs.slice(1)) : resolve(segs)));
      return e.fn === 'any' ? items.some(test) : items.every(test);
    }
    default:
      return value(e, resolve) === true;
  }
}

/** Walk a plain value by property names, ignoring case (Graph resolves names case-insensitively). */
export function readPath(v: unknown, segments: string[]): unknown {
  let cur = v;
  for (const s of segments) {
    if (cur == null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const key = Object.keys(cur).find((k) => k.toLowerCase() === s.toLowerCase());
    cur = key === undefined ? undefined : (cur as Record<string, unknown>)[key];
  }
  return cur;
}

// ---- inspection ------------------------------------------------------------------------------------------------

/** One condition of a filter: which property (a lambda's as `otherMails/any`) and how it is tested. */
export interface Condition {
  property: string;
  op: Comparison | 'in' | 'contains' | 'startswith' | 'endswith' | 'tolower' | 'toupper' | 'bare';
  negated: boolean;
}

/** The conditions a filter is made of, for services (the directory) that index only some of them. */
export function conditions(e: Expr, negated = false, prefix?: { variable: string; path: string }): Condition[] {
  const name = (x: Expr): string | undefined => {
    if (x.k === 'path') {
      if (prefix && x.segments[0] === prefix.variable) return [prefix.path, ...x.segments.slice(1)].join('/');
      return x.segments.join('/');
    }
    if (x.k === 'call' && (x.name === 'tolower' || x.name === 'toupper')) return name(x.args[0]);
    return undefined;
  };
  const usesCase = (x: Expr) => x.k === 'call' && (x.name === 'tolower' || x.name === 'toupper');
  switch (e.k) {
    case 'and':
    case 'or':
      return [...conditions(e.left, negated, prefix), ...conditions(e.right, negated, prefix)];
    case 'not':
      return conditions(e.operand, true, prefix);
    case 'compare':
    case 'in': {
      const sides = e.k === 'in' ? [e.left] : [e.left, e.right];
      const side = sides.find((s) => name(s) !== undefined);
      if (!side) return [];
      const op = usesCase(side) ? (side as { name: 'tolower' }).name : e.k === 'in' ? 'in' : e.op;
      return [{ property: name(side)!, op, negated }];
    }
    case 'call': {
      const target = name(e.args[0]);
      if (!target) return [];
      return [{ property: target, op: usesCase(e.args[0]) ? 'tolower' : (e.name as Condition['op']), negated }];
    }
    case 'lambda':
      return conditions(e.body, negated, { variable: e.variable, path: `${e.collection.join('/')}/${e.fn}` });
    case 'path':
      return [{ property: name(e)!, op: 'bare', negated }];
    default:
      return [];
  }
}

/** Every property path a filter reads (lambda variables excluded), to check them against the schema. */
export function paths(e: Expr, variables: string[] = []): string[][] {
  switch (e.k) {
    case 'path':
      return variables.includes(e.segments[0]) ? [] : [e.segments];
    case 'call':
      return e.args.flatMap((a) => paths(a, variables));
    case 'not':
      return paths(e.operand, variables);
    case 'and':
    case 'or':
    case 'compare':
      return [...paths(e.left, variables), ...paths(e.right, variables)];
    case 'in':
      return [...paths(e.left, variables), ...e.list.flatMap((x) => paths(x, variables))];
    case 'lambda':
      return [e.collection, ...paths(e.body, [...variables, e.variable])];
    default:
      return [];
  }
}
