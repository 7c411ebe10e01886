import type { Kysely } from 'kysely';
import { appendAudit, type AuditEntry } from '../store/audit.ts';
import type { Database } from '../store/schema.ts';
import { enqueueJobs, type JobSpec } from './jobs.ts';

/**
 * The flow contract. A flow is a pure decision function — (state, event) → (state, effects) —
 * plus effect handlers the engine runs as jobs. `applyEvent` is the one generic piece that loads
 * the state, applies the decision, and commits the new state, the effect jobs and the audit row in
 * one transaction (the transactional outbox), so each flow is only its decisions and its effects.
 */

export interface Effect {
  /** Handler name inside the flow; the job kind is `<flow>.<kind>`. */
  kind: string;
  /** Unique per flow item: the same effect key is enqueued at most once, ever. */
  key: string;
  payload?: Record<string, unknown>;
  /** A timer: run no earlier than this (epoch ms). */
  runAt?: number;
  maxAttempts?: number;
  priority?: JobSpec['priority'];
}

export interface Decision<S> {
  state: S;
  effects?: Effect[];
  /** What happened, in words and data, for the audit log. */
  audit: { action: string; detail?: Record<string, unknown> };
}

export interface Flow<S, E> {
  name: string;
  /** Pure: no I/O, no clock reads beyond `now`. Return null when the event changes nothing. */
  decide(state: S | undefined, event: E, now: number): Decision<S> | null;
}

/** What an effect handler (or a route) hands back to be applied to a flow. */
export interface FlowDispatch {
  flow: string;
  id: string;
  event: unknown;
}

export function effectJob(flow: string, id: string, e: Effect): JobSpec {
  return {
    kind: `${flow}.${e.kind}`,
    key: `${flow}:${id}:${e.key}`,
    payload: { flowId: id, ...e.payload },
    runAt: e.runAt,
    maxAttempts: e.maxAttempts,
    priority: e.priority,
  };
}

export class ConcurrentUpdateError extends Error {
  constructor(flow: string, id: string) {
    super(`flow ${flow}/${id} was changed concurrently`);
  }
}

export interface Applied<S> {
  state: S | undefined;
  changed: boolean;
  jobs: number;
}

/**
 * Apply one event inside `trx` (which must be a transaction). Optimistic concurrency on the row
 * version: a concurrent writer makes this throw ConcurrentUpdateError and the caller retries.
 */
export async function applyEventIn<S, E>(
  trx: Kysely<Database>,
  flow: Flow<S, E>,
  id: string,
  event: E,
  now: number,
  actor: string,
): Promise<Applied<S>> {
  const row = await trx
    .selectFrom('flow_state')
    .select(['state', 'version'])
    .where('flow', '=', flow.name)
    .where('id', '=', id)
    .executeTakeFirst();
  const current = row ? (JSON.parse(row.state) as S) : undefined;
  const decision = flow.decide(current, event, now);
  if (!decision) return { state: current, changed: false, jobs: 0 };

  const body = JSON.stringify(decision.state);
  if (row) {
    const r = await trx
      .updateTable('flow_state')
      .set({ state: body, version: Number(row.version) + 1, updated_at: now })
      .where('flow', '=', flow.name)
      .where('id', '=', id)
      .where('version', '=', Number(row.version))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new ConcurrentUpdateError(flow.name, id);
  } else {
    const r = await trx
      .insertInto('flow_state')
      .values({ flow: flow.name, id, state: body, version: 1, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['flow', 'id']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1) throw new ConcurrentUpdateError(flow.name, id);
  }
  const jobs = (decision.effects ?? []).map((e) => effectJob(flow.name, id, e));
  const inserted = jobs.length ? await enqueueJobs(trx, jobs, now) : 0;
  const audit: AuditEntry = {
    kind: 'state',
    actor,
    subject: `${flow.name}/${id}`,
    detail: { action: decision.audit.action, ...decision.audit.detail, effects: jobs.map((j) => j.kind) },
  };
  await appendAudit(trx, [audit], now);
  return { state: decision.state, changed: true, jobs: inserted };
}

export async function loadFlowState<S>(db: Kysely<Database>, flow: string, id: string): Promise<S | undefined> {
  const row = await db.selectFrom('flow_state').select('state').where('flow', '=', flow).where('id', '=', id).executeTakeFirst();
  return row ? (JSON.parse(row.state) as S) : undefined;
}
