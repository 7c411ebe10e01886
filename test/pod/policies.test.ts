import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, podIntegration, startPod, SUB, WORKLOAD_OID, type PodHarness } from './harness.ts';

// Policies (issue #13 "Policies"): quorum, no approver refused at submission, auto-approve of
// read-only roles, break-glass; and a durable expiry timer that fires after a restart.

const body = (permission: string, extra: Record<string, unknown> = {}) => ({
  system: 'azure-prod',
  permission,
  identity: { type: 'user', id: ALICE_OID },
  duration: 'PT1H',
  justification: 'change CHG0030001',
  ...extra,
});
const reaches = (h: PodHarness, id: string, status: string) =>
  until(async () => {
    const r = (await h.call('admin', 'GET', `/api/pod/requests/${id}`)).body;
    return r.status === status ? r : undefined;
  }, `request ${id} ${status}`);

test('quorum 2: one approval keeps it waiting, the second grants; a request no one can approve is refused', async () => {
  const provider = new FakeProvider();
  const h = await startPod(
    provider,
    podIntegration({
      policies: [
        { name: 'two-person', permissions: ['prod-contributor'], approvers: { users: ['alice', 'bob'] }, quorum: 2 },
        { name: 'nobody', permissions: ['prod-reader'], approvers: { users: ['carol'] } },
      ],
    }),
  );
  try {
    const r = await h.call('rita', 'POST', '/api/pod/requests', body('prod-contributor'));
    assert.equal(r.status, 201, r.text);
    const one = await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, { comment: 'fine' });
    assert.equal(one.body.status, 'submitted');
    const twice = await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
    assert.equal(twice.status, 409);
    const inbox = await h.call('bob', 'GET', '/api/pod/requests?view=inbox');
    assert.deepEqual(
      inbox.body.items.map((x: { id: string }) => x.id),
      [r.body.id],
    );
    await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
    await reaches(h, r.body.id, 'granted');

    // alice asking: she cannot approve her own, and carol (not a user with the approver role) cannot either.
    const refused = await h.call('alice', 'POST', '/api/pod/requests', body('prod-reader'));
    assert.equal(refused.status, 400);
    assert.match(
      refused.body.error.message,
      /^permission: no one can approve it: policy "nobody" needs 1 approval\(s\) and nobody can give one/,
    );
  } finally {
    await h.stop();
  }
});

test('read-only roles are auto-approved; break-glass needs no approval and is capped at PT4H', async () => {
  const provider = new FakeProvider();
  const h = await startPod(
    provider,
    podIntegration({
      policies: [
        {
          name: 'readers',
          permissions: ['prod-reader'],
          autoApprove: { readOnly: true },
          approvers: { users: ['bob'] },
        },
        {
          name: 'glass',
          permissions: ['prod-contributor'],
          breakGlass: true,
          maxDuration: 'PT1H',
          defaultDuration: 'PT30M',
        },
      ],
    }),
  );
  try {
    const auto = await h.call('rita', 'POST', '/api/pod/requests', body('prod-reader'));
    assert.equal(auto.status, 201, auto.text);
    const granted = await reaches(h, auto.body.id, 'granted');
    assert.match(granted.policy.autoApproved, /read-only/);
    assert.deepEqual(granted.approvals, []);

    const glass = await h.call(
      'rita',
      'POST',
      '/api/pod/requests',
      body('prod-contributor', { identity: { type: 'servicePrincipal', id: WORKLOAD_OID }, duration: undefined }),
    );
    const g = await reaches(h, glass.body.id, 'granted');
    assert.equal(g.policy.breakGlass, true);
    assert.equal(g.duration, 'PT30M');
    assert.equal(g.identity.type, 'servicePrincipal');
  } finally {
    await h.stop();
  }
  await assert.rejects(
    startPod(
      new FakeProvider(),
      podIntegration({ policies: [{ name: 'glass', permissions: ['*'], breakGlass: true, maxDuration: 'PT8H' }] }),
    ),
    /policies\[0\]\.maxDuration: a break-glass policy allows at most PT4H/,
  );
});

test('expiry is a durable timer: it fires after a restart with the clock moved', async () => {
  const provider = new FakeProvider();
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-restart-'));
  let h = await startPod(provider, podIntegration(), { dataDir: dir });
  const r = await h.call('rita', 'POST', '/api/pod/requests', body('prod-reader'));
  await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  await reaches(h, r.body.id, 'granted');
  const at = h.clock.now();
  await h.stop();
  assert.ok(
    provider.has({
      principal: { type: 'user', id: ALICE_OID },
      permission: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
      scope: SUB,
    }),
  );

  h = await startPod(provider, podIntegration(), { dataDir: dir });
  try {
    h.clock.set(at + 3_600_000 + 1);
    h.app.engine.wake();
    await reaches(h, r.body.id, 'expired');
    assert.ok(
      !provider.has({
        principal: { type: 'user', id: ALICE_OID },
        permission: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
        scope: SUB,
      }),
    );
  } finally {
    await h.stop();
  }
});
