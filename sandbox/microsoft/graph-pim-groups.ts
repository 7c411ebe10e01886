import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import type { OffsetClock } from '../shared/clock.ts';
import type { Entra } from './entra.ts';
import { GROUP_PERMISSIONS as P } from './constants.ts';
import { GraphFailure, authorizeGraph, type GraphCaller } from './graph-http.ts';
import { groupKinds, readableTypes } from './groups-kinds.ts';
import type { Directory, DirectoryObject } from './groups-model.ts';
import { conditions } from './odata-filter.ts';
import { parseSchedule } from './pim-schedule.ts';
import { entityResponse, listResponse, parseOptions, type EntityKind } from './odata.ts';

/**
 * PIM for Groups (api-reference/v1.0/api/privilegedaccessgroup-*.md; CSDL privilegedAccessGroup*):
 * `assignmentScheduleRequests` (POST adminAssign / adminUpdate / adminRemove, GET), `assignmentSchedules` and
 * `assignmentScheduleInstances` (both need `$filter` on groupId or principalId). An assignment is a
 * schedule that makes the membership (or ownership) at its start and ends it at its end, on sandbox
 * time; memberships made otherwise show as permanent direct assignments, as PIM shows them.
 */

const REQUESTS = 'pim-group-requests';
const SCHEDULES = 'pim-group-schedules';
const ROOT = 'identityGovernance/privilegedAccess/group';
const ACTIONS = [
  'adminAssign',
  'adminUpdate',
  'adminRemove',
  'selfActivate',
  'selfDeactivate',
  'adminExtend',
  'adminRenew',
  'selfExtend',
  'selfRenew',
];
type AccessId = 'member' | 'owner';

interface Schedule {
  id: string;
  groupId: string;
  principalId: string;
  accessId: AccessId;
  startMs: number;
  /** null: no expiration. */
  endMs: number | null;
  scheduleInfo: Record<string, unknown>;
  createdUsing: string;
  createdDateTime: string;
  /** Whether the membership has been made (a schedule may start in the future). */
  applied: boolean;
}
type Request = Record<string, unknown> & { id: string; groupId: string; principalId: string };

const iso = (ms: number) => new Date(ms).toISOString();
const invalid = (message: string, code = 'InvalidRequest') => new GraphFailure(400, code, message);

export interface PimDeps {
  store: DocStore;
  entra: Entra;
  clock: OffsetClock;
  directory: Directory;
}

export class PimGroups {
  constructor(private readonly d: PimDeps) {}

  schedules(): Schedule[] {
    return this.d.store.list<Schedule>(SCHEDULES);
  }

  /** Make the memberships whose schedule started and end those whose schedule is over (sandbox time). */
  sweep(): void {
    const now = this.d.clock.now();
    for (const s of this.schedules()) {
      if (s.endMs !== null && s.endMs <= now) {
        if (s.applied) this.d.directory.removeMember(s.groupId, s.principalId, s.accessId);
        this.d.store.delete(SCHEDULES, s.id);
      } else if (!s.applied && s.startMs <= now) {
        this.d.directory.addMember(s.groupId, s.principalId, s.accessId);
        this.d.store.put(SCHEDULES, s.id, { ...s, applied: true });
      }
    }
  }

  private find(groupId: string, principalId: string, accessId: AccessId): Schedule | undefined {
    const [g, p] = [groupId.toLowerCase(), principalId.toLowerCase()];
    return this.schedules().find(
      (s) => s.groupId.toLowerCase() === g && s.principalId.toLowerCase() === p && s.accessId === accessId,
    );
  }

  private holds(groupId: string, principalId: string, accessId: AccessId): boolean {
    const g = this.d.directory.group(groupId);
    const list = accessId === 'member' ? (g?.members ?? []) : (g?.owners ?? []);
    return list.some((m) => m.toLowerCase() === principalId.toLowerCase());
  }

  /** Every assignment of the tenant as a schedule: PIM's own, then other memberships as permanent ones. */
  allSchedules(
    activeOnly: boolean,
  ): (Omit<Schedule, 'scheduleInfo' | 'createdUsing' | 'createdDateTime'> & Partial<Schedule>)[] {
    const now = this.d.clock.now();
    const mine = this.schedules().filter((s) => !activeOnly || s.applied || s.startMs <= now);
    const covered = new Set(mine.map((s) => `${s.groupId}|${s.principalId}|${s.accessId}`.toLowerCase()));
    const permanent = this.d.directory.groups().flatMap((g) =>
      (['member', 'owner'] as const).flatMap((accessId) =>
        (accessId === 'member' ? g.members : (g.owners ?? []))
          .filter((p) => !covered.has(`${g.id}|${p}|${accessId}`.toLowerCase()))
          .map((p) => ({
            id: `${g.id}_${accessId}_${p}`,
            groupId: g.id,
            principalId: p,
            accessId,
            startMs: NaN,
            endMs: null,
            applied: true,
          })),
      ),
    );
    return [...mine, ...permanent];
  }

  /** POST assignmentScheduleRequests: validate, then apply at once (status Provisioned / Revoked). */
  create(body: Record<string, any>, caller: GraphCaller): Request {
    this.sweep();
    const now = this.d.clock.now();
    const action = body.action;
    if (typeof action !== 'string' || !ACTIONS.includes(action))
      throw invalid(`The value '${String(action)}' is not valid for the property 'action'.`, 'BadRequest');
    if (action !== 'adminAssign' && action !== 'adminRemove' && action !== 'adminUpdate')
      throw new GraphFailure(
        501,
        'NotImplemented',
        `The Ticketloop sandbox does not implement the action '${action}'.`,
      );
    const accessId = body.accessId;
    if (accessId !== 'member' && accessId !== 'owner')
      throw invalid(`The value '${String(accessId)}' is not valid for the property 'accessId'.`, 'BadRequest');
    for (const k of ['groupId', 'principalId'])
      if (typeof body[k] !== 'string' || !body[k]) throw invalid(`The property '${k}' is required.`);
    const group = this.d.directory.group(body.groupId);
    if (!group) throw invalid(`The group '${body.groupId}' was not found.`, 'ResourceNotFound');
    const principal = this.d.directory.object(body.principalId);
    if (!principal) throw invalid(`The principal '${body.principalId}' was not found.`, 'ResourceNotFound');

    const requestId = randomUUID();
    let targetScheduleId: string;
    let status: string;
    let scheduleInfo: Record<string, unknown>;
    if (action === 'adminUpdate') {
      ({ targetScheduleId, scheduleInfo } = this.update(group.id, principal.id, accessId, body, requestId, now));
      status = 'Provisioned';
    } else if (action === 'adminAssign') {
      const { start, end, exp } = parseSchedule(body.scheduleInfo, now);
      // An assignment that exists (PIM's or a plain membership) is refused, as ARM PIM refuses it (pod-wire-format §2.3).
      if (this.find(group.id, principal.id, accessId) || this.holds(group.id, principal.id, accessId))
        throw invalid('The Role assignment already exists.', 'RoleAssignmentExists');
      scheduleInfo = {
        startDateTime: iso(start),
        recurrence: null,
        expiration: {
          type: exp.type ?? 'noExpiration',
          endDateTime: end === null ? null : iso(end),
          duration: exp.type === 'afterDuration' ? exp.duration : null,
        },
      };
      const schedule: Schedule = {
        id: `${group.id}_${accessId}_${randomUUID()}`,
        groupId: group.id,
        principalId: principal.id,
        accessId,
        startMs: start,
        endMs: end,
        scheduleInfo,
        createdUsing: requestId,
        createdDateTime: iso(now),
        applied: false,
      };
      targetScheduleId = schedule.id;
      status = start <= now ? 'Provisioned' : 'ScheduleCreated';
      if (!body.isValidationOnly) {
        this.d.store.put(SCHEDULES, schedule.id, schedule);
        this.sweep();
      }
    } else {
      const schedule = this.find(group.id, principal.id, accessId);
      if (!schedule && !this.holds(group.id, principal.id, accessId))
        throw invalid('The Role assignment does not exist.', 'RoleAssignmentDoesNotExist');
      targetScheduleId = schedule?.id ?? `${group.id}_${accessId}_${principal.id}`;
      scheduleInfo = {
        startDateTime: iso(now),
        recurrence: null,
        expiration: { type: 'noExpiration', endDateTime: null, duration: null },
      };
      status = 'Revoked';
      if (!body.isValidationOnly) {
        if (schedule) this.d.store.delete(SCHEDULES, schedule.id);
        this.d.directory.removeMember(group.id, principal.id, accessId);
      }
    }
    const request: Request = {
      id: requestId,
      status,
      completedDateTime: iso(now),
      createdDateTime: iso(now),
      approvalId: null,
      customData: typeof body.customData === 'string' ? body.customData : null,
      createdBy: { application: { id: caller.appId, displayName: null }, device: null, user: null },
      action,
      isValidationOnly: body.isValidationOnly === true,
      justification: typeof body.justification === 'string' ? body.justification : null,
      scheduleInfo,
      ticketInfo: {
        ticketNumber: body.ticketInfo?.ticketNumber ?? null,
        ticketSystem: body.ticketInfo?.ticketSystem ?? null,
      },
      accessId,
      principalId: principal.id,
      groupId: group.id,
      targetScheduleId,
    };
    if (!body.isValidationOnly) this.d.store.put(REQUESTS, requestId, request);
    return request;
  }

  /**
   * adminUpdate ("for administrators to change existing group membership or ownership assignments"):
   * the schedule of an existing assignment gets the new end; a plain membership becomes a scheduled
   * one; none → RoleAssignmentDoesNotExist, as adminRemove answers.
   */
  private update(
    groupId: string,
    principalId: string,
    accessId: AccessId,
    body: Record<string, any>,
    requestId: string,
    now: number,
  ): { targetScheduleId: string; scheduleInfo: Record<string, unknown> } {
    const existing = this.find(groupId, principalId, accessId);
    if (!existing && !this.holds(groupId, principalId, accessId))
      throw invalid('The Role assignment does not exist.', 'RoleAssignmentDoesNotExist');
    const { end, exp } = parseSchedule(body.scheduleInfo, now);
    const startMs = existing?.startMs ?? now;
    const scheduleInfo = {
      startDateTime: iso(startMs),
      recurrence: null,
      expiration: {
        type: exp.type ?? 'noExpiration',
        endDateTime: end === null ? null : iso(end),
        duration: exp.type === 'afterDuration' ? exp.duration : null,
      },
    };
    const schedule: Schedule = existing
      ? { ...existing, endMs: end, scheduleInfo, createdUsing: requestId }
      : {
          id: `${groupId}_${accessId}_${randomUUID()}`,
          groupId,
          principalId,
          accessId,
          startMs,
          endMs: end,
          scheduleInfo,
          createdUsing: requestId,
          createdDateTime: iso(now),
          applied: true,
        };
    if (!body.isValidationOnly) this.d.store.put(SCHEDULES, schedule.id, schedule);
    return { targetScheduleId: schedule.id, scheduleInfo };
  }

  requests(): Request[] {
    return this.d.store.list<Request>(REQUESTS);
  }
  request(id: string): Request | undefined {
    return this.d.store.get<Request>(REQUESTS, id);
  }
}

/** The listing of schedules and instances "requires the $filter (eq) query parameter to scope the request to a principalId or a groupId". */
function requireScope(req: FastifyRequest): void {
  const text = (req.query as Record<string, string>).$filter;
  const options = text ? parseOptions({ $filter: text }, 'privilegedAccessGroupAssignmentScheduleInstance') : undefined;
  const scoped =
    options?.filter &&
    conditions(options.filter).some((c) => c.op === 'eq' && /^(groupId|principalId)$/i.test(c.property));
  if (!scoped) throw invalid('The request must be filtered on groupId or principalId (eq).', 'BadRequest');
}

export function registerGraphPimGroups(app: FastifyInstance, d: PimDeps, pim: PimGroups, baseUrl: () => string): void {
  /** The kinds for one caller: $expand=group / principal shows what it may read. */
  const kinds = (caller: GraphCaller) => {
    const gk = groupKinds(d.directory, readableTypes(caller));
    const nav = {
      group: (x: { groupId: string }) => ({ kind: gk.group, value: d.directory.group(x.groupId) ?? null }),
      principal: (x: { principalId: string }) => ({
        kind: gk.directoryObject,
        value: (d.directory.object(x.principalId) as DirectoryObject | undefined) ?? null,
      }),
    };
    const instance: EntityKind<ReturnType<PimGroups['allSchedules']>[number]> = {
      type: 'privilegedAccessGroupAssignmentScheduleInstance',
      nav,
      shape: (s) => ({
        id: s.id,
        startDateTime: Number.isNaN(s.startMs) ? null : iso(s.startMs),
        endDateTime: s.endMs === null ? null : iso(s.endMs),
        accessId: s.accessId,
        assignmentScheduleId: s.id,
        assignmentType: 'assigned',
        groupId: s.groupId,
        memberType: 'direct',
        principalId: s.principalId,
      }),
    };
    const schedule: EntityKind<ReturnType<PimGroups['allSchedules']>[number]> = {
      type: 'privilegedAccessGroupAssignmentSchedule',
      nav,
      shape: (s) => ({
        id: s.id,
        createdDateTime: s.createdDateTime ?? null,
        createdUsing: s.createdUsing ?? null,
        modifiedDateTime: s.createdDateTime ?? null,
        scheduleInfo: s.scheduleInfo ?? {
          startDateTime: null,
          recurrence: null,
          expiration: { type: 'noExpiration', endDateTime: null, duration: null },
        },
        status: 'Provisioned',
        accessId: s.accessId,
        assignmentType: 'assigned',
        groupId: s.groupId,
        memberType: 'direct',
        principalId: s.principalId,
      }),
    };
    const request: EntityKind<Request> = {
      type: 'privilegedAccessGroupAssignmentScheduleRequest',
      nav,
      selectKeepsId: true,
      shape: (r) => r,
    };
    return { instance, schedule, request };
  };

  for (const v of ['v1.0', 'beta']) {
    const base = `/${v}/${ROOT}`;
    app.post(`${base}/assignmentScheduleRequests`, async (req, reply) => {
      const caller = await authorizeGraph(d.entra, req, P.pimWrite);
      const r = pim.create((req.body ?? {}) as Record<string, unknown>, caller);
      return reply
        .code(201)
        .send(entityResponse(req, baseUrl(), `${ROOT}/assignmentScheduleRequests`, kinds(caller).request, r));
    });
    app.get(`${base}/assignmentScheduleRequests`, async (req) => {
      const caller = await authorizeGraph(d.entra, req, P.pimRead);
      return listResponse(req, baseUrl(), `${ROOT}/assignmentScheduleRequests`, kinds(caller).request, pim.requests());
    });
    app.get<{ Params: { id: string } }>(`${base}/assignmentScheduleRequests/:id`, async (req) => {
      const caller = await authorizeGraph(d.entra, req, P.pimRead);
      const r = pim.request(req.params.id);
      if (!r) throw new GraphFailure(404, 'ResourceNotFound', `The request '${req.params.id}' was not found.`);
      return entityResponse(req, baseUrl(), `${ROOT}/assignmentScheduleRequests`, kinds(caller).request, r);
    });
    for (const [path, activeOnly] of [
      ['assignmentScheduleInstances', true],
      ['assignmentSchedules', false],
    ] as const) {
      app.get(`${base}/${path}`, async (req) => {
        const caller = await authorizeGraph(d.entra, req, P.pimRead);
        pim.sweep();
        requireScope(req);
        const k = kinds(caller);
        return listResponse(
          req,
          baseUrl(),
          `${ROOT}/${path}`,
          activeOnly ? k.instance : k.schedule,
          pim.allSchedules(activeOnly),
        );
      });
      app.get<{ Params: { id: string } }>(`${base}/${path}/:id`, async (req) => {
        const caller = await authorizeGraph(d.entra, req, P.pimRead);
        pim.sweep();
        const s = pim.allSchedules(activeOnly).find((x) => x.id.toLowerCase() === req.params.id.toLowerCase());
        if (!s) throw new GraphFailure(404, 'ResourceNotFound', `The schedule '${req.params.id}' was not found.`);
        const k = kinds(caller);
        return entityResponse(req, baseUrl(), `${ROOT}/${path}`, activeOnly ? k.instance : k.schedule, s);
      });
    }
  }
}
