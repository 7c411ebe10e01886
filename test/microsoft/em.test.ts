import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './helpers.ts';
import { startReceiver } from './receiver.ts';
import { until } from '../helpers/wait.ts';
import { DEMO_USERS, EM_APP_ID } from '../../sandbox/microsoft/constants.ts';

const EM = '/v1.0/identityGovernance/entitlementManagement';
const RESOURCE_ID = 'c0ffee00-7e57-4c1a-9a11-5a4db0c1e7a1'; // our app id as the callout token audience

/** A Microsoft sandbox and a callout receiver for one test, both closed afterwards. */
async function withSandbox(
  fn: (h: Harness, rx: Awaited<ReturnType<typeof startReceiver>>) => Promise<void>,
): Promise<void> {
  const h = await startHarness();
  const rx = await startReceiver();
  try {
    await fn(h, rx);
  } finally {
    await rx.close();
    await h.close();
  }
}

/** Catalog + extension (pointing at the receiver) + package + policy with the given stages. */
async function setup(
  h: Harness,
  url: string,
  stages: string[],
  o: { approval?: boolean; timeout?: string; maximumRetries?: number } = {},
) {
  const auth = { authorization: `Bearer ${await h.token()}` };
  const g = async (method: string, path: string, json?: unknown) => {
    const r = await h.call(method, path.startsWith('/v1.0') || path.startsWith('/beta') ? path : EM + path, {
      json,
      headers: auth,
    });
    return r;
  };
  const cat = (await g('POST', '/catalogs', { displayName: 'Ticketed access', description: 'via ServiceNow' })).body;
  const ext = await g('POST', `/catalogs/${cat.id}/customWorkflowExtensions`, {
    '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
    displayName: 'Ticketloop',
    endpointConfiguration: {
      '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
      subscriptionId: 's',
      resourceGroupName: 'rg',
      logicAppWorkflowName: 'la',
      url,
    },
    authenticationConfiguration: {
      '@odata.type': '#microsoft.graph.azureAdTokenAuthentication',
      resourceId: RESOURCE_ID,
    },
    callbackConfiguration: {
      '@odata.type': 'microsoft.graph.customExtensionCallbackConfiguration',
      durationBeforeTimeout: o.timeout ?? 'P14D',
    },
    ...(o.maximumRetries !== undefined
      ? { clientConfiguration: { maximumRetries: o.maximumRetries, timeoutInMilliseconds: 2000 } }
      : {}),
  });
  assert.equal(ext.status, 201, JSON.stringify(ext.body));
  const pkg = (await g('POST', '/accessPackages', { displayName: 'Finance app', catalog: { id: cat.id } })).body;
  const pol = await g('POST', '/assignmentPolicies', {
    displayName: 'Ticketed',
    accessPackage: { id: pkg.id },
    allowedTargetScope: 'allMemberUsers',
    requestApprovalSettings: { isApprovalRequiredForAdd: Boolean(o.approval), stages: [] },
    customExtensionStageSettings: stages.map((stage) => ({ stage, customExtension: { id: ext.body.id } })),
  });
  assert.equal(pol.status, 201, JSON.stringify(pol.body));
  const request = async (targetId = DEMO_USERS[0].id, requestType = 'adminAdd') => {
    const r = await g('POST', '/assignmentRequests', {
      requestType,
      assignment: { targetId, assignmentPolicyId: pol.body.id, accessPackageId: pkg.id },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const getRequest = async (id: string) => (await g('GET', `/assignmentRequests/${id}`)).body;
  const resume = (
    id: string,
    stage: string,
    instanceId: string,
    extra: Record<string, unknown> = {},
    path = `${EM}/assignmentRequests/${id}/resume`,
  ) =>
    h.call('POST', path, {
      headers: auth,
      json: {
        source: 'Ticketloop',
        type: `microsoft.graph.accessPackageCustomExtensionStage.${stage}`,
        data: {
          '@odata.type': 'microsoft.graph.accessPackageAssignmentRequestCallbackData',
          stage,
          customExtensionStageInstanceId: instanceId,
          customExtensionStageInstanceDetail: 'INC0010001 closed',
          ...extra,
        },
      },
    });
  return { g, cat, ext: ext.body, pkg, policy: pol.body, request, getRequest, resume, auth };
}

test('extension creation sends the connection test with an Entra bearer for resourceId', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, []);
    assert.equal(s.ext.callbackConfiguration.timeoutDuration, 'P14D');
    const c = await rx.next((c) => c.body.Stage === 'CustomExtensionConnectionTest');
    const token = String(c.headers.authorization).replace(/^Bearer /, '');
    const claims = await h.sb.entra.verifyAccessToken(token, { audience: RESOURCE_ID });
    assert.equal(claims.appid, EM_APP_ID);
    assert.equal(claims.iss, `https://sts.windows.net/${h.sb.tenantId}/`);
  }));

test('approved-stage callout, resume → 204 → delivered, second resume → 400', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestApproved']);
    const req = await s.request();
    assert.equal(req.state, 'submitted');
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    const b = c.body;
    assert.equal(b.Stage, 'assignmentRequestApproved');
    assert.equal(b.CallbackUriPath, `/identityGovernance/entitlementManagement/assignmentRequests/${req.id}/resume`);
    assert.equal(b.RequestType, 'adminAdd');
    assert.equal(b.Status, 'WaitingForCallback');
    assert.deepEqual(b.CallbackConfiguration, { DurationBeforeTimeout: 'P14D' });
    assert.equal(b.AccessPackage.Id, s.pkg.id);
    assert.equal(b.AccessPackageCatalog.DisplayName, 'Ticketed access');
    assert.equal(b.Assignment.AssignmentPolicy.Id, s.policy.id);
    assert.equal(b.Assignment.Target.ObjectId, DEMO_USERS[0].id);
    assert.equal(b.Assignment.Target.Email, DEMO_USERS[0].mail);
    assert.ok(b.Requestor.Id && Array.isArray(b.Answers));
    const claims = await h.sb.entra.verifyAccessToken(String(c.headers.authorization).slice(7), {
      audience: RESOURCE_ID,
    });
    assert.equal(claims.appid, EM_APP_ID);

    const waiting = await s.getRequest(req.id);
    assert.equal(waiting.status, 'WaitingForCallback');
    assert.equal(waiting.customExtensionCalloutInstances[0].id, b.CustomExtensionStageInstanceId);
    assert.equal(waiting.customExtensionCalloutInstances[0].status, 'waitingForCallback');

    const wrong = await s.resume(req.id, 'assignmentRequestApproved', '00000000-0000-0000-0000-000000000000');
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error.message, /not waiting for a callback/);

    const ok = await s.resume(req.id, 'assignmentRequestApproved', b.CustomExtensionStageInstanceId);
    assert.equal(ok.status, 204);
    const done = await until(async () => {
      const r = await s.getRequest(req.id);
      return r.state === 'delivered' ? r : undefined;
    }, 'delivered');
    assert.equal(done.customExtensionCalloutInstances[0].status, 'callbackReceived');
    assert.equal(done.customExtensionCalloutInstances[0].detail, 'INC0010001 closed');
    const assignments = (await s.g('GET', `/assignments?$filter=target/objectId eq '${DEMO_USERS[0].id}'`)).body;
    assert.equal(assignments.value.length, 1);
    assert.equal(assignments.value[0].state, 'delivered');

    const again = await s.resume(req.id, 'assignmentRequestApproved', b.CustomExtensionStageInstanceId);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'InvalidRequest');
    assert.match(again.body.error.message, /not waiting for a callback/);
    assert.ok(again.body.error.innerError['request-id']);

    const resumes = (await h.call('GET', `/_sandbox/graph/resumes?requestId=${req.id}`)).body;
    assert.equal(resumes.accepted, 1);
    assert.equal(resumes.rejected, 2);
  }));

test('resume needs a Graph token with EntitlementManagement.ReadWrite.All', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestCreated']);
    const req = await s.request();
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    const body = { data: { customExtensionStageInstanceId: c.body.CustomExtensionStageInstanceId } };
    const path = `${EM}/assignmentRequests/${req.id}/resume`;
    const none = await h.call('POST', path, { json: body });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'InvalidAuthenticationToken');
    const weak = await h.call('POST', '/_sandbox/entra/apps', { json: { roles: [] } });
    const weakToken = await h.token(weak.body.clientId, weak.body.clientSecret);
    const forbidden = await h.call('POST', path, { json: body, headers: { authorization: `Bearer ${weakToken}` } });
    assert.equal(forbidden.status, 403);
    const armToken = await h.token(undefined, undefined, 'https://management.azure.com/.default');
    const wrongAud = await h.call('POST', path, { json: body, headers: { authorization: `Bearer ${armToken}` } });
    assert.equal(wrongAud.status, 401);
    assert.equal((await s.getRequest(req.id)).status, 'WaitingForCallback');
  }));

test('deny at the created stage; beta legacy resume path', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestCreated']);
    const req = await s.request();
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    assert.equal(c.body.Stage, 'assignmentRequestCreated');
    const r = await s.resume(
      req.id,
      'assignmentRequestCreated',
      c.body.CustomExtensionStageInstanceId,
      { state: 'denied' },
      `/beta/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/${req.id}/resume`,
    );
    assert.equal(r.status, 204);
    const after = await s.getRequest(req.id);
    assert.equal(after.state, 'denied');
    assert.equal((await s.g('GET', '/assignments')).body.value.length, 0);
  }));

test('approval through the admin endpoint, then the approved stage', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestApproved'], { approval: true });
    const req = await s.request(DEMO_USERS[1].id, 'userAdd');
    const pending = await until(async () => {
      const r = await s.getRequest(req.id);
      return r.state === 'pendingApproval' ? r : undefined;
    }, 'pendingApproval');
    assert.equal(pending.status, 'PendingApproval');
    assert.equal((await h.call('POST', `/_sandbox/graph/assignmentRequests/${req.id}/approve`)).status, 200);
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    assert.equal(c.body.Stage, 'assignmentRequestApproved');
    assert.equal(c.body.RequestType, 'userAdd');
    assert.equal(c.body.Requestor.ObjectId, DEMO_USERS[1].id);

    const other = await s.request(DEMO_USERS[2].id, 'userAdd');
    await until(async () => ((await s.getRequest(other.id)).state === 'pendingApproval' ? true : undefined), 'pending');
    await h.call('POST', `/_sandbox/graph/assignmentRequests/${other.id}/deny`);
    assert.equal((await s.getRequest(other.id)).state, 'denied');
  }));

test('no resume within the timeout: the stage fails after the clock moves 14 days', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestApproved']);
    const req = await s.request();
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    const adv = await h.call('POST', '/_sandbox/clock', { json: { advanceMs: 14 * 86_400_000 + 60_000 } });
    assert.equal(adv.status, 200);
    // The token from before the jump has expired on sandbox time: take a fresh one.
    s.auth.authorization = `Bearer ${await h.token()}`;
    const r = await s.getRequest(req.id);
    assert.equal(r.state, 'deliveryFailed');
    assert.equal(r.status, 'ProcessExpired');
    assert.equal(r.customExtensionCalloutInstances[0].status, 'callbackTimedOut');
    const late = await s.resume(req.id, 'assignmentRequestApproved', c.body.CustomExtensionStageInstanceId);
    assert.equal(late.status, 400);
    assert.match(late.body.error.message, /not waiting for a callback/);
  }));

test('removal: the assignment goes and the removed-stage callout is sent', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestRemoved']);
    const add = await s.request();
    await until(async () => ((await s.getRequest(add.id)).state === 'delivered' ? true : undefined), 'delivered');
    const asg = (await s.g('GET', '/assignments')).body.value[0];
    const rm = await s.g('POST', '/assignmentRequests', { requestType: 'adminRemove', assignment: { id: asg.id } });
    assert.equal(rm.status, 201);
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === rm.body.id);
    assert.equal(c.body.Stage, 'assignmentRequestRemoved');
    assert.equal(c.body.RequestType, 'adminRemove');
    assert.equal(c.body.Assignment.Id, asg.id);
    assert.equal((await s.g('GET', '/assignments')).body.value.length, 0);
    assert.equal(
      (await s.resume(rm.body.id, 'assignmentRequestRemoved', c.body.CustomExtensionStageInstanceId)).status,
      204,
    );
    await until(
      async () => ((await s.getRequest(rm.body.id)).state === 'delivered' ? true : undefined),
      'removal delivered',
    );
  }));

test('state survives a restart: a waiting request can be resumed afterwards', () =>
  withSandbox(async (h, rx) => {
    const s = await setup(h, rx.url, ['assignmentRequestGranted']);
    const req = await s.request();
    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    assert.equal(c.body.Stage, 'assignmentRequestGranted');
    await h.restart();
    assert.equal((await s.g('GET', '/catalogs')).body.value.length, 1);
    assert.equal((await s.getRequest(req.id)).status, 'WaitingForCallback');
    const login = await h.token(); // the demo app and its secret persisted too
    assert.ok(login);
    assert.equal(
      (await s.resume(req.id, 'assignmentRequestGranted', c.body.CustomExtensionStageInstanceId)).status,
      204,
    );
    await until(async () => ((await s.getRequest(req.id)).state === 'delivered' ? true : undefined), 'delivered');
  }));

test('paging with @odata.nextLink; injected 429 uses the Graph envelope', async () => {
  const h = await startHarness();
  try {
    const auth = { authorization: `Bearer ${await h.token()}` };
    for (let i = 0; i < 3; i++)
      await h.call('POST', `${EM}/catalogs`, { json: { displayName: `c${i}` }, headers: auth });
    const p1 = await h.call('GET', `${EM}/catalogs?$top=2`, { headers: auth });
    assert.equal(p1.body.value.length, 2);
    assert.match(p1.body['@odata.context'], /\/v1\.0\/\$metadata#identityGovernance\/entitlementManagement\/catalogs$/);
    const p2 = await h.call('GET', p1.body['@odata.nextLink'], { headers: auth });
    assert.equal(p2.body.value.length, 1);
    assert.equal(p2.body['@odata.nextLink'], undefined);

    h.sb.faults.update({ burst429: 2, retryAfterSeconds: 3 });
    const limited = await h.call('GET', `${EM}/catalogs`, { headers: auth });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal(limited.body.error.code, 'TooManyRequests');
    const login = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials' },
    });
    assert.equal(login.status, 429);
    assert.ok(login.body.error_codes);
  } finally {
    await h.close();
  }
});

test('callout delivery: 5xx retried per maximumRetries then the stage fails; dropped callouts leave it waiting', () =>
  withSandbox(async (h, rx) => {
    rx.state.status = 503;
    const s = await setup(h, rx.url, ['assignmentRequestCreated'], { maximumRetries: 2 });
    const req = await s.request();
    const failed = await until(async () => {
      const r = await s.getRequest(req.id);
      return r.state === 'deliveryFailed' ? r : undefined;
    }, 'deliveryFailed');
    assert.equal(failed.customExtensionCalloutInstances[0].status, 'calloutFailed');
    assert.equal(rx.received.filter((c) => c.body.AccessPackageAssignmentRequestId === req.id).length, 3);
    const rec = (await h.call('GET', `/_sandbox/graph/callouts?requestId=${req.id}`)).body.value[0];
    assert.equal(rec.outcome, 'failed');
    assert.equal(rec.attempts, 3);

    rx.state.status = 202;
    h.sb.faults.update({ dropWebhookRate: 1 });
    const other = await s.request(DEMO_USERS[1].id);
    const dropped = await until(async () => {
      const v = (await h.call('GET', `/_sandbox/graph/callouts?requestId=${other.id}`)).body.value;
      return v.length ? v[0] : undefined;
    }, 'callout record');
    assert.equal(dropped.outcome, 'dropped');
    assert.equal((await s.getRequest(other.id)).status, 'WaitingForCallback');
    assert.equal(rx.received.filter((c) => c.body.AccessPackageAssignmentRequestId === other.id).length, 0);
  }));
