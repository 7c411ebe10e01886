import type { DocStore } from '../shared/persist.ts';
import type { Entra } from './entra.ts';
import { DEMO_GROUPS, RESOURCE_GROUPS } from './constants.ts';
import { C, type DirectoryUser } from './em-model.ts';
import type { ServicePrincipalSeed } from './first-party.ts';
import { listServicePrincipals } from './graph-directory.ts';

/**
 * The directory's groups and their memberships, as the sandbox stores them (`entra-groups`, shared
 * with sign-in, so a membership made through Graph shows in the next ID token's `groups`). A member
 * is any directory object: a user, a service principal or another group.
 */

export interface DirectoryGroup {
  id: string;
  displayName: string;
  /** Direct members' object ids. */
  members: string[];
  /** Direct owners' object ids (PIM for Groups `accessId: owner`). */
  owners?: string[];
  description?: string | null;
  mailNickname?: string;
  mailEnabled?: boolean;
  securityEnabled?: boolean;
  groupTypes?: string[];
  isAssignableToRole?: boolean | null;
  visibility?: string | null;
  createdDateTime?: string;
}

export const GROUPS = 'entra-groups';
/** When the seeded groups were "created" (fixed, so their documents never change across restarts). */
const SEEDED_AT = '2025-01-06T09:00:00Z';

export type DirectoryObject =
  | { type: 'user'; id: string; doc: DirectoryUser }
  | { type: 'servicePrincipal'; id: string; doc: ServicePrincipalSeed }
  | { type: 'group'; id: string; doc: DirectoryGroup };

export const mailNicknameOf = (displayName: string) => displayName.replace(/[^A-Za-z0-9]/g, '') || 'group';

export class Directory {
  constructor(
    private readonly store: DocStore,
    private readonly entra: Entra,
  ) {
    for (const g of [...DEMO_GROUPS, ...RESOURCE_GROUPS]) {
      if (store.get(GROUPS, g.id)) continue;
      store.put<DirectoryGroup>(GROUPS, g.id, {
        description: null,
        ...g,
        mailNickname: mailNicknameOf(g.displayName),
        mailEnabled: false,
        securityEnabled: true,
        groupTypes: [],
        createdDateTime: SEEDED_AT,
      });
    }
  }

  groups(): DirectoryGroup[] {
    return this.store.list<DirectoryGroup>(GROUPS);
  }

  group(id: string): DirectoryGroup | undefined {
    return this.store.get<DirectoryGroup>(GROUPS, id) ?? this.store.get<DirectoryGroup>(GROUPS, id.toLowerCase());
  }

  putGroup(g: DirectoryGroup): DirectoryGroup {
    return this.store.put(GROUPS, g.id, g);
  }

  /** Any directory object by id (ids are GUIDs, compared without case). */
  object(id: string): DirectoryObject | undefined {
    const key = id.toLowerCase();
    const user = this.store.get<DirectoryUser>(C.users, id) ?? this.store.get<DirectoryUser>(C.users, key);
    if (user) return { type: 'user', id: user.id, doc: user };
    const group = this.group(id);
    if (group) return { type: 'group', id: group.id, doc: group };
    const sp = listServicePrincipals(this.entra).find((s) => s.id.toLowerCase() === key);
    if (sp) return { type: 'servicePrincipal', id: sp.id, doc: sp };
    // A user created with an upper-case id: matched inside SQLite, not by parsing every user (benchmarks add many).
    const row = this.store.db
      .prepare('SELECT body FROM docs WHERE coll = ? AND lower(id) = ? LIMIT 1')
      .get(C.users, key) as { body: string } | undefined;
    if (!row) return undefined;
    const u = JSON.parse(row.body) as DirectoryUser;
    return { type: 'user', id: u.id, doc: u };
  }

  /** A group's direct members that still exist, in the order they were added. */
  members(g: DirectoryGroup): DirectoryObject[] {
    return g.members.map((m) => this.object(m)).filter((o): o is DirectoryObject => o !== undefined);
  }

  /**
   * Every object under a group, through nested groups (`transitiveMembers`): the nested groups
   * themselves and their members, each once, breadth first.
   */
  transitiveMembers(g: DirectoryGroup): DirectoryObject[] {
    const seen = new Set<string>([g.id.toLowerCase()]);
    const out: DirectoryObject[] = [];
    const queue = [g];
    while (queue.length) {
      for (const o of this.members(queue.shift()!)) {
        if (seen.has(o.id.toLowerCase())) continue;
        seen.add(o.id.toLowerCase());
        out.push(o);
        if (o.type === 'group') queue.push(o.doc);
      }
    }
    return out;
  }

  isMember(g: DirectoryGroup, id: string): boolean {
    return g.members.some((m) => m.toLowerCase() === id.toLowerCase());
  }

  /** Groups that have `id` as a direct member. */
  groupsOf(id: string): DirectoryGroup[] {
    return this.groups().filter((g) => this.isMember(g, id));
  }

  /** Ids of every group `id` belongs to, directly or through nested groups. */
  transitiveGroupsOf(id: string): Set<string> {
    const all = this.groups();
    const found = new Set<string>();
    const queue = [id.toLowerCase()];
    while (queue.length) {
      const cur = queue.shift()!;
      for (const g of all) {
        if (found.has(g.id) || !g.members.some((m) => m.toLowerCase() === cur)) continue;
        found.add(g.id);
        queue.push(g.id.toLowerCase());
      }
    }
    return found;
  }

  addMember(groupId: string, memberId: string, as: 'member' | 'owner' = 'member'): void {
    const g = this.group(groupId);
    if (!g) return;
    const list = as === 'member' ? g.members : (g.owners ??= []);
    if (!list.some((m) => m.toLowerCase() === memberId.toLowerCase())) list.push(memberId);
    this.putGroup(g);
  }

  removeMember(groupId: string, memberId: string, as: 'member' | 'owner' = 'member'): boolean {
    const g = this.group(groupId);
    if (!g) return false;
    const list = as === 'member' ? g.members : (g.owners ?? []);
    const i = list.findIndex((m) => m.toLowerCase() === memberId.toLowerCase());
    if (i < 0) return false;
    list.splice(i, 1);
    this.putGroup(g);
    return true;
  }
}
