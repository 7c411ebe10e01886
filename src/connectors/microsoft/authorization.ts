import { HttpError } from '../../engine/errors.ts';
import { normaliseScope, type ArmClient, type ArmPage } from './arm.ts';

/**
 * Thin Microsoft.Authorization client over ArmClient's HttpClient: role definitions and role
 * assignments (2022-04-01) and PIM for Azure resources — schedule requests and instances
 * (2020-10-01) (pod-wire-format.md §1–2). Failures stay HttpErrors (status, Retry-After, body);
 * `armError()` reads ARM's code out of one. Nothing here retries.
 */

export const ROLE_API_VERSION = '2022-04-01';
export const PIM_API_VERSION = '2020-10-01';
const AUTHZ = '/providers/Microsoft.Authorization';

export type PrincipalType = 'User' | 'Group' | 'ServicePrincipal' | 'ForeignGroup';

export interface RoleDefinition {
  id: string;
  name: string;
  type: string;
  properties: {
    roleName: string;
    type: string;
    description?: string;
    assignableScopes?: string[];
    permissions?: Array<{
      actions?: string[];
      notActions?: string[];
      dataActions?: string[];
      notDataActions?: string[];
    }>;
  };
}

export interface RoleAssignmentProperties {
  roleDefinitionId: string;
  principalId: string;
  principalType?: PrincipalType | string;
  scope?: string;
  description?: string | null;
  condition?: string | null;
  conditionVersion?: string | null;
  createdOn?: string;
  updatedOn?: string;
  createdBy?: string | null;
  updatedBy?: string | null;
}

export interface RoleAssignment {
  id: string;
  name: string;
  type: string;
  properties: RoleAssignmentProperties & { scope: string };
}

export type ScheduleRequestType =
  | 'AdminAssign'
  | 'AdminRemove'
  | 'AdminUpdate'
  | 'AdminExtend'
  | 'AdminRenew'
  | 'SelfActivate'
  | 'SelfDeactivate'
  | 'SelfExtend'
  | 'SelfRenew';

export interface ScheduleInfo {
  startDateTime?: string;
  expiration?: {
    type: 'AfterDuration' | 'AfterDateTime' | 'NoExpiration';
    endDateTime?: string | null;
    duration?: string | null;
  };
}

export interface ScheduleRequestInput {
  roleDefinitionId: string;
  principalId: string;
  requestType: ScheduleRequestType;
  scheduleInfo?: ScheduleInfo;
  justification?: string;
  ticketInfo?: { ticketNumber?: string; ticketSystem?: string };
  targetRoleAssignmentScheduleId?: string;
  linkedRoleEligibilityScheduleId?: string;
}

export interface ScheduleRequest {
  id: string;
  name: string;
  type: string;
  properties: ScheduleRequestInput & {
    scope: string;
    principalType?: string;
    /** `Provisioned`, `Granted`, `PendingApproval`, `Denied`, … (22 values in the spec). */
    status: string;
    createdOn?: string;
    requestorId?: string | null;
    targetRoleAssignmentScheduleId?: string | null;
  };
}

export interface ScheduleInstance {
  id: string;
  name: string;
  type: string;
  properties: {
    scope: string;
    roleDefinitionId: string;
    principalId: string;
    principalType?: string;
    originRoleAssignmentId?: string;
    roleAssignmentScheduleId?: string;
    /** `Assigned` (admin-assigned) or `Activated` (from an eligibility). */
    assignmentType?: string;
    /** `Direct`, `Group` or `Inherited`. */
    memberType?: string;
    status?: string;
    startDateTime?: string;
    endDateTime?: string | null;
  };
}

/** The trailing GUID of a role definition id, lower-cased: ARM answers other forms than it was sent. */
export function roleDefinitionGuid(id: string): string {
  return (id.split('/').filter(Boolean).pop() ?? '').toLowerCase();
}

/** `principalId eq '{id}'` with the quote doubled as OData wants. */
export const principalFilter = (principalId: string) => `principalId eq '${principalId.replace(/'/g, "''")}'`;

export class AuthorizationClient {
  constructor(private readonly arm: ArmClient) {}

  // --- role definitions ---------------------------------------------------------------------

  /** Every role definition at a scope matching the filter (e.g. `roleName eq 'Reader'`). */
  async listRoleDefinitions(scope: string, filter?: string): Promise<RoleDefinition[]> {
    const out: RoleDefinition[] = [];
    for await (const page of this.pages<RoleDefinition>(`${normaliseScope(scope)}${AUTHZ}/roleDefinitions`, {
      'api-version': ROLE_API_VERSION,
      $filter: filter,
    }))
      out.push(...page.value);
    return out;
  }

  async getRoleDefinition(scope: string, guid: string): Promise<RoleDefinition | undefined> {
    return this.getOrUndefined<RoleDefinition>(
      `${normaliseScope(scope)}${AUTHZ}/roleDefinitions/${encodeURIComponent(guid)}`,
      ROLE_API_VERSION,
    );
  }

  // --- role assignments ---------------------------------------------------------------------

  /** Create (201) or find the identical one again (200). 409 RoleAssignmentExists and 400s go up as HttpError. */
  async putRoleAssignment(
    scope: string,
    name: string,
    properties: RoleAssignmentProperties,
  ): Promise<{ created: boolean; assignment: RoleAssignment }> {
    const r = await this.arm.http.request<RoleAssignment>({
      method: 'PUT',
      path: this.assignmentPath(scope, name),
      query: { 'api-version': ROLE_API_VERSION },
      json: { properties },
    });
    return { created: r.status === 201, assignment: r.body };
  }

  async getRoleAssignment(scope: string, name: string): Promise<RoleAssignment | undefined> {
    return this.getOrUndefined<RoleAssignment>(this.assignmentPath(scope, name), ROLE_API_VERSION);
  }

  /** The deleted assignment, or undefined when it was already gone (204). */
  async deleteRoleAssignment(scope: string, name: string): Promise<RoleAssignment | undefined> {
    const r = await this.arm.http.request<RoleAssignment>({
      method: 'DELETE',
      path: this.assignmentPath(scope, name),
      query: { 'api-version': ROLE_API_VERSION },
    });
    return r.status === 204 ? undefined : r.body;
  }

  /** Assignments that apply at a scope (`atScope()`, `principalId eq '…'`), one page at a time. */
  listRoleAssignments(scope: string, filter?: string): AsyncGenerator<ArmPage<RoleAssignment>> {
    return this.pages<RoleAssignment>(`${normaliseScope(scope)}${AUTHZ}/roleAssignments`, {
      'api-version': ROLE_API_VERSION,
      $filter: filter,
    });
  }

  // --- PIM ----------------------------------------------------------------------------------

  async putScheduleRequest(scope: string, name: string, properties: ScheduleRequestInput): Promise<ScheduleRequest> {
    const r = await this.arm.http.request<ScheduleRequest>({
      method: 'PUT',
      path: this.requestPath(scope, name),
      query: { 'api-version': PIM_API_VERSION },
      json: { properties },
    });
    return r.body;
  }

  async getScheduleRequest(scope: string, name: string): Promise<ScheduleRequest | undefined> {
    return this.getOrUndefined<ScheduleRequest>(this.requestPath(scope, name), PIM_API_VERSION);
  }

  listScheduleRequests(scope: string, filter?: string): AsyncGenerator<ArmPage<ScheduleRequest>> {
    return this.pages<ScheduleRequest>(`${normaliseScope(scope)}${AUTHZ}/roleAssignmentScheduleRequests`, {
      'api-version': PIM_API_VERSION,
      $filter: filter,
    });
  }

  /** Cancel a pending request (200). */
  async cancelScheduleRequest(scope: string, name: string): Promise<void> {
    await this.arm.http.request({
      method: 'POST',
      path: `${this.requestPath(scope, name)}/cancel`,
      query: { 'api-version': PIM_API_VERSION },
    });
  }

  /** Active assignments now (`atScope()`, `principalId eq '…'`, `assignedTo('…')`), one page at a time. */
  listScheduleInstances(scope: string, filter?: string): AsyncGenerator<ArmPage<ScheduleInstance>> {
    return this.pages<ScheduleInstance>(`${normaliseScope(scope)}${AUTHZ}/roleAssignmentScheduleInstances`, {
      'api-version': PIM_API_VERSION,
      $filter: filter,
    });
  }

  private assignmentPath(scope: string, name: string): string {
    return `${normaliseScope(scope)}${AUTHZ}/roleAssignments/${encodeURIComponent(name)}`;
  }

  private requestPath(scope: string, name: string): string {
    return `${normaliseScope(scope)}${AUTHZ}/roleAssignmentScheduleRequests/${encodeURIComponent(name)}`;
  }

  /** Follow nextLink (absolute, carrying api-version and $skipToken) on ARM's own host only. */
  private async *pages<T>(path: string, query: Record<string, string | undefined>): AsyncGenerator<ArmPage<T>> {
    let r = await this.arm.http.request<ArmPage<T>>({ method: 'GET', path, query });
    for (;;) {
      const page = { value: r.body?.value ?? [], nextLink: r.body?.nextLink || undefined };
      yield page;
      if (!page.nextLink) return;
      if (new URL(page.nextLink).origin !== new URL(this.arm.http.baseUrl).origin)
        throw new Error(`ARM nextLink ${page.nextLink} leaves ${this.arm.http.baseUrl}`);
      r = await this.arm.http.request<ArmPage<T>>({ method: 'GET', path: page.nextLink });
    }
  }

  private async getOrUndefined<T>(path: string, apiVersion: string): Promise<T | undefined> {
    try {
      return (await this.arm.http.request<T>({ method: 'GET', path, query: { 'api-version': apiVersion } })).body;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }
}
