import { fieldPath, snDate } from './tables.ts';
import type { Row } from './store.ts';

/**
 * Encoded query parser and evaluator (fact sheet §1.3).
 *
 * Grammar: terms `<field><OP><value>` joined by `^` (AND) and `^OR` (OR, binds tighter than AND:
 * `a^b^ORc` = a AND (b OR c)), `^NQ` starts a new OR-ed block, `^ORDERBY<f>` / `^ORDERBYDESC<f>`
 * sort, `^EQ` ends the query, `^^` is a literal caret. Field names are lower-case, operators
 * upper-case, so `short_descriptionLIKEvpn` splits at the first upper-case operator token.
 *
 * Like the real instance, a term with an unknown field, unknown operator or an unusable value is
 * silently dropped (so `bogus=1` returns every row) unless `glide.invalid_query.returns_no_rows`
 * is true, in which case the whole query matches nothing.
 *
 * Matching: `=`, `!=`, `IN` compare exactly; LIKE/STARTSWITH/ENDSWITH ignore case (as the real
 * database collation does); `<`/`>`/BETWEEN compare numerically when both sides are numbers,
 * otherwise as strings (dates are in the sortable `YYYY-MM-DD HH:MM:SS` form); an empty field
 * never satisfies an ordering comparison (SQL NULL semantics).
 */

export interface QueryContext {
  table: string;
  /** Stored value at a (possibly dot-walked) path. */
  value(row: Row, path: string): string;
  /** Display value at a path (used by name=value pairs, which accept display values). */
  display(row: Row, path: string): string;
  now(): number;
  userSysId: string;
}

export interface CompiledQuery {
  match: (row: Row) => boolean;
  /** No condition at all: every row matches (lets the caller skip the scan). */
  matchAll: boolean;
  order: { field: string; desc: boolean }[];
  /** At least one term was invalid (and dropped). */
  invalid: boolean;
  /** Every matching row has exactly this correlation_id (an AND-ed `correlation_id=` term): an index can narrow the scan. */
  correlationId?: string;
}

type Pred = (row: Row) => boolean;

const OPERATORS = [
  'NOT LIKE',
  'NOT IN',
  'ISNOTEMPTY',
  'ISEMPTY',
  'EMPTYSTRING',
  'ANYTHING',
  'STARTSWITH',
  'ENDSWITH',
  'LIKE',
  'NSAMEAS',
  'SAMEAS',
  'BETWEEN',
  'NOTON',
  'ON',
  'GT_OR_EQUALS_FIELD',
  'LT_OR_EQUALS_FIELD',
  'GT_FIELD',
  'LT_FIELD',
  'RELATIVEGE',
  'RELATIVEGT',
  'RELATIVELE',
  'RELATIVELT',
  'IN',
  '!=',
  '<=',
  '>=',
  '=',
  '<',
  '>',
  '!*',
  '*',
  '%',
];
const ALIASES: Record<string, string> = { '*': 'LIKE', '!*': 'NOT LIKE', '%': 'ENDSWITH' };
const FIELD_RE = /^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*/;
const NUM_RE = /^-?\d+(?:\.\d+)?$/;

/** Split on `^`, keeping `^^` as a literal caret inside a token. */
function tokens(q: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < q.length; i++) {
    if (q[i] === '^') {
      if (q[i + 1] === '^') {
        cur += '^';
        i++;
        continue;
      }
      out.push(cur);
      cur = '';
    } else cur += q[i];
  }
  out.push(cur);
  return out;
}

export function compare(a: string, b: string): number {
  if (NUM_RE.test(a) && NUM_RE.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

const DAY = 86_400_000;
const startOfDay = (ms: number) => Math.floor(ms / DAY) * DAY;

/** `javascript:gs.daysAgoStart(3)` etc. → a canonical date string; undefined if unsupported. */
export function evalValue(raw: string, ctx: QueryContext): string | undefined {
  const m = /^javascript:\s*gs\.(\w+)\(([^)]*)\)\s*;?\s*$/.exec(raw);
  if (!m) return raw.startsWith('javascript:') ? undefined : raw;
  const args = m[2]
    .split(',')
    .map((a) => a.trim().replace(/^['"]|['"]$/g, ''))
    .filter((a) => a !== '');
  const n = Number(args[0] ?? 0);
  const now = ctx.now();
  const MIN = 60_000;
  const HOUR = 3_600_000;
  switch (m[1]) {
    case 'daysAgoStart':
      return snDate(startOfDay(now - n * DAY));
    case 'daysAgoEnd':
      return snDate(startOfDay(now - n * DAY) + DAY - 1000);
    case 'daysAgo':
      return snDate(now - n * DAY);
    case 'hoursAgoStart':
      return snDate(Math.floor((now - n * HOUR) / HOUR) * HOUR);
    case 'hoursAgoEnd':
      return snDate(Math.floor((now - n * HOUR) / HOUR) * HOUR + HOUR - 1000);
    case 'hoursAgo':
      return snDate(now - n * HOUR);
    case 'minutesAgoStart':
      return snDate(Math.floor((now - n * MIN) / MIN) * MIN);
    case 'minutesAgoEnd':
      return snDate(Math.floor((now - n * MIN) / MIN) * MIN + MIN - 1000);
    case 'minutesAgo':
      return snDate(now - n * MIN);
    case 'beginningOfToday':
      return snDate(startOfDay(now));
    case 'endOfToday':
      return snDate(startOfDay(now) + DAY - 1000);
    case 'beginningOfYesterday':
      return snDate(startOfDay(now) - DAY);
    case 'endOfYesterday':
      return snDate(startOfDay(now) - 1000);
    case 'nowDateTime':
    case 'now':
      return snDate(now);
    case 'getUserID':
      return ctx.userSysId;
    case 'dateGenerate': {
      const time = args[1] === 'start' ? '00:00:00' : args[1] === 'end' ? '23:59:59' : (args[1] ?? '00:00:00');
      return `${args[0]} ${time}`;
    }
    default:
      return undefined;
  }
}

function relative(op: string, value: string, ctx: QueryContext): Pred | undefined {
  // RELATIVEGT@hour@ago@3 → field > now - 3 hours
  const [, unit, dir, amount] = value.split('@');
  const unitMs: Record<string, number> = {
    minute: 60_000,
    hour: 3_600_000,
    day: DAY,
    week: 7 * DAY,
    month: 30 * DAY,
    year: 365 * DAY,
  };
  if (!unitMs[unit] || !NUM_RE.test(amount ?? '') || (dir !== 'ago' && dir !== 'ahead')) return undefined;
  const t = ctx.now() + (dir === 'ago' ? -1 : 1) * Number(amount) * unitMs[unit];
  const bound = snDate(t);
  const cmp = op.slice('RELATIVE'.length);
  return (row) => {
    const v = row.__v ?? '';
    return v !== '' && check(cmp, compare(v, bound));
  };
}

function check(cmp: string, c: number): boolean {
  return cmp === 'GT' ? c > 0 : cmp === 'GE' ? c >= 0 : cmp === 'LT' ? c < 0 : c <= 0;
}

/** Compile one term; undefined = invalid (dropped). */
function compileTerm(term: string, ctx: QueryContext, byDisplay: boolean): Pred | undefined {
  const fm = FIELD_RE.exec(term);
  if (!fm) return undefined;
  const field = fm[0];
  if (!fieldPath(ctx.table, field)) return undefined;
  const rest = term.slice(field.length);
  const opTok = OPERATORS.find((o) => rest.startsWith(o));
  if (!opTok) return undefined;
  const op = ALIASES[opTok] ?? opTok;
  const rawValue = rest.slice(opTok.length);
  const get = field.includes('.') ? (r: Row) => ctx.value(r, field) : (r: Row) => r[field] ?? '';

  if (op.startsWith('RELATIVE')) {
    const p = relative(op, rawValue, ctx);
    if (!p) return undefined;
    return (row) => p({ __v: get(row) });
  }
  if (op.endsWith('_FIELD') || op === 'SAMEAS' || op === 'NSAMEAS') {
    const other = rawValue;
    if (!fieldPath(ctx.table, other)) return undefined;
    const getOther = (r: Row) => ctx.value(r, other);
    return (row) => {
      const a = get(row);
      const b = getOther(row);
      if (op === 'SAMEAS') return a === b;
      if (op === 'NSAMEAS') return a !== b;
      if (a === '' || b === '') return false;
      const c = compare(a, b);
      return op === 'GT_FIELD' ? c > 0 : op === 'LT_FIELD' ? c < 0 : op === 'GT_OR_EQUALS_FIELD' ? c >= 0 : c <= 0;
    };
  }

  const parts = op === 'BETWEEN' || op === 'ON' || op === 'NOTON' ? rawValue.split('@') : [rawValue];
  const values = parts.map((p) => evalValue(p, ctx));
  if (values.some((v) => v === undefined)) return undefined;
  const value = values[0]!;
  const lower = value.toLowerCase();

  switch (op) {
    case '=':
      if (byDisplay) return (row) => get(row) === value || ctx.display(row, field) === value;
      return (row) => get(row) === value;
    case '!=':
      return (row) => get(row) !== value;
    case 'LIKE':
      return (row) => get(row).toLowerCase().includes(lower);
    case 'NOT LIKE':
      return (row) => !get(row).toLowerCase().includes(lower);
    case 'STARTSWITH':
      return (row) => get(row).toLowerCase().startsWith(lower);
    case 'ENDSWITH':
      return (row) => get(row).toLowerCase().endsWith(lower);
    case 'IN': {
      const set = new Set(value.split(','));
      return (row) => set.has(get(row));
    }
    case 'NOT IN': {
      const set = new Set(value.split(','));
      return (row) => !set.has(get(row));
    }
    case 'ISEMPTY':
    case 'EMPTYSTRING':
      return (row) => get(row) === '';
    case 'ISNOTEMPTY':
      return (row) => get(row) !== '';
    case 'ANYTHING':
      return () => true;
    case '<':
      return (row) => {
        const v = get(row);
        return v !== '' && compare(v, value) < 0;
      };
    case '<=':
      return (row) => {
        const v = get(row);
        return v !== '' && compare(v, value) <= 0;
      };
    case '>':
      return (row) => {
        const v = get(row);
        return v !== '' && compare(v, value) > 0;
      };
    case '>=':
      return (row) => {
        const v = get(row);
        return v !== '' && compare(v, value) >= 0;
      };
    case 'BETWEEN':
    case 'ON':
    case 'NOTON': {
      // BETWEENa@b; ON<label>@<start>@<end>
      const [lo, hi] = op === 'BETWEEN' ? [values[0]!, values[1]] : [values[1], values[2]];
      if (lo === undefined || hi === undefined) return undefined;
      const inside = (row: Row) => {
        const v = get(row);
        return v !== '' && compare(v, lo) >= 0 && compare(v, hi) <= 0;
      };
      return op === 'NOTON' ? (row) => !inside(row) : inside;
    }
    default:
      return undefined;
  }
}

/**
 * Compile `sysparm_query` (or name=value pairs, given as already-built `field=value` terms with
 * `byDisplay` so display values match too).
 */
export function compileQuery(query: string, ctx: QueryContext, byDisplay = false): CompiledQuery {
  const blocks: Pred[][][] = [[]];
  const order: { field: string; desc: boolean }[] = [];
  let invalid = false;
  const correlationTerms = new Map<Pred[][], { group: Pred[]; value: string }>();
  const q = query.trim();
  for (let tok of q === '' ? [] : tokens(q)) {
    if (tok === '' || tok === 'EQ') continue;
    if (tok.startsWith('ORDERBYDESC') || tok.startsWith('ORDERBY')) {
      const desc = tok.startsWith('ORDERBYDESC');
      const field = tok.slice(desc ? 11 : 7);
      if (fieldPath(ctx.table, field)) order.push({ field, desc });
      else invalid = true;
      continue;
    }
    if (tok.startsWith('GROUPBY')) continue;
    let isOr = false;
    if (tok.startsWith('NQ')) {
      blocks.push([]);
      tok = tok.slice(2);
    } else if (tok.startsWith('OR')) {
      isOr = true;
      tok = tok.slice(2);
    }
    const pred = compileTerm(tok, ctx, byDisplay);
    if (!pred) {
      invalid = true;
      continue;
    }
    const block = blocks[blocks.length - 1];
    if (isOr && block.length > 0) block[block.length - 1].push(pred);
    else block.push([pred]);
    if (!isOr && !byDisplay && tok.startsWith('correlation_id='))
      correlationTerms.set(block, {
        group: block[block.length - 1],
        value: evalValue(tok.slice('correlation_id='.length), ctx)!,
      });
  }
  const live = blocks.filter((b) => b.length > 0);
  // Usable as an index only if it is the whole query's single block and nothing was OR-ed onto it.
  const eq = live.length === 1 ? correlationTerms.get(live[0]) : undefined;
  const correlationId = eq && eq.group.length === 1 ? eq.value : undefined;
  const matchAll = live.length === 0;
  const match: Pred = matchAll
    ? () => true
    : (row) => live.some((groups) => groups.every((ors) => (ors.length === 1 ? ors[0](row) : ors.some((p) => p(row)))));
  return { match, matchAll, order, invalid, correlationId };
}

/** Sort rows by ORDERBY clauses (stable: ties keep insertion order; empty values first). */
export function sortRows(rows: Row[], order: { field: string; desc: boolean }[], ctx: QueryContext): Row[] {
  if (order.length === 0) return rows;
  const keyed = rows.map((r) => ({ r, k: order.map((o) => ctx.value(r, o.field)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < order.length; i++) {
      const c = compare(a.k[i], b.k[i]);
      if (c !== 0) return order[i].desc ? -c : c;
    }
    return 0;
  });
  return keyed.map((x) => x.r);
}
