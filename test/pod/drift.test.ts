import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, podIntegration, startPod, SUB, type PodHarness } from './harness.ts';

// The grant ledger reconciles (issue #13 "Deliver — the broker" 6): an assignment Ticketloop made that
// is gone, and one that appeared outside Ticketloop on a managed role, are reported; fixed drift resolves.

const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
/** Ticketloop's Reader grant to Alice, and an assignment of the same role made by hand to someone else. */
const mine = { principal: { type: 'user' as const, id: ALICE_OID }, permission: READER, scope: SUB };
const stranger = { ...mine, principal: { type: 'user' as const, id: '66666666-6666-4666-8666-666666666666' } };

/** Rita asks for Reader for Alice, Alice approves; resolves once it is granted. */
async function grantedReader(h: PodHarness) {
  const r = await h.call('rita', 'POST', '/api/pod/requests', {
    system: 'azure-prod',
    permission: 'prod-reader',
    identity: { type: 'user', id: ALICE_OID },
    justification: 'audit',
  });
  await h.call('alice', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  const status = async () => (await h.call('admin', 'GET', `/api/pod/requests/${r.body.id}`)).body.status as string;
  await until(async () => (await status()) === 'granted', 'granted');
  return { id: r.body.id as string, status };
}

test('drift: missing, outside, and resolved once the provider matches again', async () => {
  const provider = new FakeProvider();
  const h = await startPod(provider, podIntegration({ reconcileEvery: 'PT1M' }));
  try {
    await grantedReader(h);
    provider.assigned.clear(); // someone removed Ticketloop's assignment in the portal…
    provider.preassign(stranger); // …and granted Reader to someone else by hand.
    const drift = async () =>
      (await h.call('admin', 'GET', '/api/pod/drift')).body.items as { kind: string; target: string }[];
    h.clock.advance(61_000);
    h.app.engine.wake();
    const found = await until(async () => {
      const items = await drift();
      return items.length === 2 ? items : undefined;
    }, 'two drift findings');
    assert.deepEqual(found.map((f) => f.kind).sort(), ['missing', 'outside']);
    assert.ok(found.find((f) => f.kind === 'outside')!.target.includes(stranger.principal.id));
    assert.equal((await h.call('rita', 'GET', '/api/pod/drift')).status, 403);

    provider.assigned.clear();
    await provider.grant({ ...mine, key: 'restored', expiresAt: 0, justification: '', requestId: '' });
    h.clock.advance(61_000);
    h.app.engine.wake();
    await until(async () => (await drift()).length === 0, 'drift resolved');
    const all = (await h.call('admin', 'GET', '/api/pod/drift?resolved=true')).body.items;
    assert.ok(
      all.every((f: { resolvedAt: string | null }) => f.resolvedAt),
      'both findings are kept, resolved',
    );
  } finally {
    await h.stop();
  }
});

test('a grant or revoke that runs while the provider is listed is not drift', async () => {
  const { compare } = await import('../../src/flows/pod/drift.ts');
  const item = (status: 'granting' | 'present' | 'revoking' | 'absent', generation: number) => ({
    kind: 'assignment' as const,
    status,
    integration: 'cloud',
    system: 'azure-prod',
    target: mine,
    holders: ['r:1'],
    releasing: [],
    generation,
    preexisting: false,
  });
  const listed = [{ ...mine, ref: 'ra-1', via: 'direct' as const }];
  const managed = new Set([READER]);
  // Granted while listing: unknown before, known after — not "outside".
  assert.deepEqual(compare('azure-prod', [], [item('present', 1)], listed, managed), []);
  // Revoked while listing: present before, absent after with a new generation — not "leftover".
  assert.deepEqual(compare('azure-prod', [item('present', 1)], [item('absent', 2)], listed, managed), []);
  // Standing still and gone: "missing".
  assert.deepEqual(
    compare('azure-prod', [item('present', 1)], [item('present', 1)], [], managed).map((f) => f.kind),
    ['missing'],
  );
});

test('fixDrift: a missing grant is granted again, a leftover revoked again, access from outside is left alone', async () => {
  const provider = new FakeProvider();
  const policies = [
    {
      name: 'standard',
      permissions: ['*'],
      maxDuration: 'PT8H',
      approvers: { users: ['alice', 'bob'] },
      quorum: 1,
      fixDrift: true,
    },
  ];
  const h = await startPod(provider, podIntegration({ reconcileEvery: 'PT1M', policies }));
  const reconcile = () => {
    h.clock.advance(61_000);
    h.app.engine.wake();
  };
  try {
    const { id, status } = await grantedReader(h);

    provider.assigned.clear();
    provider.preassign(stranger);
    reconcile();
    await until(() => provider.has(mine), 'the missing grant made again');
    assert.equal(provider.calls.grant, 2);
    const found = (await h.call('admin', 'GET', '/api/pod/drift')).body.items as { kind: string; detail: string }[];
    assert.match(found.find((f) => f.kind === 'missing')!.detail, /fixing it \(fixDrift\)/);
    assert.doesNotMatch(found.find((f) => f.kind === 'outside')!.detail, /fixing/);

    await h.call('rita', 'POST', `/api/pod/requests/${id}/revoke`, {});
    await until(async () => (await status()) === 'revoked', 'revoked');
    // The revoke "did not take": the provider still has it.
    await provider.grant({ ...mine, key: 'stuck', expiresAt: 0, justification: '', requestId: '' });
    reconcile();
    await until(() => !provider.has(mine), 'the leftover revoked again');
    reconcile();
    await until(async () => {
      const open = (await h.call('admin', 'GET', '/api/pod/drift')).body.items as { kind: string }[];
      return open.length === 1 && open[0].kind === 'outside';
    }, 'only the outside assignment is still reported');
    assert.ok(provider.has(stranger), 'access granted outside Ticketloop is never removed');
    assert.equal(await status(), 'revoked');
  } finally {
    await h.stop();
  }
});
