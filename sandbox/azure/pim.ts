import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ArmError, firstQuery, nextLink, offsetPage, requireApiVersion } from './arm.ts';
import { checkExpirationRule, schedule } from './pim-schedule.ts';
import { principalOf } from './auth.ts';
import {
  assignmentId,
  assignmentsFor,
  createAssignment,
  isActive,
  newName,
  sweepExpired,
  type AssignmentCtx,
} from './assignments.ts';
import {
  AUTHZ,
  PIM_API_VERSIONS,
  PRINCIPAL_TYPES,
  canonicalScope,
  checkScope,
  isGuid,
  parseFilter,
  relation,
  roleDefinitionIdAt,
  roleGuidOf,
  scopeType,
  type ScopeRelation,
} from './authz.ts';
import type { StoredAssignment, StoredScheduleRequest } from './authz-store.ts';
import type { RouteTable } from './dispatch.ts';

/**
 * PIM for Azure resources (2020-10-01, `RoleAssignmentScheduleRequest.json`,
 * `RoleAssignmentScheduleInstance.json` and their examples): AdminAssign makes an active
 * assignment that ends by itself at its end (sandbox time) and shows in the role assignment lists
 * too; AdminUpdate moves the end of an active one (the policy's ExpirationRule applies to the new
 * schedule); AdminRemove ends one, refused within 5 minutes of its start (ActiveDurationTooShort);
 * a duration over the role's policy maximum fails the ExpirationRule. Policy errors carry PIM's
 * CloudError `{error:{code,message}}`.
 */

const MIN_ACTIVE_MS = 5 * 60_000;
const REQUEST_TYPES = [
  'AdminAssign',
  'AdminRemove',
  'AdminUpdate',
  'AdminExtend',
  'AdminRenew',
  'SelfActivate',
  'SelfDeactivate',
  'SelfExtend',
  'SelfRenew',
];

const RX = {
  requests: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleRequests$/i,
  request: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleRequests\/([^/]+)$/i,
  cancel: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleRequests\/([^/]+)\/cancel$/i,
  instances: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleInstances$/i,
  instance: /^(\/.*)?\/providers\/Microsoft\.Authorization\/roleAssignmentScheduleInstances\/([^/]+)$/i,
};

const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
const pimError = (code: string, message: string) => new ArmError(400, code, message);
const prefix = (scope: string) => (scope === '/' ? '' : scope);

export function pimRoutes(ctx: AssignmentCtx): RouteTable {
  const v = (type: string) => (req: FastifyRequest) => requireApiVersion(q(req), PIM_API_VERSIONS, type);
  const vr = v('roleAssignmentScheduleRequests');
  const vi = v('roleAssignmentScheduleInstances');
  return [
    [RX.requests, { GET: (req, _r, m) => (vr(req), listRequests(ctx, req, canonicalScope(m[1]))) }],
    [RX.cancel, { POST: (req, reply, m) => (vr(req), cancelRequest(ctx, reply, canonicalScope(m[1]), m[2])) }],
    [
      RX.request,
      {
        GET: (req, _r, m) => (vr(req), requestResource(ctx, getRequest(ctx, canonicalScope(m[1]), m[2]))),
        PUT: (req, reply, m) => (vr(req), putRequest(ctx, req, reply, canonicalScope(m[1]), m[2])),
      },
    ],
    [RX.instances, { GET: (req, _r, m) => (vi(req), listInstances(ctx, req, canonicalScope(m[1]))) }],
    [RX.instance, { GET: (req, _r, m) => (vi(req), getInstance(ctx, canonicalScope(m[1]), m[2])) }],
  ];
}

function expanded(ctx: AssignmentCtx, scope: string, roleGuid: string, principalId: string, principalType: string) {
  const segs = scope.split('/').filter(Boolean);
  const type = scopeType(scope);
  const displayName =
    type === 'subscription'
      ? (ctx.store.subscription(segs[1])?.displayName ?? segs[1])
      : type === 'managementgroup'
        ? (ctx.store.managementGroup(segs[3])?.displayName ?? segs[3])
        : (segs[segs.length - 1] ?? 'Root');
  const role = ctx.roles.find(roleGuid);
  return {
    scope: { id: scope, displayName, type },
    roleDefinition: {
      id: roleDefinitionIdAt(scope, roleGuid),
      displayName: role?.properties.roleName ?? roleGuid,
      type: role?.properties.type ?? 'BuiltInRole',
    },
    // The sandbox has no directory names for principals: the id stands in for the display name.
    principal: { id: principalId, displayName: principalId, email: null, type: principalType },
  };
}

/** Field order as `PutRoleAssignmentScheduleRequest.json`'s response. */
function requestResource(ctx: AssignmentCtx, r: StoredScheduleRequest) {
  return {
    properties: {
      targetRoleAssignmentScheduleId: r.targetRoleAssignmentScheduleId,
      targetRoleAssignmentScheduleInstanceId: r.targetRoleAssignmentScheduleInstanceId,
      scope: r.scope,
      roleDefinitionId: roleDefinitionIdAt(r.scope, r.roleGuid),
      principalId: r.principalId,
      principalType: r.principalType,
      requestType: r.requestType,
      status: r.status,
      approvalId: null,
      scheduleInfo: r.scheduleInfo,
      ticketInfo: r.ticketInfo,
      justification: r.justification,
      requestorId: r.requestorId,
      createdOn: r.createdOn,
      condition: r.condition,
      conditionVersion: r.conditionVersion,
      expandedProperties: expanded(ctx, r.scope, r.roleGuid, r.principalId, r.principalType),
    },
    name: r.name,
    id: `${prefix(r.scope)}${AUTHZ}/RoleAssignmentScheduleRequests/${r.name}`,
    type: 'Microsoft.Authorization/RoleAssignmentScheduleRequests',
  };
}

function getRequest(ctx: AssignmentCtx, scope: string, name: string): StoredScheduleRequest {
  const r = ctx.authz.request(name);
  if (!r || r.scope.toLowerCase() !== scope.toLowerCase())
    throw new ArmError(
      404,
      'RoleAssignmentScheduleRequestNotFound',
      `The role assignment schedule request '${name}' was not found.`,
    );
  return r;
}

function putRequest(ctx: AssignmentCtx, req: FastifyRequest, reply: FastifyReply, scope: string, name: string) {
  const p = ((req.body ?? {}) as { properties?: Record<string, any> }).properties;
  if (!isGuid(name))
    throw pimError('InvalidRoleAssignmentScheduleRequestName', `The request name '${name}' must be a GUID.`);
  if (!p || typeof p !== 'object' || p.roleDefinitionId == null || p.principalId == null || p.requestType == null)
    throw pimError(
      'InvalidRequestContent',
      "'properties.roleDefinitionId', 'principalId' and 'requestType' are required.",
    );
  if (!REQUEST_TYPES.includes(p.requestType))
    throw pimError('InvalidRequestType', `The request type '${String(p.requestType)}' is not valid.`);
  if (!['AdminAssign', 'AdminRemove', 'AdminUpdate'].includes(p.requestType))
    throw pimError(
      'RequestTypeNotSupported',
      `The sandbox models AdminAssign, AdminUpdate and AdminRemove, not '${p.requestType}'.`,
    );
  if (ctx.authz.request(name))
    throw pimError('RoleAssignmentRequestExists', `The role assignment request with ID '${name}' already exists.`);
  const roleGuid = roleGuidOf(p.roleDefinitionId);
  if (!roleGuid || !ctx.roles.find(roleGuid, scope))
    throw pimError(
      'RoleDefinitionDoesNotExist',
      `The specified role definition with ID '${roleGuid ?? String(p.roleDefinitionId)}' does not exist.`,
    );
  if (!isGuid(p.principalId)) throw pimError('InvalidPrincipalId', 'A valid principal ID must be provided.');
  checkScope(ctx.store, scope);
  sweepExpired(ctx);
  const now = ctx.clock.now();
  const principalId = String(p.principalId).toLowerCase();
  const principalType = PRINCIPAL_TYPES.includes(p.principalType) ? p.principalType : 'User';
  const caller = principalOf(req)?.oid ?? null;
  const base = {
    name: name.toLowerCase(),
    scope,
    roleGuid,
    principalId,
    principalType,
    requestType: p.requestType as string,
    justification: typeof p.justification === 'string' ? p.justification : null,
    ticketInfo: {
      ticketNumber: typeof p.ticketInfo?.ticketNumber === 'string' ? p.ticketInfo.ticketNumber : null,
      ticketSystem: typeof p.ticketInfo?.ticketSystem === 'string' ? p.ticketInfo.ticketSystem : null,
    },
    requestorId: caller,
    createdOn: new Date(now).toISOString(),
    condition: typeof p.condition === 'string' ? p.condition : null,
    conditionVersion: typeof p.conditionVersion === 'string' ? p.conditionVersion : null,
  };
  const existing = ctx.authz.assignmentsOf(scope, principalId, roleGuid);

  const r: StoredScheduleRequest = ctx.authz.transaction(() => {
    if (p.requestType === 'AdminRemove') {
      const active = existing.find((a) => isActive(a, now));
      if (!active) throw pimError('RoleAssignmentDoesNotExist', 'The Role assignment does not exist.');
      const started = Date.parse(active.pim?.startDateTime ?? active.createdOn);
      if (now - started < MIN_ACTIVE_MS)
        throw pimError('ActiveDurationTooShort', 'The Active duration is too short. Miniumum Required is 5 minutes.');
      ctx.authz.deleteAssignment(active.name);
      return ctx.authz.putRequest({
        ...base,
        status: 'Revoked',
        scheduleInfo: {
          startDateTime: base.createdOn,
          expiration: { type: 'NoExpiration', endDateTime: null, duration: null },
        },
        targetRoleAssignmentScheduleId: active.pim?.scheduleId ?? active.name,
        targetRoleAssignmentScheduleInstanceId: null,
      });
    }
    const s = schedule(p.scheduleInfo, now);
    if (p.requestType === 'AdminUpdate') return updateRequest(ctx, base, existing, s, now);
    checkExpirationRule(ctx, roleGuid, s);
    if (existing.length > 0) throw pimError('RoleAssignmentExists', 'Role assignment already exists.');
    const scheduleId = randomUUID();
    const created = createAssignment(ctx, {
      scope,
      name: newName(),
      roleDefinitionId: roleGuid,
      principalId,
      principalType,
      createdBy: caller,
    }).assignment;
    created.pim = {
      scheduleId,
      requestName: base.name,
      startDateTime: s.info.startDateTime,
      endDateTime: s.end === undefined ? undefined : new Date(s.end).toISOString(),
    };
    ctx.authz.updateAssignment(created);
    return ctx.authz.putRequest({
      ...base,
      status: s.start <= now ? 'Provisioned' : 'Granted',
      scheduleInfo: s.info,
      targetRoleAssignmentScheduleId: scheduleId,
      targetRoleAssignmentScheduleInstanceId: null,
      assignmentName: created.name,
    });
  });
  return reply.code(201).send(requestResource(ctx, r));
}

/**
 * AdminUpdate ("for administrators to change existing role assignments"): the active assignment of
 * the triple keeps its start and gets the new end; none active → RoleAssignmentDoesNotExist. A plain
 * RBAC assignment (a permanent instance) becomes a scheduled one.
 */
function updateRequest(
  ctx: AssignmentCtx,
  base: Omit<
    StoredScheduleRequest,
    'status' | 'scheduleInfo' | 'targetRoleAssignmentScheduleId' | 'targetRoleAssignmentScheduleInstanceId'
  >,
  existing: StoredAssignment[],
  s: ReturnType<typeof schedule>,
  now: number,
): StoredScheduleRequest {
  const active = existing.find((a) => isActive(a, now));
  if (!active) throw pimError('RoleAssignmentDoesNotExist', 'The Role assignment does not exist.');
  checkExpirationRule(ctx, base.roleGuid, s);
  if (s.end! <= now) throw pimError('InvalidScheduleInfo', 'The end of the schedule must be in the future.');
  const scheduleId = active.pim?.scheduleId ?? randomUUID();
  ctx.authz.updateAssignment({
    ...active,
    pim: {
      scheduleId,
      requestName: base.name,
      startDateTime: active.pim?.startDateTime ?? active.createdOn,
      endDateTime: new Date(s.end!).toISOString(),
    },
  });
  return ctx.authz.putRequest({
    ...base,
    status: 'Provisioned',
    scheduleInfo: s.info,
    targetRoleAssignmentScheduleId: scheduleId,
    targetRoleAssignmentScheduleInstanceId: null,
    assignmentName: active.name,
  });
}

/** Only a request whose assignment has not started can be canceled (the sandbox has no approvals). */
function cancelRequest(ctx: AssignmentCtx, reply: FastifyReply, scope: string, name: string) {
  const r = getRequest(ctx, scope, name);
  const a = r.assignmentName ? ctx.authz.assignment(r.assignmentName) : undefined;
  if (r.status !== 'Granted' || !a || isActive(a, ctx.clock.now()))
    throw pimError(
      'RoleAssignmentRequestNotCancelable',
      `The request '${name}' is in status '${r.status}' and cannot be canceled.`,
    );
  ctx.authz.deleteAssignment(a.name);
  ctx.authz.putRequest({ ...r, status: 'Canceled' });
  return reply.code(200).send();
}

function listRequests(ctx: AssignmentCtx, req: FastifyRequest, scope: string) {
  checkScope(ctx.store, scope);
  const f = parseFilter(firstQuery(q(req), '$filter'), [
    'atScope',
    'principalId',
    'asRequestor',
    'asTarget',
    'roleDefinitionId',
  ]);
  const me = principalOf(req)?.oid?.toLowerCase();
  const all = ctx.authz
    .requests()
    .filter((r) => {
      const rel = relation(ctx.hierarchy, r.scope, scope);
      if (!rel || (f.atScope && rel === 'below')) return false;
      if (f.principalId && r.principalId !== f.principalId.toLowerCase()) return false;
      if (f.roleDefinitionId && r.roleGuid !== roleGuidOf(f.roleDefinitionId)) return false;
      if (f.asRequestor && r.requestorId?.toLowerCase() !== me) return false;
      if (f.asTarget && r.principalId !== me) return false;
      return true;
    })
    .map((r) => requestResource(ctx, r));
  return paged(ctx, req, all, `${prefix(scope)}${AUTHZ}/roleAssignmentScheduleRequests`);
}

function paged<T>(ctx: AssignmentCtx, req: FastifyRequest, all: T[], path: string) {
  const page = offsetPage(all, firstQuery(q(req), '$skipToken'), ctx.authz.settings().pageSize);
  return page.next
    ? { value: page.value, nextLink: nextLink(req.headers.host, q(req), path, page.next) }
    : { value: page.value };
}

/** Field order as `GetRoleAssignmentScheduleInstancesByScope.json`. Plain RBAC assignments are permanent instances. */
function instanceResource(ctx: AssignmentCtx, a: StoredAssignment, rel: ScopeRelation) {
  const scheduleId = a.pim?.scheduleId ?? a.name;
  return {
    properties: {
      originRoleAssignmentId: assignmentId(a),
      linkedRoleEligibilityScheduleId: null,
      linkedRoleEligibilityScheduleInstanceId: null,
      assignmentType: 'Assigned',
      scope: a.scope,
      roleDefinitionId: roleDefinitionIdAt(a.scope, a.roleGuid),
      principalId: a.principalId,
      principalType: a.principalType,
      status: 'Provisioned',
      roleAssignmentScheduleId: `${prefix(a.scope)}${AUTHZ}/RoleAssignmentSchedules/${scheduleId}`,
      startDateTime: a.pim?.startDateTime ?? a.createdOn,
      endDateTime: a.pim?.endDateTime ?? null,
      memberType: rel === 'above' ? 'Inherited' : 'Direct',
      createdOn: a.createdOn,
      condition: a.condition ?? null,
      conditionVersion: a.conditionVersion ?? null,
      expandedProperties: expanded(ctx, a.scope, a.roleGuid, a.principalId, a.principalType),
    },
    name: a.name,
    id: `${prefix(a.scope)}${AUTHZ}/RoleAssignmentScheduleInstances/${a.name}`,
    type: 'Microsoft.Authorization/RoleAssignmentScheduleInstances',
  };
}

function listInstances(ctx: AssignmentCtx, req: FastifyRequest, scope: string) {
  checkScope(ctx.store, scope);
  const f = parseFilter(firstQuery(q(req), '$filter'), [
    'atScope',
    'principalId',
    'assignedTo',
    'asTarget',
    'roleDefinitionId',
  ]);
  if (f.asTarget) f.principalId = principalOf(req)?.oid ?? '';
  const all = assignmentsFor(ctx, scope, f).map((x) => instanceResource(ctx, x.a, x.rel));
  return paged(ctx, req, all, `${prefix(scope)}${AUTHZ}/roleAssignmentScheduleInstances`);
}

function getInstance(ctx: AssignmentCtx, scope: string, name: string) {
  sweepExpired(ctx);
  const a = ctx.authz.assignment(name);
  if (!a || a.scope.toLowerCase() !== scope.toLowerCase() || !isActive(a, ctx.clock.now()))
    throw new ArmError(
      404,
      'RoleAssignmentScheduleInstanceNotFound',
      `The role assignment schedule instance '${name}' was not found.`,
    );
  return instanceResource(ctx, a, 'at');
}
