/**
 * ServiceNow encoded-query builder (`field<OP>value` terms joined by `^`, `^OR`, `^NQ`).
 *
 * ServiceNow has no escape character and silently drops terms it cannot parse — a broken term can
 * turn a lookup into "every row" (kibana#217004, alertmanager-webhook-servicenow#31). So this
 * builder refuses instead of guessing: values with `^` or line breaks, empty values for a
 * comparison, unknown field names, dangling `^OR`/`^NQ`, and an empty query all throw.
 */

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

/** Field names: letters, digits, `_`, with `.` for dot-walking (`caller_id.email`). */
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export function checkField(field: string): string {
  if (typeof field !== 'string' || !FIELD.test(field))
    throw new QueryError(`invalid field name ${JSON.stringify(field)}`);
  return field;
}

/** A value for one term. Empty, `^`, line breaks and `javascript:` (server-side script) are refused. */
export function checkValue(field: string, value: unknown, extraForbidden = ''): string {
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value === 'boolean') value = String(value);
  if (typeof value !== 'string') throw new QueryError(`value for ${field} must be a string, got ${typeof value}`);
  if (value.trim() === '')
    throw new QueryError(`refusing an empty value for ${field}: it would match unrelated records`);
  if (/[\^\r\n]/.test(value)) {
    throw new QueryError(`value for ${field} contains '^' or a line break; ServiceNow queries cannot escape it`);
  }
  for (const ch of extraForbidden) {
    if (value.includes(ch))
      throw new QueryError(`value for ${field} contains '${ch}', which this operator uses as a separator`);
  }
  if (/^\s*javascript:/i.test(value))
    throw new QueryError(`value for ${field} starts with 'javascript:'; use .script() on purpose`);
  return value;
}

type Joiner = '^' | '^OR' | '^NQ';

export class Query {
  private readonly parts: string[] = [];
  private readonly order: string[] = [];
  private pending: Joiner | undefined;
  private terms = 0;

  // ---- joiners ------------------------------------------------------------------------------
  /** AND (the default between terms; explicit for legibility). */
  and(): this {
    return this.join('^');
  }
  /** The next term is OR-ed with the previous one (`^OR`). */
  or(): this {
    return this.join('^OR');
  }
  /** Start a new OR-ed query block (`^NQ`). */
  nq(): this {
    return this.join('^NQ');
  }

  // ---- equality / string ----------------------------------------------------------------------
  eq(field: string, value: string | number | boolean): this {
    return this.term(field, '=', value);
  }
  ne(field: string, value: string | number | boolean): this {
    return this.term(field, '!=', value);
  }
  startsWith(field: string, value: string): this {
    return this.term(field, 'STARTSWITH', value);
  }
  endsWith(field: string, value: string): this {
    return this.term(field, 'ENDSWITH', value);
  }
  /** Contains. */
  like(field: string, value: string): this {
    return this.term(field, 'LIKE', value);
  }
  notLike(field: string, value: string): this {
    return this.term(field, 'NOT LIKE', value);
  }
  isEmpty(field: string): this {
    return this.bare(field, 'ISEMPTY');
  }
  isNotEmpty(field: string): this {
    return this.bare(field, 'ISNOTEMPTY');
  }
  emptyString(field: string): this {
    return this.bare(field, 'EMPTYSTRING');
  }
  anything(field: string): this {
    return this.bare(field, 'ANYTHING');
  }
  sameAs(field: string, otherField: string): this {
    return this.raw(`${checkField(field)}SAMEAS${checkField(otherField)}`);
  }
  notSameAs(field: string, otherField: string): this {
    return this.raw(`${checkField(field)}NSAMEAS${checkField(otherField)}`);
  }

  // ---- ordering comparisons (numbers, strings, dates as 'YYYY-MM-DD HH:MM:SS' UTC) ------------
  lt(field: string, value: string | number): this {
    return this.term(field, '<', value);
  }
  lte(field: string, value: string | number): this {
    return this.term(field, '<=', value);
  }
  gt(field: string, value: string | number): this {
    return this.term(field, '>', value);
  }
  gte(field: string, value: string | number): this {
    return this.term(field, '>=', value);
  }
  between(field: string, from: string | number, to: string | number): this {
    checkField(field);
    return this.raw(`${field}BETWEEN${checkValue(field, from, '@')}@${checkValue(field, to, '@')}`);
  }
  gtField(field: string, other: string): this {
    return this.raw(`${checkField(field)}GT_FIELD${checkField(other)}`);
  }
  ltField(field: string, other: string): this {
    return this.raw(`${checkField(field)}LT_FIELD${checkField(other)}`);
  }
  gteField(field: string, other: string): this {
    return this.raw(`${checkField(field)}GT_OR_EQUALS_FIELD${checkField(other)}`);
  }
  lteField(field: string, other: string): this {
    return this.raw(`${checkField(field)}LT_OR_EQUALS_FIELD${checkField(other)}`);
  }

  // ---- lists --------------------------------------------------------------------------------
  in(field: string, values: Iterable<string | number>): this {
    return this.list(field, 'IN', values);
  }
  notIn(field: string, values: Iterable<string | number>): this {
    return this.list(field, 'NOT IN', values);
  }

  // ---- references / dates -------------------------------------------------------------------
  dynamic(field: string, filterSysId: string): this {
    return this.term(field, 'DYNAMIC', filterSysId);
  }
  /** `RELATIVEGT@hour@ago@1` style: `field` newer than `amount` `unit`s ago. */
  relative(
    field: string,
    op: 'RELATIVEGT' | 'RELATIVELT',
    unit: 'minute' | 'hour' | 'dayofweek' | 'month' | 'year',
    when: 'ago' | 'ahead',
    amount: number,
  ): this {
    if (!Number.isInteger(amount) || amount < 0)
      throw new QueryError(`relative amount for ${field} must be a non-negative integer`);
    return this.raw(`${checkField(field)}${op}@${unit}@${when}@${amount}`);
  }
  /** A server-side script value (`javascript:gs.daysAgoStart(0)`), used on purpose only. */
  script(field: string, op: '=' | '!=' | '<' | '<=' | '>' | '>=', expression: string): this {
    if (!/^javascript:[^^\r\n]+$/.test(expression))
      throw new QueryError(`script value for ${field} must be 'javascript:…' without '^'`);
    return this.raw(`${checkField(field)}${op}${expression}`);
  }

  // ---- ordering -----------------------------------------------------------------------------
  orderBy(field: string): this {
    this.order.push(`ORDERBY${checkField(field)}`);
    return this;
  }
  orderByDesc(field: string): this {
    this.order.push(`ORDERBYDESC${checkField(field)}`);
    return this;
  }

  // ---- output -------------------------------------------------------------------------------
  /**
   * The encoded query. Throws when there is no condition (a lookup without one returns every row)
   * unless `allowEmpty` is set for a deliberate full-table listing.
   */
  build(opts: { allowEmpty?: boolean } = {}): string {
    if (this.pending && this.pending !== '^') throw new QueryError(`query ends with a dangling '${this.pending}'`);
    if (this.terms === 0 && !opts.allowEmpty) throw new QueryError('refusing to build an empty query');
    return [this.parts.join(''), ...this.order].filter(Boolean).join('^');
  }

  toString(): string {
    return this.build({ allowEmpty: true });
  }

  // ---- internals ----------------------------------------------------------------------------
  private join(j: Joiner): this {
    if (this.terms === 0) throw new QueryError(`'${j}' needs a term before it`);
    if (this.pending && this.pending !== '^') throw new QueryError(`'${j}' cannot follow '${this.pending}'`);
    this.pending = j;
    return this;
  }

  private term(field: string, op: string, value: unknown): this {
    checkField(field);
    return this.raw(`${field}${op}${checkValue(field, value)}`);
  }

  private bare(field: string, op: string): this {
    return this.raw(`${checkField(field)}${op}`);
  }

  private list(field: string, op: string, values: Iterable<string | number>): this {
    checkField(field);
    const vs = [...values].map((v) => checkValue(field, v, ','));
    if (vs.length === 0) throw new QueryError(`refusing an empty ${op} list for ${field}`);
    return this.raw(`${field}${op}${vs.join(',')}`);
  }

  private raw(term: string): this {
    const j = this.terms === 0 ? '' : (this.pending ?? '^');
    this.parts.push(j + term);
    this.terms++;
    this.pending = undefined;
    return this;
  }
}

/** Start an encoded query: `q().eq('correlation_id', id).orderBy('sys_created_on').build()`. */
export function q(): Query {
  return new Query();
}

/** `YYYY-MM-DD HH:MM:SS` in UTC — the format of ServiceNow date-time values (display_value=false). */
export function formatSnDate(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new QueryError(`invalid date ${ms}`);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** Parse a ServiceNow UTC date-time (`YYYY-MM-DD HH:MM:SS`) to epoch ms; undefined if not one. */
export function parseSnDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value);
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}
