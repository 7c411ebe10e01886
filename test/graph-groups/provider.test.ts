import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../microsoft/helpers.ts';
import { EntraTokenSource } from '../../src/connectors/microsoft/identity.ts';
import { GRAPH_SCOPE, GraphClient } from '../../src/connectors/microsoft/graph.ts';
import { HttpError, PermanentError } from '../../src/engine/errors.ts';
import { EntraGroupProvider } from '../../src/flows/pod/providers/entra/groups.ts';
import { EntraPimGroupProvider } from '../../src/flows/pod/providers/entra/pim-groups.ts';
import type { ActualAssignment, AuthorizationProvider, GrantInput } from '../../src/flows/pod/providers/port.ts';
import { ALEX, BREAK_GLASS, BROKER_ROLES, FINANCE, MEGAN, STORAGE, workload } from './helpers.ts';

/**
 * The Entra group and PIM for Groups providers against the Graph twin over HTTPS (port:
 * src/flows/pod/providers/port.ts; wire: the PoD wire-format fact sheet (from Microsoft Graph docs group-post-members, group-delete-members, privilegedaccessgroup-post-assignmentschedulerequests) §3 — 204 add,
 * 400 duplicate read back as preexisting, 404 remove of a non-member, v1.0 member lists without
 * service principals; PIM for Groups adminAssign afterDateTime / adminRemove and native expiry).
 */

interface Setup {
  h: Harness;
  graph: GraphClient;
  tokens: EntraTokenSource;
}

async function withProviders(fn: (s: Setup) => Promise<void>): Promise<void> {
  const h = await startHarness();
  const app = await h.call('POST', '/_sandbox/entra/apps', { json: { roles: BROKER_ROLES, displayName: 'Broker' } });
  const tokens = new EntraTokenSource({
    authorityHost: h.sb.authorityHost,
    tenantId: h.sb.tenantId,
    clientId: app.body.clientId,
    clientSecret: app.body.clientSecret,
    ca: h.tls.ca,
  });
  const graph = new GraphClient({ graphUrl: h.sb.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca: h.tls.ca });
  try {
    await fn({ h, graph, tokens });
  } finally {
    await graph.close();
    await tokens.close();
    await h.close();
  }
}

const target = (groupId: string, principal: { type: 'user' | 'servicePrincipal'; id: string }) => ({
  principal,
  permission: groupId,
  scope: `/groups/${groupId}`,
});
const grantInput = (
  groupId: string,
  principal: { type: 'user' | 'servicePrincipal'; id: string },
  key: string,
  expiresAt: number,
): GrantInput => ({
  ...target(groupId, principal),
  key,
  expiresAt,
  justification: 'INC0010042: investigate the payroll export',
  ticketNumber: 'INC0010042',
  requestId: `req-${key}`,
});

async function all(p: AuthorizationProvider, scope: string): Promise<ActualAssignment[]> {
  const out: ActualAssignment[] = [];
  for await (const page of p.list(scope)) out.push(...page);
  return out;
}

const user = (id: string) => ({ type: 'user' as const, id });

test('entra-group: resolve by id or displayName (one match, cached), else PermanentError naming the candidates', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraGroupProvider(graph);
    assert.equal(p.type, 'entra-group');
    assert.equal(p.expiresNatively, false);
    assert.match(p.revokeCaveat, /tokens issued before the change/);
    assert.deepEqual(await p.resolvePermission('Finance Readers', '/groups'), {
      id: FINANCE.id,
      name: 'Finance Readers',
      description: FINANCE.description,
    });
    assert.equal((await p.resolvePermission(BREAK_GLASS.id, `/groups/${BREAK_GLASS.id}`)).name, 'Prod Break-glass');
    await assert.rejects(p.resolvePermission('No Such Group', '/groups'), PermanentError);
    await assert.rejects(p.resolvePermission('0f0f0f0f-0000-4000-8000-000000000000', '/groups'), PermanentError);

    // displayName is not unique: a second "Storage Contributors" makes the name ambiguous.
    const twin = await h.call('POST', '/_sandbox/entra/groups', { json: { displayName: 'Storage Contributors' } });
    await assert.rejects(p.resolvePermission('Storage Contributors', '/groups'), (e: unknown) => {
      assert.ok(e instanceof PermanentError);
      assert.match(e.message, new RegExp(STORAGE.id));
      assert.match(e.message, new RegExp(twin.body.id));
      return true;
    });

    // Cached: a rename is not seen by a name already resolved.
    await h.call('POST', '/_sandbox/entra/groups', {
      json: { id: FINANCE.id, displayName: 'Finance Viewers', members: [] },
    });
    assert.equal((await p.resolvePermission('finance readers', '/groups')).id, FINANCE.id);
  }));

test('entra-group: grant, read-back, duplicate (preexisting), revoke, revoke of absent, list', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraGroupProvider(graph);
    const expiresAt = h.sb.clock.now() + 3600_000;
    const alex = grantInput(STORAGE.id, user(ALEX.id), 'k1', expiresAt);
    assert.deepEqual(await p.grant(alex), { state: 'done', ref: `/groups/${STORAGE.id}/members/${ALEX.id}` });
    assert.deepEqual(await p.read(alex), {
      principal: user(ALEX.id),
      permission: STORAGE.id,
      scope: `/groups/${STORAGE.id}`,
      ref: `/groups/${STORAGE.id}/members/${ALEX.id}`,
      via: 'direct',
    });
    // Graph's 400 on a member already there, read back: done, preexisting (never removed by Ticketloop).
    assert.deepEqual(await p.grant({ ...alex, key: 'k2' }), {
      state: 'done',
      preexisting: true,
      ref: `/groups/${STORAGE.id}/members/${ALEX.id}`,
    });
    const megan = await p.grant(grantInput(FINANCE.id, user(MEGAN.id), 'k3', expiresAt));
    assert.equal(megan.state === 'done' && megan.preexisting, true, 'seeded membership is pre-existing');

    assert.deepEqual(await p.revoke({ ...target(STORAGE.id, user(ALEX.id)), key: 'r1' }), { state: 'done' });
    assert.equal(await p.read(alex), undefined);
    assert.deepEqual(
      await p.revoke({ ...target(STORAGE.id, user(ALEX.id)), key: 'r1' }),
      { state: 'done' },
      '404 is done',
    );

    const listed = await all(p, `/groups/${FINANCE.id}`);
    assert.deepEqual(
      listed.map((a) => [a.principal.id, a.via]),
      [[MEGAN.id, 'direct']],
    );

    // Wrong shapes never reach Graph.
    await assert.rejects(p.grant({ ...alex, scope: `/groups/${FINANCE.id}` }), PermanentError);
    // An unknown principal: Graph's 404, which the engine does not retry.
    await assert.rejects(
      p.grant(grantInput(STORAGE.id, user('0f0f0f0f-0000-4000-8000-000000000000'), 'k4', expiresAt)),
      (e: unknown) => {
        assert.ok(e instanceof HttpError);
        assert.equal(e.status, 404);
        assert.equal(e.retryable, false);
        return true;
      },
    );
    // Throttling goes up as an HttpError with Retry-After for the engine's one retry policy.
    await h.call('PATCH', '/_sandbox/faults', { json: { burst429: 1, retryAfterSeconds: 3, pathPattern: '/members' } });
    await assert.rejects(p.grant(grantInput(STORAGE.id, user(ALEX.id), 'k5', expiresAt)), (e: unknown) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 429);
      assert.equal(e.retryAfterMs, 3000);
      return true;
    });
  }));

test('entra-group: a service principal member is granted, read back and listed (beta, not v1.0 /members)', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraGroupProvider(graph);
    const sp = await workload(h, 'Payroll exporter');
    const t = grantInput(STORAGE.id, { type: 'servicePrincipal', id: sp.id }, 'sp1', h.sb.clock.now() + 3600_000);
    assert.equal((await p.grant(t)).state, 'done');
    const back = await p.read(t);
    assert.deepEqual(back?.principal, { type: 'servicePrincipal', id: sp.id });
    assert.deepEqual(
      (await all(p, `/groups/${STORAGE.id}`)).map((a) => a.principal),
      [{ type: 'servicePrincipal', id: sp.id }],
    );
    const dup = await p.grant({ ...t, key: 'sp2' });
    assert.equal(dup.state === 'done' && dup.preexisting, true);
    assert.deepEqual(await p.revoke({ ...target(STORAGE.id, t.principal), key: 'sp-r' }), { state: 'done' });
    assert.equal(await p.read(t), undefined);
  }));

test('entra-pim-group: adminAssign until expiresAt, retry of the same key, preexisting, native expiry, adminRemove', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraPimGroupProvider(graph, h.sb.clock, { ticketSystem: 'ServiceNow' });
    assert.equal(p.type, 'entra-pim-group');
    assert.equal(p.expiresNatively, true);
    const expiresAt = h.sb.clock.now() + 3600_000;
    const alex = grantInput(BREAK_GLASS.id, user(ALEX.id), 'g1', expiresAt);
    const op = await p.grant(alex);
    assert.equal(op.state, 'done');
    assert.ok(op.state === 'done' && op.ref?.startsWith(`${BREAK_GLASS.id}_member_`));
    const back = await p.read(alex);
    assert.equal(back?.via, 'direct');
    assert.ok(back?.endsAt && Math.abs(back.endsAt - expiresAt) < 1000);
    // The request carried the ticket and the key.
    const reqs = await graph.get<{ value: any[] }>(
      '/identityGovernance/privilegedAccess/group/assignmentScheduleRequests',
    );
    assert.deepEqual(reqs.value[0].ticketInfo, { ticketNumber: 'INC0010042', ticketSystem: 'ServiceNow' });
    assert.equal(reqs.value[0].customData, 'ticketloop:g1');

    // A retry after a lost answer: PIM says the assignment exists, and it is ours (same key).
    assert.deepEqual(await p.grant(alex), { state: 'done', ref: op.state === 'done' ? op.ref : undefined });
    // Someone else's (a plain membership PIM lists as permanent): preexisting.
    const megan = await p.grant(grantInput(FINANCE.id, user(MEGAN.id), 'g2', expiresAt));
    assert.equal(megan.state === 'done' && megan.preexisting, true);

    assert.deepEqual(
      (await all(p, `/groups/${BREAK_GLASS.id}`)).map((a) => [a.principal.id, a.endsAt]),
      [[ALEX.id, back?.endsAt]],
    );

    // PIM ends it by itself at expiresAt (sandbox time), with Ticketloop doing nothing.
    await h.call('POST', '/_sandbox/clock', { json: { advanceMs: 3600_000 + 60_000 } });
    assert.equal(await p.read(alex), undefined);
    assert.deepEqual(await p.revoke({ ...target(BREAK_GLASS.id, user(ALEX.id)), key: 'r1' }), { state: 'done' });

    // Granted again, then revoked by adminRemove.
    const again = grantInput(BREAK_GLASS.id, user(ALEX.id), 'g3', h.sb.clock.now() + 2 * 3600_000);
    assert.equal((await p.grant(again)).state, 'done');
    assert.equal((await p.revoke({ ...target(BREAK_GLASS.id, user(ALEX.id)), key: 'r2' })).state, 'done');
    assert.equal(await p.read(again), undefined);
    const members = await graph.get<{ value: unknown[] }>(`/groups/${BREAK_GLASS.id}/members`);
    assert.deepEqual(members.value, []);

    await assert.rejects(
      p.grant(grantInput(BREAK_GLASS.id, user(ALEX.id), 'g4', h.sb.clock.now() - 1)),
      PermanentError,
    );
  }));

test('entra-pim-group: a service principal, and status() of a request', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraPimGroupProvider(graph, h.sb.clock);
    const sp = await workload(h, 'Deploy bot');
    const t = grantInput(BREAK_GLASS.id, { type: 'servicePrincipal', id: sp.id }, 's1', h.sb.clock.now() + 3600_000);
    assert.equal((await p.grant(t)).state, 'done');
    assert.deepEqual(
      (await all(p, `/groups/${BREAK_GLASS.id}`)).map((a) => a.principal),
      [{ type: 'servicePrincipal', id: sp.id }],
    );
    const reqs = await graph.get<{ value: { id: string }[] }>(
      '/identityGovernance/privilegedAccess/group/assignmentScheduleRequests',
    );
    assert.equal((await p.status(reqs.value[0].id)).state, 'done');
    assert.equal((await p.status('0f0f0f0f-0000-4000-8000-000000000000')).state, 'failed');
  }));

test('entra-pim-group: extend is an adminUpdate to the new end, tagged with its key; a retry finds it', () =>
  withProviders(async ({ h, graph }) => {
    const p = new EntraPimGroupProvider(graph, h.sb.clock);
    const alex = grantInput(BREAK_GLASS.id, user(ALEX.id), 'g1', h.sb.clock.now() + 3600_000);
    const extend = { ...alex, key: 'g1:x', endsAt: h.sb.clock.now() + 3 * 3600_000 };
    await assert.rejects(p.extend(extend), PermanentError);
    await p.grant(alex);
    const op = await p.extend(extend);
    assert.equal(op.state, 'done');
    assert.ok(Math.abs((await p.read(alex))!.endsAt! - extend.endsAt) < 1000);
    assert.deepEqual(await p.extend(extend), op, 'the same key again: the request it made');
    const reqs = await graph.get<{ value: any[] }>(
      '/identityGovernance/privilegedAccess/group/assignmentScheduleRequests',
    );
    assert.deepEqual(
      reqs.value.filter((r) => r.action === 'adminUpdate').map((r) => r.customData),
      ['ticketloop:g1:x'],
    );
  }));
