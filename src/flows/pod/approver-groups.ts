import { GroupsClient, objectType, type DirectoryObjectRef } from '../../connectors/microsoft/groups.ts';
import type { GraphClient } from '../../connectors/microsoft/graph.ts';
import { GroupResolver } from './providers/entra/common.ts';

/**
 * Approvers by Entra group (policy `approvers.groups`), through the Microsoft connection's Graph
 * client: names resolve to group ids, a decider's membership is checked in Entra at decision time
 * (`checkMemberGroups`: transitive, never cached — a removal counts at once), and the users under a
 * group (`transitiveMembers`, nested groups expanded as `checkMemberGroups` does, for who can approve
 * and whom to e-mail) are cached for a few minutes, since every submission and notice asks for them.
 */

export interface GroupMember {
  id: string;
  email?: string;
}

type MemberRef = DirectoryObjectRef & { mail?: string | null; userPrincipalName?: string | null };

export const MEMBERS_TTL_MS = 5 * 60_000;

/**
 * At most this many group members are asked personally (an e-mail with their own links, a ServiceNow
 * approval row) per request: a group of thousands would flood mailboxes and the approval table. The
 * others can still decide in the console; the ITSM note says how many were left out.
 */
export const MAX_PERSONAL_GROUP_APPROVERS = 50;

export class ApproverGroups {
  private readonly members = new Map<string, { at: number; value: Promise<GroupMember[]> }>();
  private readonly groups: GroupsClient;
  private readonly resolver: GroupResolver;

  constructor(
    graph: GraphClient,
    private readonly now: () => number,
    private readonly ttlMs = MEMBERS_TTL_MS,
  ) {
    this.groups = new GroupsClient(graph);
    this.resolver = new GroupResolver(this.groups);
  }

  /** Group ids or display names → the groups (unknown or ambiguous: PermanentError naming it). */
  resolve(namesOrIds: string[]): Promise<{ id: string; name: string }[]> {
    return Promise.all(
      namesOrIds.map(async (n) => {
        const g = await this.resolver.resolve(n);
        return { id: g.id, name: g.name };
      }),
    );
  }

  /** The users under a group (through nested groups), cached. */
  usersOf(groupId: string): Promise<GroupMember[]> {
    const hit = this.members.get(groupId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.load(groupId);
    this.members.set(groupId, { at: this.now(), value });
    value.catch(() => this.members.delete(groupId));
    return value;
  }

  /** The first of `groupIds` the Entra object is a member of (transitively), or undefined. */
  async memberOf(objectId: string, groupIds: string[]): Promise<string | undefined> {
    if (!groupIds.length) return undefined;
    const hits = new Set((await this.groups.checkMemberGroups(objectId, groupIds)).map((g) => g.toLowerCase()));
    return groupIds.find((g) => hits.has(g.toLowerCase()));
  }

  /** The Entra object id of the one user with this mail or userPrincipalName (never cached), or undefined. */
  async userIdOf(email: string): Promise<string | undefined> {
    return (await this.groups.findUserByEmail(email))?.id;
  }

  private async load(groupId: string): Promise<GroupMember[]> {
    const out: GroupMember[] = [];
    const pages = this.groups.transitiveUserPages<MemberRef>(groupId, 999, 'id,displayName,mail,userPrincipalName');
    for await (const page of pages)
      for (const m of page)
        if (objectType(m) === 'user' || !m['@odata.type'])
          out.push({
            id: m.id,
            email: m.mail ?? (m.userPrincipalName?.includes('@') ? m.userPrincipalName : undefined),
          });
    return out;
  }
}

const perApp = new WeakMap<object, ApproverGroups>();

/** One per app (its member cache is shared by submissions and notices), made on first use. */
export function approverGroupsOf(app: {
  connections: { microsoft(): { graph: GraphClient } };
  clock: { now(): number };
}): ApproverGroups {
  let g = perApp.get(app);
  if (!g) perApp.set(app, (g = new ApproverGroups(app.connections.microsoft().graph, () => app.clock.now())));
  return g;
}
