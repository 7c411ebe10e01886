import { HttpError } from '../../engine/errors.ts';
import { HttpClient, type AuthProvider, type OutboundCall, type OutboundRecorder } from '../../connectors/http.ts';
import { checkField, Query, QueryError } from './query.ts';

/**
 * Thin ServiceNow Table API client (`/api/now/table/{table}`): `{result}` envelope, string values,
 * reference fields as `{link,value}` (or plain sys_ids with `excludeReferenceLink`), display values,
 * and paging by `Link` / `X-Total-Count` as a streamed async iterator.
 */

/** A field value as the Table API returns it. */
export type SnValue = string | { value?: string; link?: string; display_value?: string };
export type SnRecord = Record<string, SnValue>;

export interface ReadOptions {
  fields?: string[];
  /** `true` → labels, `'all'` → `{display_value, value}` pairs. Default false (raw values, UTC dates). */
  displayValue?: boolean | 'all';
  /** Return references as plain sys_id strings instead of `{link, value}`. */
  excludeReferenceLink?: boolean;
}

export interface WriteOptions extends ReadOptions {
  /** sysparm_input_display_value: values are display values; needed to write encrypted fields in clear (§1.2). */
  inputDisplayValue?: boolean;
}

export interface ListOptions extends ReadOptions {
  /** An encoded query; a `Query` is built here (refusing empty queries unless `allowEmpty`). */
  query?: Query | string;
  /** Deliberately list a whole table (no condition). */
  allowEmpty?: boolean;
  pageSize?: number;
  offset?: number;
  /** Skip `select count(*)` (then X-Total-Count is unreliable; paging follows Link / short pages). */
  noCount?: boolean;
}

export interface Page {
  records: SnRecord[];
  totalCount?: number;
  /** Offset of the next page, if there is one. */
  nextOffset?: number;
}

export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  /** UNIX seconds. */
  reset?: number;
  rule?: string;
  status: number;
}

export interface ServiceNowClientOptions {
  baseUrl: string;
  auth?: AuthProvider;
  ca?: string | Buffer;
  timeoutMs?: number;
  recorder?: OutboundRecorder;
  /** Called for every response that carried X-RateLimit-* headers (also intermediate 429s). */
  onRateLimit?(info: RateLimitInfo): void;
  connections?: number;
}

const header = (h: OutboundCall['headers'], name: string): string | undefined => {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
};

const num = (v: string | undefined): number | undefined =>
  v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;

export function rateLimitInfo(call: Pick<OutboundCall, 'headers' | 'status'>): RateLimitInfo | undefined {
  const limit = num(header(call.headers, 'x-ratelimit-limit'));
  const remaining = num(header(call.headers, 'x-ratelimit-remaining'));
  const reset = num(header(call.headers, 'x-ratelimit-reset'));
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  return { limit, remaining, reset, rule: header(call.headers, 'x-ratelimit-rule'), status: call.status };
}

/** The sys_id (for references) or plain string of a field value. */
export function str(v: SnValue | undefined | null): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return v.value ?? v.display_value ?? '';
  return String(v);
}

const TABLE = /^[a-z][a-z0-9_]*$/i;
const SYS_ID = /^[0-9a-f]{32}$/i;

function checkTable(table: string): string {
  if (!TABLE.test(table)) throw new QueryError(`invalid table name ${JSON.stringify(table)}`);
  return table;
}

function checkSysId(sysId: string): string {
  if (!SYS_ID.test(sysId)) throw new QueryError(`invalid sys_id ${JSON.stringify(sysId)}`);
  return sysId;
}

// Accept is added by HttpClient; Content-Type is sent on every call (the Table API answers 400 without it).
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

export class ServiceNowClient {
  readonly http: HttpClient;
  readonly baseUrl: string;

  constructor(opts: ServiceNowClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const onRateLimit = opts.onRateLimit;
    const recorder: OutboundRecorder = {
      record(call) {
        opts.recorder?.record(call);
        const info = onRateLimit && rateLimitInfo(call);
        if (info) onRateLimit!(info);
      },
    };
    const { timeoutMs, connections } = opts;
    const tuning = Object.fromEntries(Object.entries({ timeoutMs, connections }).filter(([, v]) => v !== undefined));
    this.http = new HttpClient({
      upstream: 'servicenow',
      baseUrl: this.baseUrl,
      auth: opts.auth,
      ca: opts.ca,
      recorder,
      ...tuning,
    });
  }

  /** One record, or undefined on 404 (missing or hidden by ACL). */
  async get(table: string, sysId: string, opts: ReadOptions = {}): Promise<SnRecord | undefined> {
    try {
      const res = await this.http.request<{ result: SnRecord }>({
        method: 'GET',
        path: `/api/now/table/${checkTable(table)}/${checkSysId(sysId)}`,
        query: readParams(opts),
        headers: JSON_HEADERS,
      });
      return envelope(res.body) as SnRecord;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** One page of a list. */
  async list(table: string, opts: ListOptions = {}): Promise<Page> {
    const limit = opts.pageSize ?? 1000;
    const offset = opts.offset ?? 0;
    const query = typeof opts.query === 'string' ? opts.query : opts.query?.build({ allowEmpty: opts.allowEmpty });
    if (!query && !opts.allowEmpty)
      throw new QueryError(`refusing to list ${table} without a query (pass allowEmpty for a full listing)`);
    const res = await this.http.request<{ result: SnRecord[] }>({
      method: 'GET',
      path: `/api/now/table/${checkTable(table)}`,
      query: {
        sysparm_query: query || undefined,
        sysparm_limit: limit,
        sysparm_offset: offset,
        sysparm_no_count: opts.noCount ? 'true' : undefined,
        ...readParams(opts),
      },
      headers: JSON_HEADERS,
    });
    const records = envelope(res.body);
    if (!Array.isArray(records)) throw new Error(`ServiceNow list ${table}: result is not an array`);
    const totalCount = opts.noCount ? undefined : num(header(res.headers, 'x-total-count'));
    return { records, totalCount, nextOffset: nextOffset(res.headers, offset, limit, records.length, totalCount) };
  }

  /**
   * Every matching record, fetched page by page: only one page is held at a time. Offset paging,
   * so add an ORDERBY on a stable key (sys_id) when records may change while listing.
   */
  async *listAll(table: string, opts: ListOptions = {}): AsyncGenerator<SnRecord, void, undefined> {
    for await (const page of this.pages(table, opts)) yield* page;
  }

  /** The pages behind `listAll`, for callers that work a page at a time. */
  async *pages(table: string, opts: ListOptions = {}): AsyncGenerator<SnRecord[], void, undefined> {
    let offset: number | undefined = opts.offset ?? 0;
    while (offset !== undefined) {
      const page = await this.list(table, { ...opts, offset });
      if (page.records.length) yield page.records;
      offset = page.nextOffset;
    }
  }

  async create(table: string, fields: Record<string, string>, opts: WriteOptions = {}): Promise<SnRecord> {
    const res = await this.http.request<{ result: SnRecord }>({
      method: 'POST',
      path: `/api/now/table/${checkTable(table)}`,
      query: writeParams(opts),
      headers: JSON_HEADERS,
      json: checkFields(fields),
    });
    return envelope(res.body) as SnRecord;
  }

  /** PATCH a record. */
  async update(
    table: string,
    sysId: string,
    fields: Record<string, string>,
    opts: WriteOptions = {},
  ): Promise<SnRecord> {
    const res = await this.http.request<{ result: SnRecord }>({
      method: 'PATCH',
      path: `/api/now/table/${checkTable(table)}/${checkSysId(sysId)}`,
      query: writeParams(opts),
      headers: JSON_HEADERS,
      json: checkFields(fields),
    });
    return envelope(res.body) as SnRecord;
  }

  /** DELETE; false if the record was already gone. */
  async delete(table: string, sysId: string): Promise<boolean> {
    try {
      await this.http.request({
        method: 'DELETE',
        path: `/api/now/table/${checkTable(table)}/${checkSysId(sysId)}`,
        headers: JSON_HEADERS,
      });
      return true;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return false;
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

function readParams(opts: ReadOptions): Record<string, string | undefined> {
  return {
    sysparm_fields: opts.fields?.length ? opts.fields.map(checkField).join(',') : undefined,
    sysparm_display_value: opts.displayValue === undefined ? undefined : String(opts.displayValue),
    sysparm_exclude_reference_link: opts.excludeReferenceLink ? 'true' : undefined,
  };
}

function writeParams(opts: WriteOptions): Record<string, string | undefined> {
  return { ...readParams(opts), sysparm_input_display_value: opts.inputDisplayValue ? 'true' : undefined };
}

function checkFields(fields: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(fields)) {
    checkField(k);
    if (typeof v !== 'string')
      throw new QueryError(`field ${k} must be a string value (ServiceNow values are strings)`);
  }
  return fields;
}

function envelope(body: unknown): SnRecord | SnRecord[] {
  if (!body || typeof body !== 'object' || !('result' in body))
    throw new Error('ServiceNow answered without a {result} envelope');
  return (body as { result: SnRecord | SnRecord[] }).result;
}

/** Next offset from `Link: <…>;rel="next"`, else from X-Total-Count, else from a full page. */
export function nextOffset(
  headers: Record<string, string | string[] | undefined>,
  offset: number,
  limit: number,
  got: number,
  total: number | undefined,
): number | undefined {
  const link = header(headers, 'link');
  if (link) {
    const next = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
    if (!next) return undefined;
    const o = num(new URL(next[1], 'https://x').searchParams.get('sysparm_offset') ?? undefined);
    return o !== undefined && o > offset ? o : offset + limit;
  }
  if (total !== undefined) return offset + limit < total ? offset + limit : undefined;
  return got >= limit ? offset + limit : undefined;
}
