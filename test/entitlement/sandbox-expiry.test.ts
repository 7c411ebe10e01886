import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { assignmentEndsAt } from '../../sandbox/microsoft/em-lifecycle.ts';
import { DAY_MS } from '../../src/engine/clock.ts';
import { removalCause, type Callout } from '../../src/flows/entitlement/payload.ts';
import { startHarness } from '../microsoft/helpers.ts';
import { startReceiver } from '../microsoft/receiver.ts';
import { until } from '../helpers/wait.ts';

/**
 * The Graph sandbox ends assignments on their schedule (sandbox clock): the end survives restarts,
 * the removal stage's extension is called exactly once, and the target user is notified.
 */

const EM = '/v1.0/identityGovernance/entitlementManagement';

test('an assignment expires after its policy duration, across restarts, with one removal callout', async () => {
  const h = await startHarness();
  const rx = await startReceiver();
  try {
    // A fresh token per call: moving the sandbox clock expires the old ones.
    const authNow = async () => ({ authorization: `Bearer ${await h.token()}` });
    const g = async (method: string, path: string, json?: unknown) => {
      const r = await h.call(method, path.startsWith('/_') ? path : EM + path, { json, headers: await authNow() });
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const cat = await g('POST', '/catalogs', { displayName: 'Expiring' });
    const ext = await g('POST', `/catalogs/${cat.id}/customWorkflowExtensions`, {
      '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
      displayName: 'Ticketloop',
      endpointConfiguration: { '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration', url: rx.url },
      authenticationConfiguration: { '@odata.type': '#microsoft.graph.azureAdTokenAuthentication', resourceId: 'x' },
      callbackConfiguration: { timeoutDuration: 'P14D' },
    });
    const pkg = await g('POST', '/accessPackages', { displayName: 'Finance app', catalog: { id: cat.id } });
    const pol = await g('POST', '/assignmentPolicies', {
      displayName: 'Three days',
      accessPackage: { id: pkg.id },
      allowedTargetScope: 'allMemberUsers',
      expiration: { type: 'afterDuration', duration: 'P3D' },
      customExtensionStageSettings: [{ stage: 'assignmentRequestRemoved', customExtension: { id: ext.id } }],
    });
    const user = DEMO_USERS[0];
    const add = await g('POST', '/assignmentRequests', {
      requestType: 'userAdd',
      assignment: { targetId: user.id, assignmentPolicyId: pol.id, accessPackageId: pkg.id },
    });
    await until(async () => (await g('GET', `/assignmentRequests/${add.id}`)).state === 'delivered', 'delivered');
    const told = await g('GET', `/_sandbox/graph/notifications?requestId=${add.id}`);
    assert.deepEqual(
      told.value.map((n: any) => [n.template, n.recipient.id]),
      [['requestDelivered', user.id]],
    );

    const isRemoval = (c: { body: any }) => c.body.Stage === 'assignmentRequestRemoved';
    await h.restart(); // the sandbox clock starts again at real time: the end is stored, not a timer
    await g('POST', '/_sandbox/clock', { advanceMs: 2 * DAY_MS });
    assert.equal(rx.received.filter(isRemoval).length, 0, 'not before its end');
    await g('POST', '/_sandbox/clock', { advanceMs: 2 * DAY_MS });
    const callout = await rx.next(isRemoval);
    assert.equal(callout.body.RequestType, 'systemRemove');
    assert.equal(callout.body.Assignment.State, 'expired');
    assert.equal(callout.body.Requestor.DisplayName, 'Azure AD Identity Governance - Entitlement Management');

    await h.restart();
    await g('POST', '/_sandbox/clock', { advanceMs: 5 * DAY_MS });
    const removals = (await g('GET', '/assignmentRequests')).value.filter((r: any) => r.requestType === 'systemRemove');
    assert.equal(removals.length, 1, 'expired once');
    assert.equal(removals[0].status, 'WaitingForCallback');
    assert.equal(rx.received.filter(isRemoval).length, 1, 'the removal stage was called once');

    const resumed = await h.call('POST', `${EM}/assignmentRequests/${removals[0].id}/resume`, {
      headers: await authNow(),
      json: {
        source: 'test',
        type: 'microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestRemoved',
        data: {
          '@odata.type': 'microsoft.graph.accessPackageAssignmentRequestCallbackData',
          stage: 'assignmentRequestRemoved',
          customExtensionStageInstanceId: callout.body.CustomExtensionStageInstanceId,
          customExtensionStageInstanceDetail: 'RITM0010001 closed complete by it.agent',
        },
      },
    });
    assert.equal(resumed.status, 204);
    await until(async () => (await g('GET', `/assignmentRequests/${removals[0].id}`)).state === 'delivered', 'removed');
    const expired = (await g('GET', `/_sandbox/graph/notifications?requestId=${removals[0].id}`)).value;
    assert.equal(expired.length, 1);
    assert.equal(expired[0].template, 'assignmentExpired');
    assert.equal(expired[0].detail, 'RITM0010001 closed complete by it.agent');
    assert.equal((await g('GET', '/assignments')).value.length, 0);
  } finally {
    await rx.close();
    await h.close();
  }
});

test('a failed request notifies its target with requestFailed', async () => {
  const h = await startHarness();
  const rx = await startReceiver();
  rx.state.status = 400; // the endpoint refuses the callout for good: the stage fails
  try {
    const auth = { authorization: `Bearer ${await h.token()}` };
    const g = async (method: string, path: string, json?: unknown) =>
      (await h.call(method, path.startsWith('/_') ? path : EM + path, { json, headers: auth })).body;
    const cat = await g('POST', '/catalogs', { displayName: 'Failing' });
    const ext = await g('POST', `/catalogs/${cat.id}/customWorkflowExtensions`, {
      '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
      displayName: 'Ticketloop',
      endpointConfiguration: { '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration', url: rx.url },
      authenticationConfiguration: { '@odata.type': '#microsoft.graph.azureAdTokenAuthentication', resourceId: 'x' },
      callbackConfiguration: { timeoutDuration: 'P1D' },
    });
    const pkg = await g('POST', '/accessPackages', { displayName: 'Finance app', catalog: { id: cat.id } });
    const pol = await g('POST', '/assignmentPolicies', {
      displayName: 'Ticketed',
      accessPackage: { id: pkg.id },
      allowedTargetScope: 'allMemberUsers',
      customExtensionStageSettings: [{ stage: 'assignmentRequestApproved', customExtension: { id: ext.id } }],
    });
    const add = await g('POST', '/assignmentRequests', {
      requestType: 'adminAdd',
      assignment: { targetId: DEMO_USERS[1].id, assignmentPolicyId: pol.id, accessPackageId: pkg.id },
    });
    await until(async () => (await g('GET', `/assignmentRequests/${add.id}`)).state === 'deliveryFailed', 'failed');
    const [n] = (await g('GET', `/_sandbox/graph/notifications?requestId=${add.id}`)).value;
    assert.equal(n.template, 'requestFailed');
    assert.equal(n.recipient.mail, DEMO_USERS[1].mail);
    assert.match(n.subject, /could not be completed for Finance app/);
  } finally {
    await rx.close();
    await h.close();
  }
});

test('assignment ends: the request schedule, else the policy; durations count from the start', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const policy = { type: 'afterDuration', duration: 'P365D' };
  assert.equal(assignmentEndsAt(null, policy, start), start + 365 * DAY_MS);
  assert.equal(
    assignmentEndsAt({ expiration: { type: 'afterDuration', duration: 'P7D' } }, policy, start),
    start + 7 * DAY_MS,
  );
  assert.equal(
    assignmentEndsAt({ expiration: { type: 'afterDateTime', endDateTime: '2026-02-01T00:00:00Z' } }, null, start),
    Date.parse('2026-02-01T00:00:00Z'),
  );
  assert.equal(assignmentEndsAt({ expiration: { type: 'noExpiration' } }, policy, start), undefined);
  assert.equal(assignmentEndsAt(null, { type: 'noExpiration' }, start), undefined);
});

test('{{RemovalCause}}: "expired on …" for a system removal, "removed by …" otherwise, empty at other stages', () => {
  const c = (body: Record<string, unknown>, stage = 'assignmentRequestRemoved') =>
    ({ stage, stageInstanceId: 'x', timeoutMs: 1, body }) as unknown as Callout;
  const now = Date.parse('2026-03-04T05:06:07Z');
  assert.equal(
    removalCause(c({ requestType: 'systemRemove', assignment: { expiredDateTime: '2026-03-01T10:20:30Z' } }), now),
    'expired on 2026-03-01 10:20 UTC',
  );
  assert.equal(removalCause(c({ requestType: 'SystemRemove' }), now), 'expired on 2026-03-04 05:06 UTC');
  assert.equal(
    removalCause(c({ requestType: 'adminRemove', requestor: { displayName: 'Megan Bowen' } }), now),
    'removed by Megan Bowen',
  );
  assert.equal(removalCause(c({ requestType: 'userRemove' }), now), 'removed by an administrator');
  assert.equal(removalCause(c({ requestType: 'adminAdd' }, 'assignmentRequestApproved'), now), '');
});
