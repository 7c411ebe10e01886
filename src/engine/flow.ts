import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { JobSpec } from './jobs.ts';

/**
 * The flow contract. A flow is a pure decision function — (state, event) → (state, effects) —
 * plus effect handlers the engine runs as jobs. `applyEvents` (apply.ts) is the one generic piece
 * that loads the state, applies the decision, and commits the new state, the effect jobs and the
 * audit row in one transaction, so each flow is only its decisions and its effects.
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

export async function loadFlowState<S>(db: Kysely<Database>, flow: string, id: string): Promise<S | undefined> {
  const row = await db
    .selectFrom('flow_state')
    .select('state')
    .where('flow', '=', flow)
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? (JSON.parse(row.state) as S) : undefined;
}
