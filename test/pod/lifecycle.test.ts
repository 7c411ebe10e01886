import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, startPod, SUB, type PodHarness } from './harness.ts';

// The broker's lifecycle (issue #13 "Lifecycle", "Overlapping grants", "Policies") over an
// in-memory provider; the Azure and Entra providers are tested against the sandbox twins.

let h: PodHarness;
const provider = new FakeProvider();
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const target = { principal: { type: 'user' as const, id: ALICE_OID }, permission: READER, scope: SUB };

before(async () => {
  h = await startPod(provider);
});
after(() => h.stop());

const ask = (body: Record<string, unknown> = {}, who: 'rita' | 'alice' = 'rita') =>
  h.call(who, 'POST', '/api/pod/requests', {
    system: 'azure-prod',
    permission: 'prod-reader',
    identity: { type: 'user', id: ALICE_OID },
    duration: 'PT1H',
    justification: 'incident INC0010001',
    ...body,
  });

const statusOf = async (id: string) => (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
const reaches = (id: string, status: string) =>
  until(
    async () => ((await statusOf(id)).status === status ? await statusOf(id) : undefined),
    `request ${id} ${status}`,
  );

test('submit → approve → granted (read back) → expire with the clock moved → expired, access gone', async () => {
  const r = await ask();
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.status, 'submitted');
  const approved = await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, {
    comment: 'ok for the incident',
  });
  assert.equal(approved.status, 200, approved.text);
  const granted = await reaches(r.body.id, 'granted');
  assert.ok(provider.has(target), 'the provider holds the assignment');
  assert.match(granted.grant.providerState, /assigned/);
  assert.equal(granted.grant.expiresAt, new Date(h.clock.now() + 3_600_000).toISOString());
  assert.deepEqual(
    granted.approvals.map((a: { actor: string }) => a.actor),
    ['user:alice'],
  );
  assert.match(granted.revokeCaveat, /tokens/);

  h.clock.advance(3_600_001);
  h.app.engine.wake();
  const expired = await reaches(r.body.id, 'expired');
  assert.ok(!provider.has(target), 'the assignment is gone from the provider');
  assert.ok(expired.grant.revokedAt);
  assert.equal(expired.ended.reason, 'expired');
});

test('errors name the field: duration over the maximum, unknown system, missing justification', async () => {
  const long = await ask({ duration: 'PT9H' });
  assert.equal(long.status, 400);
  assert.equal(long.body.error.message, "duration: exceeds the policy's maximum PT8H");
  assert.equal(long.body.error.details[0].path, 'body.duration');
  const bad = await ask({ system: 'nope' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /^system: no authorization system named "nope"/);
  const noWhy = await ask({ justification: '' });
  assert.match(noWhy.body.error.message, /^justification: required by policy "standard"/);
  const badScope = await ask({ scope: '/subscriptions/00000000-0000-4000-8000-00000000ffff' });
  assert.match(badScope.body.error.message, /^scope: not at or below/);
});

test('self-approval is refused; a requester cannot approve', async () => {
  const r = await ask({}, 'alice');
  const self = await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  assert.equal(self.status, 403);
  assert.match(self.body.error.message, /does not allow self-approval/);
  const requester = await h.call('rita', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  assert.equal(requester.status, 403, 'rita lacks the approver role');
  const rejected = await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/reject`, { comment: 'not needed' });
  assert.equal(rejected.body.status, 'rejected');
});

test('revoke by the requester ends the grant; pre-existing access is never removed', async () => {
  const pre = {
    principal: { type: 'user' as const, id: '33333333-3333-4333-8333-333333333333' },
    permission: READER,
    scope: SUB,
  };
  provider.preassign(pre);
  const r = await ask({ identity: { type: 'user', id: pre.principal.id } });
  await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  const granted = await reaches(r.body.id, 'granted');
  assert.equal(granted.grant.preexisting, true);
  const revoked = await h.call('rita', 'POST', `/api/pod/requests/${r.body.id}/revoke`, { comment: 'done' });
  assert.equal(revoked.status, 200, revoked.text);
  const done = await reaches(r.body.id, 'revoked');
  assert.match(done.grant.providerState, /before Ticketloop/);
  assert.ok(provider.has(pre), 'access that existed before is still there');
});

test('overlapping grants share one assignment: the first to end leaves access, the last removes it', async () => {
  const who = { type: 'user', id: '44444444-4444-4444-8444-444444444444' };
  const t = { principal: who as { type: 'user'; id: string }, permission: READER, scope: SUB };
  const grantsBefore = provider.calls.grant;
  const first = await ask({ identity: who, duration: 'PT1H' });
  const second = await ask({ identity: who, duration: 'PT2H' });
  await h.call('alice', 'POST', `/api/pod/requests/${first.body.id}/approve`, {});
  await reaches(first.body.id, 'granted');
  await h.call('alice', 'POST', `/api/pod/requests/${second.body.id}/approve`, {});
  await reaches(second.body.id, 'granted');
  assert.equal(provider.calls.grant - grantsBefore, 1, 'one provider write for both grants');

  h.clock.advance(3_600_001);
  h.app.engine.wake();
  const firstDone = await reaches(first.body.id, 'expired');
  assert.match(firstDone.grant.providerState, /still held by 1 other/);
  assert.ok(provider.has(t), 'the second grant still holds the access');

  h.clock.advance(3_600_001);
  h.app.engine.wake();
  await reaches(second.body.id, 'expired');
  assert.ok(!provider.has(t), 'the last grant to end removed it');
});

test('a provider failure on revoke is retried and surfaced; it ends when the provider recovers', async () => {
  const who = { type: 'user' as const, id: '55555555-5555-4555-8555-555555555555' };
  const r = await ask({ identity: who });
  await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  await reaches(r.body.id, 'granted');
  provider.failRevokes = { times: 1000, status: 400 }; // not retryable: surfaces at once
  await h.call('rita', 'POST', `/api/pod/requests/${r.body.id}/revoke`, {});
  const failed = await reaches(r.body.id, 'revoke_failed');
  assert.match(failed.error, /400/);
  assert.ok(provider.has({ principal: who, permission: READER, scope: SUB }));
  provider.failRevokes = { times: 0, status: 503 };
  h.clock.advance(10 * 60_000 + 1);
  h.app.engine.wake();
  await reaches(r.body.id, 'revoked');
  assert.ok(!provider.has({ principal: who, permission: READER, scope: SUB }));
});

test('the same Idempotency-Key returns the first request; the report lists grants with approvers', async () => {
  const a = await ask({}, 'rita');
  const one = await h.call(
    'rita',
    'POST',
    '/api/pod/requests',
    { system: 'azure-prod', permission: 'prod-reader', identity: { type: 'user', id: ALICE_OID }, justification: 'x' },
    { 'idempotency-key': 'abc-1' },
  );
  const two = await h.call(
    'rita',
    'POST',
    '/api/pod/requests',
    { system: 'azure-prod', permission: 'prod-reader', identity: { type: 'user', id: ALICE_OID }, justification: 'x' },
    { 'idempotency-key': 'abc-1' },
  );
  assert.equal(one.status, 201);
  assert.equal(two.status, 200);
  assert.equal(one.body.id, two.body.id);
  assert.notEqual(a.body.id, one.body.id);

  const from = new Date(Date.parse('2026-12-01T00:00:00Z')).toISOString();
  const to = new Date(h.clock.now() + 86_400_000).toISOString();
  const report = await h.call('auditor', 'GET', `/api/pod/report.csv?from=${from}&to=${to}`);
  assert.equal(report.status, 200, report.text);
  const lines = report.text.trim().split('\r\n');
  assert.equal(
    lines[0],
    'request,system,permission,scope,identity_type,identity_id,requester,approved_by,granted_at,ended_at,end_reason,ticket_number,status',
  );
  assert.ok(
    lines.some((l) => l.includes('user:alice') && l.includes('expired')),
    report.text,
  );
  const denied = await h.call('rita', 'GET', `/api/pod/report.csv?from=${from}&to=${to}`);
  assert.equal(denied.status, 403);
});
