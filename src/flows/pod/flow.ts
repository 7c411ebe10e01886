import type { Decision, Flow } from '../../engine/flow.ts';
import { decideAssignment, type AssignmentEvent, type AssignmentState } from './assignment.ts';
import { decideRequest, type RequestEvent, type RequestState } from './request.ts';

/**
 * Permissions on demand: two kinds of item in one flow. `r:<id>` is a request (request.ts: submitted
 * → approved → granting → granted → revoking → revoked | expired); `a:<hash>` is the provider
 * assignment requests share (assignment.ts: reference-counted, revoked when the last holder lets go).
 * They talk through effect jobs (`attach`, `release`, `tell`), each applied in its own transaction.
 */

export const FLOW = 'pod';

export type PodState = RequestState | AssignmentState;
export type PodEvent = RequestEvent | AssignmentEvent;

export const requestItem = (id: string) => `r:${id}`;
export const isRequestItem = (item: string) => item.startsWith('r:');

export const podFlow: Flow<PodState, PodEvent> = {
  name: FLOW,
  decide(state, event, now): Decision<PodState> | null {
    const kind =
      state?.kind ?? (event.type === 'submit' ? 'request' : event.type === 'hold' ? 'assignment' : undefined);
    if (kind === 'request') return decideRequest(state as RequestState | undefined, event as RequestEvent, now);
    if (kind === 'assignment')
      return decideAssignment(state as AssignmentState | undefined, event as AssignmentEvent, now);
    return null;
  },
};
