import { str, type ServiceNowClient } from './client.ts';
import { formatSnDate, parseSnDate, q } from './query.ts';

/**
 * Keyset paging on `sys_updated_on`, then `sys_id` as the tie-break, behind an opaque watermark: the
 * watch's pattern, shared by every feed that reads "what changed since" (access requests, approvals,
 * incidents). A round starts a look-back before the last one ended (late commits, clock skew), so a
 * reader must take a record seen twice as the same record.
 */

export const LOOK_BACK_MS = 60_000;

/** A page cursor: `id` set while a round continues, absent at a round's end (the next starts a look-back before `ts`). */
interface Mark {
  ts: string;
  id?: string;
}

export interface KeysetPageOptions {
  client: ServiceNowClient;
  table: string;
  /** AND terms ending in `^` (or empty), applied on every block of the query. */
  filter: string;
  fields: string[];
  watermark: string | undefined;
  size: number;
  now: () => number;
  /** Without a watermark: start here (epoch ms) instead of at the beginning. */
  since?: number;
}

export async function keysetPage(o: KeysetPageOptions) {
  const mark = o.watermark ? (JSON.parse(o.watermark) as Mark) : undefined;
  const { filter } = o;
  const order = 'ORDERBYsys_updated_on^ORDERBYsys_id';
  let query: string;
  if (!mark)
    query =
      o.since === undefined
        ? `${filter}${order}`
        : `${filter}${q().gte('sys_updated_on', formatSnDate(o.since)).build()}^${order}`;
  else if (!mark.id) {
    const start = formatSnDate((parseSnDate(mark.ts) ?? 0) - LOOK_BACK_MS);
    query = `${filter}${q().gte('sys_updated_on', start).build()}^${order}`;
  } else {
    const after = q().gt('sys_updated_on', mark.ts).build();
    const tie = q().eq('sys_updated_on', mark.ts).gt('sys_id', mark.id).build();
    query = `${filter}${after}^NQ${filter}${tie}^${order}`;
  }
  const { records } = await o.client.list(o.table, {
    query,
    fields: o.fields,
    excludeReferenceLink: true,
    pageSize: o.size,
    noCount: true,
  });
  const last = records[records.length - 1];
  const more = records.length >= o.size;
  const maxTs = records.reduce((m, r) => Math.max(m, parseSnDate(str(r.sys_updated_on)) ?? 0), 0);
  const now = o.now();
  const ended = formatSnDate(Math.min(Math.max(maxTs, parseSnDate(mark?.ts) ?? 0) || now, now));
  const next: Mark = more ? { ts: str(last.sys_updated_on), id: str(last.sys_id) } : { ts: ended };
  return { records, next: JSON.stringify(next), more };
}
