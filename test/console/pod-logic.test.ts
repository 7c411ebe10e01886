import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  change,
  driftTarget,
  durationChoices,
  EMPTY_REQUEST,
  errorsByField,
  extendChoices,
  isoDuration,
  mayCancel,
  mayDecide,
  mayExtend,
  mayRevoke,
  parseIsoDuration,
  reportHref,
  requestBody,
  settle,
  spokenDuration,
  timeLeft,
  timeline,
} from '../../console/src/flows/pod/logic.ts';
import type { Catalog, PodRequest } from '../../console/src/flows/pod/types.ts';
import { shownFlows } from '../../console/src/lib/flows.ts';
import { formatDuration, parseDuration } from '../../src/config/duration.ts';

/**
 * The permissions-on-demand pages' logic without a browser. Behaviour: the request rules of
 * src/flows/pod/policy.ts (durations up to the policy's maximum, its default; scopes among the
 * allowed ones), the durations of src/flows/pod/duration.ts, who may act (src/flows/pod/service.ts),
 * the views of src/flows/pod/views.ts and the report's from/to of src/flows/pod/routes.ts.
 */

const SUB = '/subscriptions/00000000-0000-4000-8000-00000000a001';
const policy = {
  name: 'standard',
  maxDuration: 'PT8H',
  defaultDuration: 'PT1H',
  requireJustification: true,
  requireTicket: false,
  breakGlass: false,
};
const CATALOG: Catalog = {
  systems: [
    { name: 'azure-prod', provider: 'azure-rbac', scopes: [SUB] },
    { name: 'orphan', provider: 'azure-rbac', scopes: [] },
  ],
  permissions: [
    { name: 'prod-reader', system: 'azure-prod', description: null, scopes: [SUB], readOnly: true, policy },
    {
      name: 'prod-contributor',
      system: 'azure-prod',
      description: 'write',
      scopes: [SUB, `${SUB}/resourceGroups/web`],
      readOnly: false,
      policy: { ...policy, name: 'tight', maxDuration: 'PT2H', defaultDuration: 'PT30M' },
    },
    { name: 'uncovered', system: 'orphan', description: null, scopes: [], readOnly: false, policy: null },
  ],
};

function request(over: Partial<PodRequest> = {}): PodRequest {
  return {
    id: 'r1',
    status: 'granted',
    requester: 'user:rita',
    identity: { type: 'user', id: '11111111-1111-4111-8111-111111111111' },
    system: 'azure-prod',
    provider: 'azure-rbac',
    permission: 'prod-reader',
    permissionId: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    permissionDisplayName: 'Reader',
    scope: SUB,
    duration: 'PT2H',
    justification: 'read logs',
    ticketNumber: null,
    ticket: null,
    policy: {
      name: 'standard',
      quorum: 1,
      approvers: ['user:alice', 'user:bob'],
      breakGlass: false,
      autoApproved: null,
    },
    approvals: [
      { actor: 'user:alice', decision: 'approved', comment: 'go', at: '2026-12-01T09:01:00.000Z', via: 'ticketloop' },
    ],
    submittedAt: '2026-12-01T09:00:00.000Z',
    decidedAt: '2026-12-01T09:01:00.000Z',
    grant: {
      grantedAt: '2026-12-01T09:01:05.000Z',
      expiresAt: '2026-12-01T11:01:05.000Z',
      revokedAt: null,
      providerState: 'assigned (x)',
      preexisting: false,
    },
    ended: null,
    error: null,
    revokeCaveat: 'tokens already issued stay valid for up to an hour',
    ...over,
  };
}

describe('console: permissions-on-demand logic', () => {
  test('ISO 8601 durations read and written as the server does', () => {
    for (const text of ['PT15M', 'PT1H', 'PT1H30M', 'P1D', 'P1DT12H', 'PT45S'])
      assert.equal(parseIsoDuration(text), parseDuration(text), text);
    for (const text of ['P1M', 'PT', 'P', '1H', 'PT0S']) assert.equal(parseIsoDuration(text), undefined, text);
    assert.deepEqual(['PT1H30M', 'P1D', 'soon'].map(spokenDuration), ['1 h 30 min', '1 d', 'soon']);
    for (const ms of [60_000, 5_400_000, 86_400_000, 36 * 3_600_000]) assert.equal(isoDuration(ms), formatDuration(ms));
  });

  test('durations offered: up to the maximum, with the default and the maximum named', () => {
    const choices = durationChoices(8 * 3_600_000, 3_600_000);
    assert.deepEqual(
      choices.map((c) => c.value),
      ['PT15M', 'PT30M', 'PT1H', 'PT2H', 'PT4H', 'PT8H'],
    );
    assert.equal(choices.find((c) => c.value === 'PT1H')!.label, '1 h (default)');
    assert.equal(choices.at(-1)!.label, '8 h (the maximum)');
    assert.deepEqual(
      durationChoices(90 * 60_000, 20 * 60_000).map((c) => c.value),
      ['PT15M', 'PT20M', 'PT30M', 'PT1H', 'PT1H30M'],
      'an odd default and maximum are offered too',
    );
  });

  test('the form follows the catalog: a covered permission of the system, an allowed scope, the default duration', () => {
    const first = settle(CATALOG, EMPTY_REQUEST);
    assert.deepEqual(
      [first.system, first.permission, first.scope, first.duration],
      ['azure-prod', 'prod-reader', SUB, 'PT1H'],
    );
    const contributor = change(CATALOG, first, 'permission', 'prod-contributor');
    assert.equal(contributor.duration, 'PT30M', 'PT1H is within its policy, but a new permission takes its default');
    assert.equal(change(CATALOG, contributor, 'identityId', 'x').duration, 'PT30M', 'other fields keep it');
    const picked = settle(CATALOG, { ...contributor, scope: `${SUB}/resourceGroups/web`, duration: 'PT2H' });
    assert.deepEqual([picked.scope, picked.duration], [`${SUB}/resourceGroups/web`, 'PT2H'], 'allowed choices stay');
    const back = settle(CATALOG, { ...picked, permission: 'prod-reader' });
    assert.deepEqual(
      [back.scope, back.duration],
      [SUB, 'PT2H'],
      'a scope it does not allow falls back; a duration it allows stays',
    );
    assert.equal(settle(CATALOG, { ...first, system: 'orphan' }).system, 'azure-prod', 'no requestable permission');
    assert.equal(settle(CATALOG, { ...first, duration: 'PT9H' }).duration, 'PT1H', 'beyond the maximum');
  });

  test('the body leaves empty optional fields to the policy; the API’s field errors go to their fields', () => {
    const f = { ...settle(CATALOG, EMPTY_REQUEST), identityId: ' 11111111-1111-4111-8111-111111111111 ' };
    assert.deepEqual(requestBody(f), {
      system: 'azure-prod',
      permission: 'prod-reader',
      scope: SUB,
      identity: { type: 'user', id: '11111111-1111-4111-8111-111111111111' },
      duration: 'PT1H',
    });
    const e = errorsByField([
      { path: 'body.identity.id', message: 'must be a GUID' },
      { path: 'body.justification', message: 'required by policy "standard"' },
      { path: 'body.duration', message: "exceeds the policy's maximum PT8H" },
      { path: 'body', message: 'unrecognized key' },
    ]);
    assert.deepEqual(Object.keys(e.fields), ['identity.id', 'justification', 'duration']);
    assert.deepEqual(e.other, ['body: unrecognized key']);
  });

  test('who sees which action (the service’s rules; the API decides all the same)', () => {
    const rita = { actor: 'user:rita', roles: ['requester'] };
    const alice = { actor: 'user:alice', roles: ['approver', 'requester'] };
    const auditor = { actor: 'user:audit', roles: ['auditor'] };
    const admin = { actor: 'user:root', roles: ['admin'] };
    const granted = request();
    assert.deepEqual(
      [mayRevoke(granted, rita), mayRevoke(granted, alice), mayRevoke(granted, admin)],
      [true, true, true],
    );
    assert.equal(mayRevoke(granted, auditor), false, 'a read role sees grants but revokes none');
    assert.equal(mayRevoke(request({ ended: { by: 'user:rita', reason: 'revoked', at: null } }), rita), false);
    assert.equal(mayRevoke(request({ status: 'expired' }), admin), false);
    assert.deepEqual([mayExtend(granted, rita), mayExtend(granted, admin)], [true, false]);
    const waiting = request({ status: 'submitted', approvals: [], grant: null });
    assert.deepEqual(
      [mayCancel(waiting, rita), mayCancel(waiting, alice), mayCancel(waiting, admin)],
      [true, false, true],
    );
    assert.deepEqual([mayDecide(waiting, rita), mayDecide(waiting, alice)], [false, true], 'approvers only');
    const own = request({ status: 'submitted', requester: 'user:alice', approvals: [], grant: null });
    assert.equal(mayDecide(own, alice), true, 'shown on their own request: the API says why not');
    assert.equal(mayDecide(request({ status: 'submitted' }), alice), false, 'alice has decided already');
  });

  test('time left by the server’s clock; an extension only adds what the policy’s maximum leaves', () => {
    const r = request();
    assert.deepEqual(timeLeft(r, Date.parse('2026-12-01T10:00:00Z')), { text: '1 h 1 min left', tone: 'soon' });
    assert.equal(timeLeft(r, Date.parse('2026-12-01T11:02:00Z')).text, 'ending now');
    assert.equal(timeLeft(request({ status: 'expired' }), 0).text, '—');
    assert.equal(timeLeft(request({ status: 'revoking' }), 0).text, 'ending…');
    const now = Date.parse('2026-12-01T10:00:00Z');
    assert.equal(extendChoices(r, 8 * 3_600_000, now).at(-1)!.value, 'PT6H', '8 h in all, 2 h granted');
    assert.deepEqual(extendChoices(r, 2 * 3_600_000, now), [], 'already at its maximum');
  });

  test('the timeline: asked, decided, granted, ended, removed at the provider, oldest first', () => {
    const r = request({
      status: 'revoked',
      ended: { by: 'user:bob', reason: 'done early', at: '2026-12-01T10:00:00.000Z' },
      grant: { ...request().grant!, revokedAt: '2026-12-01T10:00:02.000Z', providerState: 'not assigned' },
    });
    const t = timeline(r);
    assert.deepEqual(
      t.map((e) => e.what),
      ['Requested', 'Approved', 'Granted', 'Revoke requested', 'Removed at the provider'],
    );
    assert.equal(t[3].who, 'user:bob');
    assert.equal(t[3].detail, 'done early');
    assert.equal(t[4].detail, 'not assigned');
    const auto = timeline(
      request({ approvals: [], policy: { ...r.policy, autoApproved: 'auto-approved: read-only' } }),
    );
    assert.equal(auto[1].what, 'Approved without people');
  });

  test('drift targets in parts; the report covers whole days, both included', () => {
    assert.deepEqual(driftTarget(`azure-prod|user|11111111-1111-4111-8111-111111111111|reader-id|${SUB}`), {
      type: 'user',
      principal: '11111111-1111-4111-8111-111111111111',
      permission: 'reader-id',
      scope: SUB,
    });
    const r = reportHref('2026-12-01', '2026-12-30');
    assert.ok('href' in r);
    const q = new URL(r.href, 'http://x').searchParams;
    assert.equal(Date.parse(q.get('to')!) - Date.parse(q.get('from')!), 30 * 86_400_000);
    assert.equal(new Date(q.get('from')!).getDate(), 1, 'the start of the first day, in the viewer’s zone');
    assert.deepEqual(reportHref('2026-11-30', '2026-11-01'), {
      field: 'to',
      problem: 'must be on or after the first day',
    });
    assert.deepEqual(reportHref('', '2026-11-01'), { field: 'from', problem: 'pick a date' });
  });

  test('permissions-on-demand pages show whenever the pod module runs', () => {
    assert.deepEqual(
      shownFlows([
        { name: 'pod', integrations: [] },
        { name: 'entitlement', integrations: [] },
      ]),
      ['pod'],
    );
  });
});
