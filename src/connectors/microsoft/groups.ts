import { HttpError } from '../../engine/errors.ts';
import type { ApiVersion, GraphClient, GraphList } from './graph.ts';

/**
 * Entra groups and PIM for Groups over Microsoft Graph (pod-wire-format.md §3): groups by id or
 * displayName, members (`$ref` add / remove, listed on beta so service principals are seen),
 * `checkMemberGroups`, and PIM for Groups assignment requests and instances. Failures are the
 * GraphClient's HttpErrors; the few answers a caller must branch on come back as values.
 */

export interface GraphGroup {
  id: string;
  displayName: string;
  description?: string | null;
  securityEnabled?: boolean;
  mailEnabled?: boolean;
  groupTypes?: string[];
}

/** A member as `/members` lists it: its `@odata.type` says what it is. */
export interface DirectoryObjectRef {
  '@odata.type'?: string;
  id: string;
  displayName?: string | null;
}
export type DirectoryObjectType = 'user' | 'servicePrincipal' | 'group' | 'other';

export const objectType = (o: DirectoryObjectRef): DirectoryObjectType => {
  const t = (o['@odata.type'] ?? '').replace(/^#?microsoft\.graph\./i, '').toLowerCase();
  return t === 'user' ? 'user' : t === 'serviceprincipal' ? 'servicePrincipal' : t === 'group' ? 'group' : 'other';
};

/** Graph's error body (concepts/errors.md). */
export interface GraphErrorBody {
  error?: { code?: string; message?: string };
}
export const graphErrorOf = (e: unknown): { code: string; message: string } | undefined => {
  if (!(e instanceof HttpError)) return undefined;
  const err = (e.body as GraphErrorBody | undefined)?.error;
  return err?.code ? { code: err.code, message: err.message ?? '' } : undefined;
};

/** Where a `$ref` add ended: made, or refused with 400 (a duplicate, or a bad reference: read back to tell). */
export type AddMemberResult = { added: true } | { added: false; code: string; message: string };

export type PimAction = 'adminAssign' | 'adminRemove' | 'adminUpdate' | 'adminExtend' | 'adminRenew';
export type PimAccessId = 'member' | 'owner';

export interface PimExpiration {
  type: 'afterDateTime' | 'afterDuration' | 'noExpiration';
  endDateTime?: string | null;
  duration?: string | null;
}

export interface PimGroupAssignmentRequestInput {
  accessId: PimAccessId;
  principalId: string;
  groupId: string;
  action: PimAction;
  scheduleInfo?: { startDateTime?: string; expiration: PimExpiration };
  justification?: string;
  ticketInfo?: { ticketNumber?: string; ticketSystem?: string };
  /** Free text kept with the request: the broker's idempotency tag. */
  customData?: string;
}

export interface PimGroupAssignmentRequest extends PimGroupAssignmentRequestInput {
  id: string;
  /** A free string: `Provisioned`, `Revoked`, `PendingApproval`, `Denied`, `Failed`, … */
  status: string;
  targetScheduleId?: string | null;
  createdDateTime?: string;
  completedDateTime?: string | null;
}

/** An active assignment (`assignmentScheduleInstances`); a permanent membership has null dates. */
export interface PimGroupAssignmentInstance {
  id: string;
  principalId: string;
  groupId: string;
  accessId: PimAccessId;
  /** `assigned` | `activated` (the docs' example shows `Assigned`: compare without case). */
  assignmentType?: string | null;
  /** `direct` | `group`. */
  memberType?: string | null;
  startDateTime?: string | null;
  endDateTime?: string | null;
  assignmentScheduleId?: string | null;
}

const PIM = '/identityGovernance/privilegedAccess/group';
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const refTo = (objectId: string) => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${objectId}` });
const enc = encodeURIComponent;

export class GroupsClient {
  constructor(private readonly graph: GraphClient) {}

  /** The group, or undefined when Graph answers 404. */
  async getGroup(id: string): Promise<GraphGroup | undefined> {
    try {
      return await this.graph.get<GraphGroup>(`/groups/${enc(id)}`, {
        $select: 'id,displayName,description,securityEnabled,mailEnabled,groupTypes',
      });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Every group with exactly this displayName (`eq` is case-insensitive in the directory). */
  findGroupsByDisplayName(displayName: string): Promise<GraphGroup[]> {
    return this.graph.listAll<GraphGroup>('/groups', {
      $filter: `displayName eq ${quote(displayName)}`,
      $select: 'id,displayName,description,securityEnabled,mailEnabled,groupTypes',
    });
  }

  /** `POST /groups/{id}/members/$ref` → 204; a 400 comes back as a value (group-post-members.md). */
  async addMember(groupId: string, objectId: string): Promise<AddMemberResult> {
    try {
      await this.graph.request({
        method: 'POST',
        path: this.graph.path(`/groups/${enc(groupId)}/members/$ref`),
        json: refTo(objectId),
      });
      return { added: true };
    } catch (e) {
      const err = graphErrorOf(e);
      if (e instanceof HttpError && e.status === 400 && err) return { added: false, ...err };
      throw e;
    }
  }

  /** `DELETE /groups/{g}/members/{m}/$ref` → 204; 404 (not a member, or no such group) is `false`. */
  async removeMember(groupId: string, objectId: string): Promise<boolean> {
    try {
      await this.graph.request({
        method: 'DELETE',
        path: this.graph.path(`/groups/${enc(groupId)}/members/${enc(objectId)}/$ref`),
      });
      return true;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return false;
      throw e;
    }
  }

  /**
   * Direct members page by page, on beta: v1.0 leaves service principals out (a known issue,
   * group-list-members.md), and `$expand=members` stops at 20. Not an advanced query on purpose:
   * its index may lag a change just made.
   */
  async *memberPages<T extends DirectoryObjectRef = DirectoryObjectRef>(
    groupId: string,
    pageSize = 999,
    select = 'id,displayName',
  ): AsyncIterable<T[]> {
    yield* this.pages<T>(`/groups/${enc(groupId)}/members`, 'beta', {
      $select: select,
      $top: String(pageSize),
    });
  }

  /**
   * The users under a group, through nested groups, page by page (`transitiveMembers` cast to
   * `microsoft.graph.user`: nested groups and service principals left out).
   */
  async *transitiveUserPages<T extends DirectoryObjectRef = DirectoryObjectRef>(
    groupId: string,
    pageSize = 999,
    select = 'id,displayName',
  ): AsyncIterable<T[]> {
    yield* this.pages<T>(`/groups/${enc(groupId)}/transitiveMembers/microsoft.graph.user`, this.graph.apiVersion, {
      $select: select,
      $top: String(pageSize),
    });
  }

  /** The user whose `mail` or `userPrincipalName` is this address (undefined: none, or more than one). */
  async findUserByEmail(email: string): Promise<DirectoryObjectRef | undefined> {
    const users = await this.graph.listAll<DirectoryObjectRef>('/users', {
      $filter: `mail eq ${quote(email)} or userPrincipalName eq ${quote(email)}`,
      $select: 'id,displayName',
    });
    return users.length === 1 ? users[0] : undefined;
  }

  /** Whether `objectId` is a direct member (read through the members list that sees service principals). */
  async isDirectMember(groupId: string, objectId: string): Promise<DirectoryObjectRef | undefined> {
    const id = objectId.toLowerCase();
    for await (const page of this.memberPages(groupId)) {
      const hit = page.find((m) => m.id.toLowerCase() === id);
      if (hit) return hit;
    }
    return undefined;
  }

  /** The given groups the object belongs to, directly or through nested groups (≤ 20 ids per call). */
  async checkMemberGroups(objectId: string, groupIds: string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < groupIds.length; i += 20) {
      const r = await this.graph.post<{ value: string[] }>(`/directoryObjects/${enc(objectId)}/checkMemberGroups`, {
        groupIds: groupIds.slice(i, i + 20),
      });
      out.push(...r.value);
    }
    return out;
  }

  // ---- PIM for Groups ---------------------------------------------------------------------------

  /** `POST …/group/assignmentScheduleRequests` → 201 with the request (status `Provisioned`, …). */
  createAssignmentRequest(input: PimGroupAssignmentRequestInput): Promise<PimGroupAssignmentRequest> {
    return this.graph.post<PimGroupAssignmentRequest>(`${PIM}/assignmentScheduleRequests`, input);
  }

  async getAssignmentRequest(id: string): Promise<PimGroupAssignmentRequest | undefined> {
    try {
      return await this.graph.get<PimGroupAssignmentRequest>(`${PIM}/assignmentScheduleRequests/${enc(id)}`);
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Requests made for one principal in one group. */
  listAssignmentRequests(groupId: string, principalId: string): Promise<PimGroupAssignmentRequest[]> {
    return this.graph.listAll<PimGroupAssignmentRequest>(`${PIM}/assignmentScheduleRequests`, {
      $filter: `groupId eq ${quote(groupId)} and principalId eq ${quote(principalId)}`,
    });
  }

  /** Active assignments of a group (and of one principal in it), page by page; the filter is required. */
  instancePages(groupId: string, principalId?: string): AsyncIterable<PimGroupAssignmentInstance[]> {
    const filter = `groupId eq ${quote(groupId)}${principalId ? ` and principalId eq ${quote(principalId)}` : ''}`;
    return this.pages<PimGroupAssignmentInstance>(`${PIM}/assignmentScheduleInstances`, this.graph.apiVersion, {
      $filter: filter,
    });
  }

  private async *pages<T>(path: string, version: ApiVersion, query: Record<string, string>): AsyncIterable<T[]> {
    let next: string | undefined = this.graph.path(path, version);
    let q: Record<string, string> | undefined = query;
    while (next) {
      const page: GraphList<T> = (await this.graph.request<GraphList<T>>({ method: 'GET', path: next, query: q })).body;
      yield page.value;
      next = page['@odata.nextLink'];
      q = undefined; // the next link carries its own query
    }
  }
}
