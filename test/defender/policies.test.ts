import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { itemIdFor } from '../../src/flows/defender/assessments.ts';
import { base, startDefenderEnv, type DefenderEnv } from './helpers.ts';

const one = (name: string, policy: string) =>
  base(name, {
    scope: `/subscriptions/${DEMO.prodSubscription}`,
    grouping: 'resource',
    filters: { recommendations: [DEMO.systemUpdates] },
    closedWhileUnhealthy: policy,
  });

let polls = 0;
async function poll(env: DefenderEnv) {
  await env.app.engine.enqueue({
    kind: 'itsm.poll',
    key: `test-poll-${++polls}`,
    payload: { system: 'sandbox', kind: 'incident' },
  });
  await env.drain();
}

async function closeAsAgent(env: DefenderEnv, sysId: string) {
  await env.snAsAgent('PATCH', `/api/now/table/incident/${sysId}`, {
    state: '7',
    close_code: 'Solution provided',
    close_notes: 'Closed by the service desk',
  });
}

test('closed while still unhealthy: reopen, new ticket (next generation), or comment — per integration', async () => {
  const env = await startDefenderEnv([
    one('p-reopen', 'reopen'),
    one('p-new', 'new_ticket'),
    one('p-comment', 'comment'),
  ]);
  try {
    for (const n of ['p-reopen', 'p-new', 'p-comment']) await env.reconcile(n);
    await env.drain();
    const id = (n: string) => itemIdFor({ name: n, grouping: 'resource' } as any, DEMO.systemUpdates, DEMO.vm);
    const first = Object.fromEntries(
      await Promise.all(['p-reopen', 'p-new', 'p-comment'].map(async (n) => [n, (await env.item(id(n)))!] as const)),
    );
    for (const s of Object.values(first)) assert.equal(s.status, 'ticket_open');
    // The agent resolves the reopen-policy ticket and closes the others.
    await env.snAsAgent('PATCH', `/api/now/table/incident/${first['p-reopen'].ticket!.id}`, {
      state: '6',
      close_code: 'Solution provided',
      close_notes: 'Done, I think',
    });
    for (const n of ['p-new', 'p-comment']) await closeAsAgent(env, first[n].ticket!.id);
    await poll(env);

    // reopen: the same ticket, back in progress, with a work note.
    const r = (await env.item(id('p-reopen')))!;
    assert.equal(r.status, 'ticket_open');
    assert.equal(r.ticket!.id, first['p-reopen'].ticket!.id);
    assert.equal((await env.snAsAgent('GET', `/api/now/table/incident/${r.ticket!.id}`)).result.state, '2');

    // A Closed ticket cannot be reopened (ServiceNow makes it read-only): reopen falls back to a new ticket.
    await closeAsAgent(env, r.ticket!.id);
    await poll(env);
    const r2 = (await env.item(id('p-reopen')))!;
    assert.equal(r2.gen, 2);
    assert.notEqual(r2.ticket!.id, r.ticket!.id);

    // new ticket: generation 2 with its own correlation id; governance now points at it.
    const n = (await env.item(id('p-new')))!;
    assert.equal(n.gen, 2);
    assert.equal(n.status, 'ticket_open');
    assert.notEqual(n.ticket!.id, first['p-new'].ticket!.id);
    const inc2 = (await env.snAsAgent('GET', `/api/now/table/incident/${n.ticket!.id}`)).result;
    assert.equal(inc2.correlation_id, `tl:defender:${id('p-new')}/2`);
    const gov = await env.app.connections
      .microsoft()
      .arm.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, governanceKey('p-new', DEMO.vm, DEMO.systemUpdates));
    assert.equal(gov?.properties.additionalData?.ticketNumber, Number(n.ticket!.key.replace(/\D/g, '')));
    // Changes to the generation-2 ticket come back to the same item: close it too → generation 3.
    await closeAsAgent(env, n.ticket!.id);
    await poll(env);
    assert.equal((await env.item(id('p-new')))!.gen, 3);

    // comment: the ticket stays closed, a comment says the resource is still unhealthy.
    const c = (await env.item(id('p-comment')))!;
    assert.equal(c.status, 'closed_unhealthy');
    assert.equal((await env.snAsAgent('GET', `/api/now/table/incident/${c.ticket!.id}`)).result.state, '7');
    assert.ok(
      env.snWrites().some((w) => w.method === 'PATCH' && w.url.includes(c.ticket!.id)),
      'comment written',
    );

    // A poll that sees nothing new changes nothing.
    const writes = env.snWrites().length;
    await poll(env);
    assert.equal(env.snWrites().length, writes);
  } finally {
    await env.close();
  }
});

test('grouping by recommendation, severity/recommendation filters, and the daily cap', async () => {
  const mg = `/providers/Microsoft.Management/managementGroups/${DEMO.managementGroup}`;
  const env = await startDefenderEnv([
    base('g-rec', { scope: mg, grouping: 'recommendation', dailyCap: 2 }),
    base('g-filter', { scope: mg, grouping: 'recommendation', filters: { recommendations: [DEMO.systemUpdates] } }),
    base('g-sev', { scope: mg, grouping: 'resource', filters: { severities: ['High'] } }),
  ]);
  try {
    // Recommendation grouping: systemUpdates is unhealthy on vm-web-01 (prod) and vm-build-01 (dev) → one item, 2 members.
    const f = await env.reconcile('g-filter');
    await env.drain();
    const fi = await env.items('g-filter:');
    assert.equal(fi.length, 1);
    assert.equal(fi[0].s.members, 2);
    assert.equal(f.unhealthy, 2);
    const arm = env.app.connections.microsoft().arm;
    const vmBuild = `/subscriptions/${DEMO.devSubscription}/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/vm-build-01`;
    for (const rid of [DEMO.vm, vmBuild]) {
      const g = await arm.getGovernanceAssignment(
        rid,
        DEMO.systemUpdates,
        governanceKey('g-filter', rid, DEMO.systemUpdates),
      );
      assert.equal(
        g?.properties.additionalData?.ticketLink,
        fi[0].s.ticket!.link,
        'every member links to the one ticket',
      );
    }

    // Severity filter: only High recommendations.
    await env.reconcile('g-sev');
    await env.drain();
    const sev = await env.items('g-sev:');
    assert.ok(sev.length > 0 && sev.every((x) => x.s.severity === 'High'));

    // Cap: 2 new tickets a day; the rest wait, then follow the next day.
    const r1 = await env.reconcile('g-rec');
    await env.drain();
    const distinct = (await env.items('g-rec:')).length;
    assert.equal(distinct, 2);
    assert.ok(r1.capped > 0);
    const sameDay = await env.reconcile('g-rec');
    assert.equal(sameDay.itemEvents, 0, 'still capped today');
    env.clock.advance(86_400_000);
    await env.reconcile('g-rec');
    await env.drain();
    assert.equal((await env.items('g-rec:')).length, 4);
  } finally {
    await env.close();
  }
});
