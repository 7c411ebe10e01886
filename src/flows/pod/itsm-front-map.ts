import type { AccessRequestUpdate, IncomingAccessRequest } from '../../itsm/port.ts';
import type { PodIntegration } from './config.ts';
import { podMessage } from './notify.ts';
import { RequestRefused, type RequestInput } from './policy.ts';
import type { RequestState } from './request.ts';

/**
 * The ITSM front's translations (pure): a request as answered on the ITSM's form → a request input
 * (refusals name the form's field), and a request's state → what the ITSM request shows.
 */

export type FrontConfig = NonNullable<PodIntegration['itsmFront']>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The identity types a form may offer: `user`, or a workload (service principal, managed identity). */
function identityType(answer: string): 'user' | 'servicePrincipal' | undefined {
  const a = answer.toLowerCase().replace(/[^a-z]/g, '');
  if (a === '' || a === 'user' || a === 'self' || a === 'myself') return 'user';
  if (['serviceprincipal', 'managedidentity', 'workload', 'workloadidentity', 'application'].includes(a))
    return 'servicePrincipal';
  return undefined;
}

/** The request input an ITSM request asks for; the ITSM request's number is its ticket number. */
export function toRequestInput(front: FrontConfig, r: IncomingAccessRequest): RequestInput {
  const n = front.answers;
  const answer = (name: string) => (r.answers[name] ?? '').trim();
  const type = identityType(answer(n.identityType));
  if (!type) throw new RequestRefused('identity.type', 'must be "user" or "servicePrincipal"');
  const id = answer(n.identityId) || (type === 'user' ? r.requestedFor.directoryId : undefined);
  if (!id)
    throw new RequestRefused(
      'identity.id',
      type === 'user'
        ? `${r.requestedFor.email || 'the requested-for person'} has no Entra object id in the ITSM: name it`
        : 'a service principal request must name its object id',
    );
  if (!GUID.test(id)) throw new RequestRefused('identity.id', 'must be the directory object id (a GUID)');
  return {
    system: answer(n.system),
    permission: answer(n.permission),
    scope: answer(n.scope) || undefined,
    identity: { type, id },
    duration: answer(n.duration) || undefined,
    justification: answer(n.justification),
    ticketNumber: r.ref.key || undefined,
  };
}

/** A refusal's path in the form's words (`identity.id` → `identity_id`). */
export function formField(front: FrontConfig, path: string): string {
  const n = front.answers;
  const names: Record<string, string> = {
    system: n.system,
    permission: n.permission,
    scope: n.scope,
    duration: n.duration,
    justification: n.justification,
    'identity.type': n.identityType,
    'identity.id': n.identityId,
  };
  return names[path] ?? path;
}

/** What the ITSM request shows for the request's status (phase and approval). */
export function phaseOf(s: RequestState): Pick<AccessRequestUpdate, 'phase' | 'approval'> {
  switch (s.status) {
    case 'submitted':
      return { phase: 'awaiting_approval', approval: 'requested' };
    case 'approved':
    case 'granting':
      return { phase: 'approved', approval: 'approved' };
    case 'granted':
    case 'revoking':
    case 'revoke_failed':
      return { phase: 'fulfilled', approval: 'approved' };
    case 'expired':
    case 'revoked':
      return { phase: 'completed' };
    case 'rejected':
      return { phase: 'incomplete', approval: 'rejected' };
    case 'canceled':
    case 'grant_failed':
      return { phase: 'incomplete' };
  }
}

/** The requester-visible note for one event of the request (the notification's summary, with the approvers asked). */
export function noteFor(id: string, s: RequestState, payload: Record<string, unknown>, consoleUrl?: string): string {
  const m = podMessage(id, s, payload, consoleUrl);
  const lines = [`Ticketloop: ${m.summary}`];
  if (payload.event === 'submitted' && !s.policy.autoApproved)
    lines.push(
      `Approvers: ${[
        ...s.policy.approvers.map((a) => a.replace(/^user:/, '')),
        ...(s.policy.approverGroups ?? []).map((g) => `members of "${g.name}"`),
      ].join(', ')}`,
    );
  if (s.status === 'grant_failed') lines.push('The request is closed: ask again once the cause is fixed.');
  lines.push(`Request ${id}${m.links?.[0] ? `: ${m.links[0].url}` : ''}`);
  return lines.join('\n');
}

/** The e-mail of a `user:<e-mail>` actor (approvers are Ticketloop users named by their address). */
export function emailOf(actor: string): string | undefined {
  return actor.startsWith('user:') && actor.includes('@') ? actor.slice(5).toLowerCase() : undefined;
}
