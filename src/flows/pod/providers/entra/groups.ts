import { PermanentError } from '../../../../engine/errors.ts';
import type { GraphClient } from '../../../../connectors/microsoft/graph.ts';
import { GroupsClient } from '../../../../connectors/microsoft/groups.ts';
import type {
  ActualAssignment,
  AssignmentTarget,
  AuthorizationProvider,
  GrantInput,
  Operation,
  ResolvedPermission,
  RevokeInput,
} from '../port.ts';
import {
  GroupResolver,
  PROPAGATION_SECONDS,
  REVOKE_CAVEAT,
  groupOf,
  groupScope,
  membershipRef,
  principalOf,
} from './common.ts';

/**
 * Entra group membership as an AuthorizationProvider (pod-wire-format.md §3.1–3.2): grant adds a
 * direct member (`members/$ref`), revoke removes it. A 400 on the add is read back: a member already
 * there is `preexisting` (Graph says not to branch on the message). Membership never ends by itself:
 * Ticketloop revokes. Read-back and drift use the beta member list, which shows service principals.
 */
export class EntraGroupProvider implements AuthorizationProvider {
  readonly type = 'entra-group';
  readonly revokeCaveat = REVOKE_CAVEAT;
  readonly propagationSeconds = PROPAGATION_SECONDS;
  readonly expiresNatively = false;
  private readonly groups: GroupsClient;
  private readonly resolver: GroupResolver;

  constructor(graph: GraphClient) {
    this.groups = new GroupsClient(graph);
    this.resolver = new GroupResolver(this.groups);
  }

  /** Groups are tenant-wide: the scope does not change what a name means. */
  resolvePermission(nameOrId: string, _scope?: string): Promise<ResolvedPermission> {
    return this.resolver.resolve(nameOrId);
  }

  async grant(input: GrantInput): Promise<Operation> {
    const groupId = groupOf(input);
    const ref = membershipRef(groupId, input.principal.id);
    const r = await this.groups.addMember(groupId, input.principal.id);
    if (r.added) return { state: 'done', ref };
    // 400: already a member, or a reference Graph cannot take. Only the read-back tells which.
    if (await this.groups.isDirectMember(groupId, input.principal.id)) return { state: 'done', preexisting: true, ref };
    throw new PermanentError(
      `Graph refused adding ${input.principal.type} ${input.principal.id} to group ${groupId} (${r.code}): ${r.message}`,
    );
  }

  async revoke(input: RevokeInput): Promise<Operation> {
    const groupId = groupOf(input);
    // 404: not a member (any more), which is what a revoke wants.
    await this.groups.removeMember(groupId, input.principal.id);
    return { state: 'done' };
  }

  status(operation: string): Promise<Operation> {
    return Promise.reject(new PermanentError(`entra-group writes are synchronous; no operation ${operation}`));
  }

  async read(target: AssignmentTarget): Promise<ActualAssignment | undefined> {
    const groupId = groupOf(target);
    const m = await this.groups.isDirectMember(groupId, target.principal.id);
    const principal = m && principalOf(m);
    if (!principal) return undefined;
    return {
      principal,
      permission: groupId,
      scope: groupScope(groupId),
      ref: membershipRef(groupId, m.id),
      via: 'direct',
    };
  }

  async *list(scope: string, permission?: string): AsyncIterable<ActualAssignment[]> {
    const groupId = groupOf({ scope, permission: permission ?? /^\/?groups\/([^/]+)/i.exec(scope)?.[1] ?? '' });
    for await (const page of this.groups.memberPages(groupId)) {
      const out: ActualAssignment[] = [];
      for (const m of page) {
        const principal = principalOf(m);
        if (principal)
          out.push({
            principal,
            permission: groupId,
            scope: groupScope(groupId),
            ref: membershipRef(groupId, m.id),
            via: 'direct',
          });
      }
      yield out;
    }
  }
}
