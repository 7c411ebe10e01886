import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALEX,
  BROKER_ROLES,
  BREAK_GLASS,
  FINANCE,
  MEGAN,
  graphCaller,
  tokenWithRoles,
  withGroups,
  workload,
} from './helpers.ts';

/**
 * PIM for Groups on the Graph twin. Sources (microsoftgraph/microsoft-graph-docs-contrib,
 * api-reference/v1.0/api/): privilegedaccessgroup-post-assignmentschedulerequests.md (201, body and
 * response shape, status Provisioned, targetScheduleId), privilegedaccessgroup-list-assignmentscheduleinstances.md
 * (the `$filter` on groupId or principalId is required; permanent memberships listed with null dates),
 * privilegedaccessgroup-list-assignmentschedules.md; CSDL privilegedAccessGroup* (camelCase enums);
 * the PoD wire-format fact sheet (from Microsoft Graph docs group-post-members, group-delete-members, privilegedaccessgroup-post-assignmentschedulerequests) §3.3 and §2.3 (RoleAssignmentExists / RoleAssignmentDoesNotExist).
 */

const PIM = '/v1.0/identityGovernance/privilegedAccess/group';
const q = encodeURIComponent;

const assign = (principalId: string, groupId: string, expiration: Record<string, string>, extra = {}) => ({
  accessId: 'member',
  principalId,
  groupId,
  action: 'adminAssign',
  scheduleInfo: { expiration },
  justification: 'INC0010001: prod incident',
  ticketInfo: { ticketNumber: 'INC0010001', ticketSystem: 'ServiceNow' },
  ...extra,
});

test('adminAssign (afterDuration): 201 Provisioned, the membership exists, instances and schedules list it; the twin ends it at endDateTime', () =>
  withGroups(async (h, g) => {
    const r = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, BREAK_GLASS.id, { type: 'afterDuration', duration: 'PT2H' }, { customData: 'tl:key-1' }),
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(
      r.body['@odata.context'],
      `${h.sb.graphUrl}/v1.0/$metadata#identityGovernance/privilegedAccess/group/assignmentScheduleRequests/$entity`,
    );
    assert.equal(r.body.status, 'Provisioned');
    assert.equal(r.body.action, 'adminAssign');
    assert.equal(r.body.accessId, 'member');
    assert.equal(r.body.customData, 'tl:key-1');
    assert.deepEqual(r.body.ticketInfo, { ticketNumber: 'INC0010001', ticketSystem: 'ServiceNow' });
    assert.ok(r.body.targetScheduleId.startsWith(`${BREAK_GLASS.id}_member_`));
    const end = Date.parse(r.body.scheduleInfo.expiration.endDateTime);
    assert.ok(Math.abs(end - (h.sb.clock.now() + 2 * 3600_000)) < 10_000);

    const members = await g('GET', `/v1.0/groups/${BREAK_GLASS.id}/members?$select=id`);
    assert.deepEqual(
      members.body.value.map((m: { id: string }) => m.id),
      [ALEX.id],
    );

    const instances = await g(
      'GET',
      `${PIM}/assignmentScheduleInstances?$filter=${q(`groupId eq '${BREAK_GLASS.id}'`)}`,
    );
    assert.equal(instances.status, 200);
    assert.equal(instances.body.value.length, 1);
    const [i] = instances.body.value;
    assert.equal(i.principalId, ALEX.id);
    assert.equal(i.assignmentType, 'assigned');
    assert.equal(i.memberType, 'direct');
    assert.equal(i.assignmentScheduleId, r.body.targetScheduleId);
    assert.equal(Date.parse(i.endDateTime), end);
    const byPrincipal = await g(
      'GET',
      `${PIM}/assignmentScheduleInstances?$filter=${q(`principalId eq '${ALEX.id}'`)}`,
    );
    assert.ok(byPrincipal.body.value.some((x: { groupId: string }) => x.groupId === BREAK_GLASS.id));
    const schedules = await g('GET', `${PIM}/assignmentSchedules?$filter=${q(`groupId eq '${BREAK_GLASS.id}'`)}`);
    assert.equal(schedules.body.value[0].status, 'Provisioned');
    assert.equal(schedules.body.value[0].createdUsing, r.body.id);

    const got = await g('GET', `${PIM}/assignmentScheduleRequests/${r.body.id}`);
    assert.equal(got.body.id, r.body.id);
    const listed = await g('GET', `${PIM}/assignmentScheduleRequests?$filter=${q(`groupId eq '${BREAK_GLASS.id}'`)}`);
    assert.deepEqual(
      listed.body.value.map((x: { id: string }) => x.id),
      [r.body.id],
    );

    // The same assignment again: refused while it lasts.
    const dup = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, BREAK_GLASS.id, { type: 'afterDuration', duration: 'PT1H' }),
    );
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error.code, 'RoleAssignmentExists');

    // Sandbox time moves past the end: PIM ends the membership by itself.
    await h.call('POST', '/_sandbox/clock', { json: { advanceMs: 2 * 3600_000 + 60_000 } });
    g = graphCaller(h, await tokenWithRoles(h, BROKER_ROLES)); // the first token expired with the move
    const after = await g('GET', `/v1.0/groups/${BREAK_GLASS.id}/members`);
    assert.deepEqual(after.body.value, []);
    const none = await g('GET', `${PIM}/assignmentScheduleInstances?$filter=${q(`groupId eq '${BREAK_GLASS.id}'`)}`);
    assert.deepEqual(none.body.value, []);
  }));

test('adminAssign (afterDateTime) then adminRemove: Revoked, membership gone; remove of absent is RoleAssignmentDoesNotExist', () =>
  withGroups(async (h, g) => {
    const sp = await workload(h, 'Nightly batch');
    const endDateTime = new Date(h.sb.clock.now() + 8 * 3600_000).toISOString();
    const r = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(sp.id, BREAK_GLASS.id, { type: 'afterDateTime', endDateTime }),
    );
    assert.equal(r.status, 201);
    assert.equal(r.body.scheduleInfo.expiration.type, 'afterDateTime');
    assert.equal(r.body.scheduleInfo.expiration.endDateTime, endDateTime);
    const beta = await g('GET', `/beta/groups/${BREAK_GLASS.id}/members?$select=id`);
    assert.deepEqual(
      beta.body.value.map((m: { id: string }) => m.id),
      [sp.id],
    );

    const remove = { accessId: 'member', principalId: sp.id, groupId: BREAK_GLASS.id, action: 'adminRemove' };
    const rm = await g('POST', `${PIM}/assignmentScheduleRequests`, remove);
    assert.equal(rm.status, 201);
    assert.equal(rm.body.status, 'Revoked');
    assert.equal(rm.body.targetScheduleId, r.body.targetScheduleId);
    assert.deepEqual((await g('GET', `/beta/groups/${BREAK_GLASS.id}/members`)).body.value, []);

    const again = await g('POST', `${PIM}/assignmentScheduleRequests`, remove);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'RoleAssignmentDoesNotExist');
    assert.ok(again.body.error.innerError['request-id']);
  }));

test('plain memberships show as permanent assignments; listing needs the groupId/principalId filter; bad requests and permissions', () =>
  withGroups(async (h, g) => {
    const inst = await g('GET', `${PIM}/assignmentScheduleInstances?$filter=${q(`groupId eq '${FINANCE.id}'`)}`);
    assert.deepEqual(
      inst.body.value.map((i: any) => [i.principalId, i.startDateTime, i.endDateTime, i.id]),
      [[MEGAN.id, null, null, `${FINANCE.id}_member_${MEGAN.id}`]],
    );
    // An existing plain membership is an existing assignment.
    const dup = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(MEGAN.id, FINANCE.id, { type: 'afterDuration', duration: 'PT1H' }),
    );
    assert.equal(dup.body.error.code, 'RoleAssignmentExists');

    const unscoped = await g('GET', `${PIM}/assignmentScheduleInstances`);
    assert.equal(unscoped.status, 400);
    const badAction = await g('POST', `${PIM}/assignmentScheduleRequests`, {
      ...assign(ALEX.id, FINANCE.id, { type: 'afterDuration', duration: 'PT1H' }),
      action: 'AdminAssign',
    });
    assert.equal(badAction.status, 400, 'PascalCase is ARM PIM, not Graph');
    const badDuration = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, FINANCE.id, { type: 'afterDuration', duration: '2 hours' }),
    );
    assert.equal(badDuration.status, 400);
    const past = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, FINANCE.id, { type: 'afterDateTime', endDateTime: '2020-01-01T00:00:00Z' }),
    );
    assert.equal(past.status, 400);

    const groupsOnly = graphCaller(h, await tokenWithRoles(h, ['GroupMember.ReadWrite.All']));
    const refused = await groupsOnly(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, FINANCE.id, { type: 'afterDuration', duration: 'PT1H' }),
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'Authorization_RequestDenied');
  }));

test('PIM assignments survive a restart and still end on time', () =>
  withGroups(async (h, g) => {
    const r = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, BREAK_GLASS.id, { type: 'afterDuration', duration: 'PT1H' }),
    );
    assert.equal(r.status, 201);
    await h.restart();
    const g2 = graphCaller(
      h,
      await tokenWithRoles(h, ['GroupMember.Read.All', 'PrivilegedAssignmentSchedule.Read.AzureADGroup']),
    );
    const req = await g2('GET', `${PIM}/assignmentScheduleRequests/${r.body.id}`);
    assert.equal(req.body.status, 'Provisioned');
    const members = await g2('GET', `/v1.0/groups/${BREAK_GLASS.id}/members?$select=id`);
    assert.deepEqual(
      members.body.value.map((m: { id: string }) => m.id),
      [ALEX.id],
    );
    // The restarted sandbox has its own clock: move it past the end.
    await h.call('POST', '/_sandbox/clock', { json: { advanceMs: 3600_000 + 60_000 } });
    const g3 = graphCaller(h, await tokenWithRoles(h, ['GroupMember.Read.All']));
    assert.deepEqual((await g3('GET', `/v1.0/groups/${BREAK_GLASS.id}/members`)).body.value, []);
  }));

test('adminUpdate: gives the existing assignment a new end (start kept); none → RoleAssignmentDoesNotExist', () =>
  withGroups(async (h, first) => {
    let g = first;
    // Sandbox time moves past the token's lifetime: a fresh token after each move.
    const move = async (advanceMs: number) => {
      await h.call('POST', '/_sandbox/clock', { json: { advanceMs } });
      g = graphCaller(h, await tokenWithRoles(h, BROKER_ROLES));
    };
    const at = (ms: number) => new Date(ms).toISOString();
    const update = (endMs: number) => ({
      accessId: 'member',
      principalId: ALEX.id,
      groupId: BREAK_GLASS.id,
      action: 'adminUpdate',
      scheduleInfo: {
        startDateTime: at(h.sb.clock.now()),
        expiration: { type: 'afterDateTime', endDateTime: at(endMs) },
      },
    });
    const absent = await g('POST', `${PIM}/assignmentScheduleRequests`, update(h.sb.clock.now() + 3600_000));
    assert.equal(absent.status, 400);
    assert.equal(absent.body.error.code, 'RoleAssignmentDoesNotExist');

    const made = await g(
      'POST',
      `${PIM}/assignmentScheduleRequests`,
      assign(ALEX.id, BREAK_GLASS.id, { type: 'afterDuration', duration: 'PT1H' }),
    );
    assert.equal(made.status, 201);
    const list = async () =>
      (
        await g(
          'GET',
          `${PIM}/assignmentScheduleInstances?$filter=${q(`groupId eq '${BREAK_GLASS.id}' and principalId eq '${ALEX.id}'`)}`,
        )
      ).body.value;
    const [before] = await list();
    const end = h.sb.clock.now() + 3 * 3600_000;
    const r = await g('POST', `${PIM}/assignmentScheduleRequests`, update(end));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.action, 'adminUpdate');
    assert.equal(r.body.status, 'Provisioned');
    assert.equal(r.body.targetScheduleId, made.body.targetScheduleId);
    const [after] = await list();
    assert.equal(after.startDateTime, before.startDateTime);
    assert.equal(after.endDateTime, at(end));
    const past = await g('POST', `${PIM}/assignmentScheduleRequests`, update(h.sb.clock.now() - 1000));
    assert.equal(past.status, 400);
    assert.equal(past.body.error.code, 'InvalidScheduleRequest');

    // Past the first end (1 h) the membership is still there; PIM ends it at the new end.
    await move(2 * 3600_000);
    assert.equal((await list()).length, 1);
    await move(3600_000 + 60_000);
    assert.deepEqual(await list(), []);
    assert.deepEqual((await g('GET', `/beta/groups/${BREAK_GLASS.id}/members`)).body.value, []);
  }));
