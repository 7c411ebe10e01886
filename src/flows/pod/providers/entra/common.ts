import { PermanentError } from '../../../../engine/errors.ts';
import { objectType, type DirectoryObjectRef, type GroupsClient } from '../../../../connectors/microsoft/groups.ts';
import type { AssignmentTarget, Principal, ResolvedPermission } from '../port.ts';

/**
 * What the Entra group and PIM for Groups providers share: the `/groups/{groupId}` scope, group
 * resolution by id or displayName (cached), member types, and the revoke caveat.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (s: string) => GUID.test(s);

export const groupScope = (groupId: string) => `/groups/${groupId}`;

/** The group a target is about: its permission (the group id), which its scope must name when it names one. */
export function groupOf(target: Pick<AssignmentTarget, 'permission' | 'scope'>): string {
  const scoped = /^\/?groups\/([^/]+)\/?$/i.exec(target.scope)?.[1];
  if (!isGuid(target.permission))
    throw new PermanentError(`An Entra group permission is a group id, not ${JSON.stringify(target.permission)}`);
  if (scoped !== undefined && scoped.toLowerCase() !== target.permission.toLowerCase())
    throw new PermanentError(`Scope ${target.scope} is not the group ${target.permission}`);
  if (scoped === undefined) throw new PermanentError(`An Entra group scope is /groups/{groupId}, not ${target.scope}`);
  return target.permission;
}

/** `/groups/{g}/members/{m}`: the port's ref of one membership. */
export const membershipRef = (groupId: string, memberId: string) => `/groups/${groupId}/members/${memberId}`;

/** A member as a port principal; groups, devices and contacts are not principals a broker grants to. */
export function principalOf(m: DirectoryObjectRef): Principal | undefined {
  const t = objectType(m);
  return t === 'user' || t === 'servicePrincipal' ? { type: t, id: m.id } : undefined;
}

export const REVOKE_CAVEAT =
  'Group membership is carried in tokens issued before the change until they expire (about an hour), and apps may cache it longer.';
/** Graph shows a membership change within seconds to a few minutes; tokens are the caveat above. */
export const PROPAGATION_SECONDS = 300;

/** Group ids and displayNames → the group, cached (a failure is not remembered). */
export class GroupResolver {
  private readonly cache = new Map<string, Promise<ResolvedPermission>>();

  constructor(private readonly groups: GroupsClient) {}

  resolve(nameOrId: string): Promise<ResolvedPermission> {
    const key = nameOrId.trim().toLowerCase();
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.lookup(nameOrId.trim());
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key));
    }
    return hit;
  }

  private async lookup(nameOrId: string): Promise<ResolvedPermission> {
    if (isGuid(nameOrId)) {
      const g = await this.groups.getGroup(nameOrId);
      if (!g) throw new PermanentError(`No Entra group with id ${nameOrId}`);
      return { id: g.id, name: g.displayName, description: g.description ?? undefined };
    }
    const found = await this.groups.findGroupsByDisplayName(nameOrId);
    if (found.length === 1) {
      const [g] = found;
      return { id: g.id, name: g.displayName, description: g.description ?? undefined };
    }
    if (!found.length) throw new PermanentError(`No Entra group named ${JSON.stringify(nameOrId)}`);
    // displayName is not unique in Entra: name the candidates so a person can pick the id.
    throw new PermanentError(
      `${found.length} Entra groups are named ${JSON.stringify(nameOrId)}; use the group id: ${found.map((g) => g.id).join(', ')}`,
    );
  }
}
