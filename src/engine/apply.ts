import type { Kysely } from 'kysely';
import { appendAudit, type AuditEntry } from '../store/audit.ts';
import type { Keyring } from '../store/keys.ts';
import type { Database } from '../store/schema.ts';
import { effectJob, type Flow } from './flow.ts';
import { enqueueJobs, type JobSpec } from './jobs.ts';

/**
 * The one apply path. Route intake (group commit), engine dispatch, job completion and pull-style
 * passes all hand their events here: load the items' state, decide in order, check each item's
 * version, enqueue the effect jobs and write the audit rows — inside the caller's transaction, so
 * state, jobs and audit commit together (the transactional outbox) or not at all.
 */

export interface FlowEvent {
  flow: string;
  /** The flow item the event is about. */
  id: string;
  event: unknown;
}

export interface AppliedEvent<S = unknown> {
  /** The item's state after the event. */
  state: S | undefined;
  changed: boolean;
  /** The item did not exist before this event. */
  created: boolean;
}

export interface AppliedBatch {
  results: AppliedEvent[];
  /** Effect jobs newly enqueued (a repeated effect key is not counted). */
  jobs: number;
}

/** Another writer changed an item between our read and our write: redo the whole transaction. */
export class ConcurrentUpdateError extends Error {
  constructor(flow: string, id: string) {
    super(`flow ${flow}/${id} was changed concurrently`);
  }
}

interface Item {
  flow: Flow<unknown, unknown>;
  id: string;
  state: unknown;
  version: number;
  existed: boolean;
  dirty: boolean;
}

/**
 * Apply `batch` in arrival order inside `trx` (which must be a transaction). Optimistic
 * concurrency on each item's version: a concurrent writer makes this throw ConcurrentUpdateError.
 */
export async function applyEvents(
  trx: Kysely<Database>,
  flowNamed: (name: string) => Flow<unknown, unknown>,
  batch: FlowEvent[],
  now: number,
  actor: string,
  /** The audit rows are MAC'd with these (the store's keys). */
  keys: Keyring,
): Promise<AppliedBatch> {
  const items = await loadItems(trx, flowNamed, batch);
  const jobs: JobSpec[] = [];
  const audits: AuditEntry[] = [];
  const results = batch.map((e): AppliedEvent => {
    const item = items.get(itemKey(e.flow, e.id))!;
    const before = item.state;
    const decision = item.flow.decide(before, e.event, now);
    if (!decision) return { state: before, changed: false, created: false };
    const effects = (decision.effects ?? []).map((effect) => effectJob(e.flow, e.id, effect));
    jobs.push(...effects);
    audits.push({
      kind: 'state',
      actor,
      subject: `${e.flow}/${e.id}`,
      detail: { action: decision.audit.action, ...decision.audit.detail, effects: effects.map((j) => j.kind) },
    });
    item.state = decision.state;
    item.dirty = true;
    return { state: decision.state, changed: true, created: before === undefined };
  });
  await writeItems(
    trx,
    [...items.values()].filter((i) => i.dirty),
    now,
  );
  const inserted = jobs.length ? await enqueueJobs(trx, jobs, now) : 0;
  if (audits.length) await appendAudit(trx, audits, now, keys);
  return { results, jobs: inserted };
}

const itemKey = (flow: string, id: string) => `${flow}\u0000${id}`;

async function loadItems(
  trx: Kysely<Database>,
  flowNamed: (name: string) => Flow<unknown, unknown>,
  batch: FlowEvent[],
) {
  const items = new Map<string, Item>();
  const idsByFlow = new Map<string, Set<string>>();
  for (const e of batch) {
    const ids = idsByFlow.get(e.flow) ?? new Set<string>();
    ids.add(e.id);
    idsByFlow.set(e.flow, ids);
  }
  for (const [name, ids] of idsByFlow) {
    const flow = flowNamed(name);
    for (const id of ids)
      items.set(itemKey(name, id), { flow, id, state: undefined, version: 0, existed: false, dirty: false });
    const rows = await trx
      .selectFrom('flow_state')
      .select(['id', 'state', 'version'])
      .where('flow', '=', name)
      .where('id', 'in', [...ids])
      .execute();
    for (const r of rows)
      Object.assign(items.get(itemKey(name, r.id))!, {
        state: JSON.parse(r.state),
        version: Number(r.version),
        existed: true,
      });
  }
  return items;
}

async function writeItems(trx: Kysely<Database>, dirty: Item[], now: number): Promise<void> {
  const inserts = dirty.filter((i) => !i.existed);
  if (inserts.length) {
    const r = await trx
      .insertInto('flow_state')
      .values(
        inserts.map((i) => ({
          flow: i.flow.name,
          id: i.id,
          state: JSON.stringify(i.state),
          version: 1,
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['flow', 'id']).doNothing())
      .executeTakeFirst();
    // Someone else created one of these items meanwhile: redo against what is there now.
    if (Number(r.numInsertedOrUpdatedRows ?? 0) !== inserts.length)
      throw new ConcurrentUpdateError(inserts[0].flow.name, inserts[0].id);
  }
  for (const i of dirty.filter((x) => x.existed)) {
    const r = await trx
      .updateTable('flow_state')
      .set({ state: JSON.stringify(i.state), version: i.version + 1, updated_at: now })
      .where('flow', '=', i.flow.name)
      .where('id', '=', i.id)
      .where('version', '=', i.version)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new ConcurrentUpdateError(i.flow.name, i.id);
  }
}

/** Errors that mean "someone else wrote first / the database was busy": the transaction may be redone. */
function isContention(e: unknown): boolean {
  if (e instanceof ConcurrentUpdateError) return true;
  const code = (e as { code?: string })?.code ?? '';
  return (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_BUSY_SNAPSHOT' ||
    code === '40001' ||
    code === '40P01' ||
    code === '23505'
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `work` in a transaction, redoing it (with a little jitter) while it loses to a concurrent writer. */
export async function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
  attempts = 20,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (e) {
      if (!isContention(e) || attempt >= attempts) throw e;
      await sleep(Math.random() * 5 * attempt);
    }
  }
}
