import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { DAY_MS, ManualClock } from '../../src/engine/clock.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

/**
 * Items 8, 9 and 12 end to end: an assignment expires on the sandbox clock → Entra's removal stage
 * calls Ticketloop → a ticket worded "expired on …" with the tutorial's three custom columns →
 * closing it finishes the removal; the requester is notified at delivery and at expiry.
 */

const DAY = DAY_MS;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const corr = (id: string) => correlationKey('entitlement', id);
const CUSTOM_COLUMNS = {
  u_accesspackageassignmentrequestid: '{{AccessPackageAssignmentRequestId}}',
  u_accesspackageassignmentstage: '{{Stage}}',
  u_stageinstanceid: '{{CustomExtensionStageInstanceId}}',
};

describe('entitlement: expired assignments, requester notifications, custom columns', () => {
  let L: Loop;
  // Both clocks move together (the sandbox's and Ticketloop's), or cached tokens outlive their expiry unseen.
  const clock = new ManualClock();
  const advance = async (advanceMs: number) => {
    await L.http('POST', `${L.sandbox.microsoft.baseUrl}/_sandbox/clock`, { json: { advanceMs } });
    clock.advance(advanceMs);
  };
  before(async () => {
    L = await startLoop({ clock, integration: { stages: ['assignmentRequestRemoved'], fields: CUSTOM_COLUMNS } });
  });
  after(async () => {
    await L?.close();
  });
  const sandboxGet = async (path: string) => (await L.http('GET', L.sandbox.microsoft.baseUrl + path)).body;
  /** The systemRemove requests for an assignment. */
  const removalsOf = async (assignmentId: string) =>
    (await L.ms('GET', '/assignmentRequests?$expand=assignment')).body.value.filter(
      (r: any) => r.requestType === 'systemRemove' && r.assignment.id === assignmentId,
    ) as any[];
  const assignmentOf = async (requestId: string) =>
    (await L.ms('GET', `/assignmentRequests/${requestId}?$expand=assignment`)).body.assignment;

  test('the schedule ends → one systemRemove request → ticket "expired on …" → closed → removal delivered', async () => {
    const s = await L.setup(['assignmentRequestRemoved']);
    const user = DEMO_USERS[1];
    const start = new Date((await sandboxGet('/_sandbox/clock')).now);
    const created = await L.ms('POST', '/assignmentRequests', {
      requestType: 'adminAdd',
      assignment: { targetId: user.id, assignmentPolicyId: s.policyId, accessPackageId: s.packageId },
      schedule: { startDateTime: start.toISOString(), expiration: { type: 'afterDuration', duration: 'P7D' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await until(async () => (await s.getRequest(created.body.id)).state === 'delivered', 'add delivered');
    const delivered = (await sandboxGet(`/_sandbox/graph/notifications?requestId=${created.body.id}`)).value;
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].template, 'requestDelivered');
    assert.equal(delivered[0].recipient.id, user.id);
    assert.equal(delivered[0].recipient.mail, user.mail);
    assert.match(delivered[0].subject, /You now have access to Finance app/);
    const assignment = await assignmentOf(created.body.id);
    assert.equal(assignment.state, 'delivered');
    assert.equal(assignment.schedule.expiration.type, 'afterDateTime', 'the assignment carries its end');
    assert.equal(Date.parse(assignment.schedule.expiration.endDateTime), start.getTime() + 7 * DAY);

    // Six days: nothing yet. Eight days: expired, and its removal starts.
    await advance(6 * DAY);
    assert.equal((await removalsOf(assignment.id)).length, 0);
    await advance(2 * DAY);
    const removal = await until(async () => (await removalsOf(assignment.id))[0], 'systemRemove request');
    const callout = await s.callout(removal.id, 'assignmentRequestRemoved');
    assert.equal(callout.payload.RequestType, 'systemRemove');
    assert.equal(callout.payload.Assignment.State, 'expired');
    assert.equal(Date.parse(callout.payload.Assignment.ExpiredDateTime), start.getTime() + 7 * DAY);

    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket recorded');
    const [t] = await L.tickets(corr(id));
    const day = new Date(start.getTime() + 7 * DAY).toISOString().slice(0, 10);
    assert.match(
      t.short_description,
      new RegExp(`^Remove access: Finance app from ${user.displayName} \\(expired on ${day} `),
    );
    assert.match(t.description, new RegExp(`expired on ${day}`));
    // Item 12: the tutorial's custom columns, filled by field templates.
    assert.equal(t.u_accesspackageassignmentrequestid, removal.id);
    assert.equal(t.u_accesspackageassignmentstage, 'assignmentRequestRemoved');
    assert.equal(t.u_stageinstanceid, id);

    // Moving the clock again expires nothing twice.
    await advance(DAY);
    assert.equal((await removalsOf(assignment.id)).length, 1);
    const callouts = (await sandboxGet(`/_sandbox/graph/callouts?requestId=${removal.id}`)).value;
    assert.equal(callouts.length, 1);

    await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'Access removed in SAP' });
    await until(async () => (await s.getRequest(removal.id)).state === 'delivered', 'removal delivered');
    const told = (await sandboxGet(`/_sandbox/graph/notifications?requestId=${removal.id}`)).value;
    assert.equal(told.length, 1);
    assert.equal(told[0].template, 'assignmentExpired');
    assert.equal(told[0].recipient.id, user.id);
    assert.match(told[0].detail, /closed complete by .*: Access removed in SAP/);
  });

  test('an admin removal is worded "removed by <requestor>"', async () => {
    const s = await L.setup(['assignmentRequestRemoved']);
    const user = DEMO_USERS[2];
    const add = await s.request(user.id);
    await until(async () => (await s.getRequest(add.id)).state === 'delivered', 'add delivered');
    const assignment = await assignmentOf(add.id);
    assert.equal(assignment.schedule.expiration.type, 'noExpiration');
    const removal = await L.ms('POST', '/assignmentRequests', {
      requestType: 'adminRemove',
      assignment: { id: assignment.id },
    });
    assert.equal(removal.status, 201, JSON.stringify(removal.body));
    const callout = await s.callout(removal.body.id, 'assignmentRequestRemoved');
    assert.equal(callout.payload.Assignment.State, 'delivered');
    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket recorded');
    const [t] = await L.tickets(corr(id));
    assert.match(t.short_description, new RegExp(`\\(removed by ${escape(callout.payload.Requestor.DisplayName)}\\)$`));
    assert.match(t.description, /removed by /);
  });
});
