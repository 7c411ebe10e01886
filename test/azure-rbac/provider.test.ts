import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { HttpError, PermanentError, RetryableError } from '../../src/engine/errors.ts';
import { AzureRbacProvider, roleAssignmentName } from '../../src/flows/pod/providers/azure/rbac.ts';
import { AzurePimProvider } from '../../src/flows/pod/providers/azure/pim.ts';
import type { GrantInput } from '../../src/flows/pod/providers/port.ts';
import { startHarness, type Harness } from '../azure/helpers.ts';

/**
 * The Azure RBAC and PIM providers (src/flows/pod/providers/port.ts) against the ARM sandbox over
 * HTTPS: the rules of pod-wire-format.md §1.3 (deterministic names, 409 RoleAssignmentExists is someone
 * else's access, compare roles by GUID, DELETE of absent is 204), §1.6 (propagation caveat) and §2.3–2.4
 * (PIM expires by itself; ActiveDurationTooShort within 5 minutes; ExpirationRule).
 */

const SUB = `/subscriptions/${DEMO.prodSubscription}`;
const RG = `${SUB}/resourceGroups/rg-web`;
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const USER = '11111111-1111-4111-8111-111111111111';
const SP = '22222222-2222-4222-8222-222222222222';
const MIN = 60_000;

const grantInput = (h: Harness, o: Partial<GrantInput> = {}): GrantInput => ({
  principal: { type: 'user', id: USER },
  permission: READER,
  scope: RG,
  key: 'assignment-1:g1',
  expiresAt: h.clock.now() + 60 * MIN,
  justification: 'INC0010001: read the web logs',
  ticketNumber: 'INC0010001',
  requestId: 'req-1',
  ...o,
});

async function withHarness(fn: (h: Harness) => Promise<void>) {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('azure-rbac: resolvePermission takes a name, a GUID or a role definition id, caches per scope, refuses unknown', () =>
  withHarness(async (h) => {
    const p = new AzureRbacProvider(h.client());
    assert.deepEqual(await p.resolvePermission('Reader', SUB), {
      id: READER,
      name: 'Reader',
      description: 'View all resources, but does not allow you to make any changes.',
    });
    assert.equal((await p.resolvePermission(CONTRIBUTOR, RG)).name, 'Contributor');
    assert.equal(
      (await p.resolvePermission(`${SUB}/providers/Microsoft.Authorization/roleDefinitions/${READER}`, SUB)).id,
      READER,
    );
    // Cached: a throttled ARM does not matter for a role already resolved at this scope.
    await h.call('PATCH', '/_sandbox/faults', { token: null, json: { burst429: 1 } });
    assert.equal((await p.resolvePermission('reader', SUB)).id, READER);
    assert.equal((await h.call('GET', '/_sandbox/faults', { token: null })).body.injected.rateLimited, 0);
    await h.call('DELETE', '/_sandbox/faults', { token: null });
    await assert.rejects(p.resolvePermission('Chief Everything Officer', SUB), PermanentError);
    await assert.rejects(p.resolvePermission('00000000-0000-4000-8000-000000000000', SUB), PermanentError);
  }));

test('azure-rbac: grant, read-back, the same key again, another key (preexisting), pre-existing access', () =>
  withHarness(async (h) => {
    const p = new AzureRbacProvider(h.client());
    assert.equal(p.expiresNatively, false);
    assert.match(p.revokeCaveat, /10 minutes/);
    const input = grantInput(h);
    const done = await p.grant(input);
    const name = roleAssignmentName(input, input.key);
    assert.deepEqual(done, { state: 'done', ref: `${RG}/providers/Microsoft.Authorization/roleAssignments/${name}` });
    const sent = await h.call(
      'GET',
      `${RG}/providers/Microsoft.Authorization/roleAssignments/${name}?api-version=2022-04-01`,
    );
    assert.equal(sent.body.properties.principalType, 'User', 'principalType is always sent');
    assert.equal(sent.body.properties.description, 'Ticketloop request req-1 (INC0010001)');

    assert.deepEqual(await p.read(input), {
      principal: input.principal,
      permission: READER,
      scope: RG,
      ref: done.state === 'done' ? done.ref : '',
      via: 'direct',
    });
    assert.deepEqual(await p.grant(input), done, 'a retried grant is the 200 of the same name');
    const other = await p.grant({ ...input, key: 'assignment-2:g1' });
    assert.deepEqual(other, { state: 'done', preexisting: true, ref: done.state === 'done' ? done.ref : '' });

    // Access someone gave by hand before Ticketloop.
    const seeded = await h.admin('/roleAssignments', {
      scope: SUB,
      principalId: SP,
      principalType: 'ServicePrincipal',
      roleDefinitionId: 'Contributor',
    });
    const pre = await p.grant({
      ...input,
      scope: SUB,
      permission: CONTRIBUTOR,
      principal: { type: 'servicePrincipal', id: SP },
    });
    assert.deepEqual(pre, { state: 'done', preexisting: true, ref: seeded.value[0].id });
  }));

test('azure-rbac: revoke by ref or grant key, revoke of absent, never someone else’s assignment', () =>
  withHarness(async (h) => {
    const p = new AzureRbacProvider(h.client());
    const input = grantInput(h);
    const done = await p.grant(input);
    assert.equal(done.state, 'done');
    const ref = done.state === 'done' ? done.ref! : '';
    assert.deepEqual(await p.revoke({ ...input, key: 'revoke-1', ref }), { state: 'done' });
    assert.equal(await p.read(input), undefined);
    assert.deepEqual(await p.revoke({ ...input, key: 'revoke-1', ref }), { state: 'done' }, 'absent is done');

    await p.grant(input);
    assert.deepEqual(await p.revoke({ ...input, key: 'revoke-2', grantKey: input.key }), { state: 'done' });
    assert.equal(await p.read(input), undefined);
    await assert.rejects(p.revoke({ ...input, key: 'revoke-3' }), PermanentError, 'neither ref nor grant key');

    const theirs = await h.admin('/roleAssignments', {
      scope: RG,
      principalId: SP,
      roleDefinitionId: 'Reader',
      principalType: 'ServicePrincipal',
    });
    await assert.rejects(p.revoke({ ...input, key: 'revoke-4', ref: theirs.value[0].id }), /not deleted/);
    assert.equal((await h.call('GET', `${theirs.value[0].id}?api-version=2022-04-01`)).status, 200);
  }));

test('azure-rbac: list at a scope shows direct and inherited assignments, by role when asked', () =>
  withHarness(async (h) => {
    const p = new AzureRbacProvider(h.client());
    await p.grant(grantInput(h));
    await h.admin('/roleAssignments', {
      assignments: [
        { scope: SUB, principalId: SP, principalType: 'ServicePrincipal', roleDefinitionId: 'Contributor' },
        {
          scope: SUB,
          principalId: '33333333-3333-4333-8333-333333333333',
          principalType: 'Group',
          roleDefinitionId: 'Reader',
        },
        { scope: `${SUB}/resourceGroups/rg-data`, principalId: USER, roleDefinitionId: 'Reader' },
      ],
    });
    const all = [];
    for await (const page of p.list(RG)) all.push(...page);
    assert.deepEqual(
      all.map((a) => [a.principal.type, a.principal.id, a.permission, a.via]).sort(),
      [
        ['servicePrincipal', SP, CONTRIBUTOR, 'inherited'],
        ['user', USER, READER, 'direct'],
      ],
      'groups are left out; rg-data is not above rg-web',
    );
    const readers = [];
    for await (const page of p.list(RG, `/providers/Microsoft.Authorization/roleDefinitions/${READER}`))
      readers.push(...page);
    assert.deepEqual(
      readers.map((a) => a.principal.id),
      [USER],
    );
  }));

test('azure-rbac: PrincipalNotFound and RoleAssignmentUpdateNotPermitted are permanent; throttling is an HttpError', () =>
  withHarness(async (h) => {
    const p = new AzureRbacProvider(h.client());
    await h.admin('/authorization/settings', { missingPrincipals: [USER] });
    await assert.rejects(
      p.grant(grantInput(h)),
      (e: Error) => e instanceof PermanentError && e.message.includes(USER) && /PrincipalNotFound/.test(e.message),
    );
    await h.admin('/authorization/settings', { missingPrincipals: [] });

    const input = grantInput(h, { principal: { type: 'servicePrincipal', id: SP } });
    await h.admin('/roleAssignments', {
      scope: RG,
      name: roleAssignmentName(input, input.key),
      principalId: USER,
      roleDefinitionId: 'Reader',
    });
    await assert.rejects(p.grant(input), /RoleAssignmentUpdateNotPermitted/);

    await h.call('PATCH', '/_sandbox/faults', { token: null, json: { burst429: 1, retryAfterSeconds: 3 } });
    await assert.rejects(
      p.grant(grantInput(h, { key: 'k3' })),
      (e: unknown) => e instanceof HttpError && e.status === 429 && e.retryable && e.retryAfterMs === 3000,
    );
  }));

test('azure-pim: grant ends by itself; read-back has endsAt; a retried grant finds its request', () =>
  withHarness(async (h) => {
    const p = new AzurePimProvider(h.client(), h.clock);
    assert.equal(p.expiresNatively, true);
    const input = grantInput(h, { expiresAt: h.clock.now() + 30 * MIN });
    assert.deepEqual(await p.grant(input), { state: 'done' });
    const read = await p.read(input);
    assert.equal(read?.via, 'direct');
    assert.equal(read?.endsAt, input.expiresAt);
    assert.match(read!.ref, /\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}$/);
    assert.deepEqual(await p.grant(input), { state: 'done' }, 'the same key again');
    const inherited = [];
    for await (const page of p.list(`${RG}/providers/Microsoft.Compute/virtualMachines/vm-web-01`))
      inherited.push(...page);
    assert.deepEqual(
      inherited.map((a) => a.via),
      ['inherited'],
    );

    await h.call('POST', '/_sandbox/clock', { token: null, json: { advanceMs: 31 * MIN } });
    assert.equal(await p.read(input), undefined, 'PIM ended it at expiresAt');
    const left = [];
    for await (const page of p.list(RG)) left.push(...page);
    assert.deepEqual(left, []);
  }));

test('azure-pim: revoke within 5 minutes is a RetryableError due after the floor; then done; absent is done', () =>
  withHarness(async (h) => {
    const p = new AzurePimProvider(h.client(), h.clock);
    const input = grantInput(h);
    await p.grant(input);
    await h.call('POST', '/_sandbox/clock', { token: null, json: { advanceMs: 2 * MIN } });
    await assert.rejects(p.revoke({ ...input, key: 'revoke-1' }), (e: unknown) => {
      assert.ok(e instanceof RetryableError);
      assert.match(e.message, /ActiveDurationTooShort/);
      // Started 2 minutes ago: 3 more minutes, plus a few seconds of margin.
      assert.ok(e.retryAfterMs! >= 3 * MIN && e.retryAfterMs! <= 3 * MIN + 10_000, String(e.retryAfterMs));
      return true;
    });
    await h.call('POST', '/_sandbox/clock', { token: null, json: { advanceMs: 3 * MIN + 10_000 } });
    assert.deepEqual(await p.revoke({ ...input, key: 'revoke-1' }), { state: 'done' });
    assert.equal(await p.read(input), undefined);
    assert.deepEqual(await p.revoke({ ...input, key: 'revoke-1' }), { state: 'done' }, 'RoleAssignmentDoesNotExist');
  }));

test('azure-pim: over the policy maximum is permanent; an assignment already there is preexisting', () =>
  withHarness(async (h) => {
    const p = new AzurePimProvider(h.client(), h.clock);
    await assert.rejects(p.grant(grantInput(h, { expiresAt: h.clock.now() + 9 * 60 * MIN })), /ExpirationRule/);
    await h.admin('/roleAssignments', { scope: RG, principalId: USER, roleDefinitionId: 'Reader' });
    assert.deepEqual(await p.grant(grantInput(h)), { state: 'done', preexisting: true });
    await assert.rejects(p.status('not-an-id'), PermanentError);
  }));

test('azure-pim: extend is an AdminUpdate to the new end (read back), the same key again finds its request, absent is permanent', () =>
  withHarness(async (h) => {
    const p = new AzurePimProvider(h.client(), h.clock);
    const input = grantInput(h, { expiresAt: h.clock.now() + 30 * MIN });
    const extend = { ...input, key: 'assignment-1:g1:x', endsAt: h.clock.now() + 90 * MIN };
    await assert.rejects(
      p.extend(extend),
      (e: Error) => e instanceof PermanentError && /RoleAssignmentDoesNotExist/.test(e.message),
    );
    await p.grant(input);
    assert.deepEqual(await p.extend(extend), { state: 'done' });
    assert.equal((await p.read(input))?.endsAt, extend.endsAt);
    assert.deepEqual(await p.extend(extend), { state: 'done' }, 'a retry finds the request of its key');
    const requests = await h.call(
      'GET',
      `${RG}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01`,
    );
    assert.deepEqual(requests.body.value.map((r: any) => r.properties.requestType).sort(), [
      'AdminAssign',
      'AdminUpdate',
    ]);
    await h.call('POST', '/_sandbox/clock', { token: null, json: { advanceMs: 31 * MIN } });
    assert.ok(await p.read(input), 'still active past the first end');
  }));
