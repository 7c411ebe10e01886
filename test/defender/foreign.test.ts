import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { ticketCorrelationItem } from '../../src/flows/defender/flow.ts';
import { itemIdFor } from '../../src/flows/defender/assessments.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { base, startDefenderEnv } from './helpers.ts';

// Security review, issue 10, finding 2 (Defender): a second incident carrying an item's correlation
// key, closed by someone, must not count as the item's ticket being closed (no reopen, no new
// generation); it is audited `foreign-ticket-ignored`, and the real ticket still works.

test('a forged incident with the item’s key, closed, changes nothing; closing the real one does', async () => {
  const env = await startDefenderEnv([
    base('f-new', {
      scope: `/subscriptions/${DEMO.prodSubscription}`,
      grouping: 'resource',
      filters: { recommendations: [DEMO.systemUpdates] },
      closedWhileUnhealthy: 'new_ticket',
    }),
  ]);
  let polls = 0;
  const poll = async () => {
    await env.app.engine.enqueue({
      kind: 'itsm.poll',
      key: `foreign-poll-${++polls}`,
      payload: { system: 'sandbox', kind: 'incident' },
    });
    await env.drain();
  };
  const audit = async (item: string) =>
    (
      await env.app.store.db
        .selectFrom('audit_log')
        .select('detail')
        .where('subject', '=', `defender/${item}`)
        .orderBy('seq')
        .execute()
    ).map((r) => JSON.parse(r.detail) as { action: string; id?: string; ours?: string });
  try {
    await env.reconcile();
    await env.drain();
    const item = itemIdFor({ name: 'f-new', grouping: 'resource' } as any, DEMO.systemUpdates, DEMO.vm);
    const before = (await env.item(item))!;
    assert.equal(before.status, 'ticket_open');

    const forged = (
      await env.snAsAgent('POST', '/api/now/table/incident', {
        short_description: 'System updates should be installed',
        correlation_id: correlationKey('defender', item),
      })
    ).result;
    await env.snAsAgent('PATCH', `/api/now/table/incident/${forged.sys_id}`, {
      state: '7',
      close_code: 'Solution provided',
      close_notes: 'nothing to see',
    });
    const creates = env.snWrites().filter((w) => w.method === 'POST').length;
    await poll();

    const after = (await env.item(item))!;
    assert.deepEqual(
      [after.status, after.gen, after.ticket],
      [before.status, before.gen, before.ticket],
      'same generation, same ticket, still open',
    );
    assert.equal(env.snWrites().filter((w) => w.method === 'POST').length, creates, 'no new ticket opened');
    const ignored = (await audit(item)).filter((a) => a.action === 'foreign-ticket-ignored');
    assert.ok(ignored.length >= 1 && ignored.every((a) => a.id === forged.sys_id && a.ours === before.ticket!.key));

    // Generation keys are predictable: a record pre-created under the next one by someone other than
    // Ticketloop's account must not be adopted when that generation opens.
    const squatter = (
      await env.snAsAgent('POST', '/api/now/table/incident', {
        short_description: 'waiting for generation 2',
        correlation_id: correlationKey('defender', ticketCorrelationItem(item, 2)),
      })
    ).result;

    // The real ticket, closed while the resource is still unhealthy → the policy's new generation.
    await env.snAsAgent('PATCH', `/api/now/table/incident/${before.ticket!.id}`, {
      state: '7',
      close_code: 'Solution provided',
      close_notes: 'Closed by the service desk',
    });
    await poll();
    const next = (await env.item(item))!;
    assert.equal(next.gen, 2);
    assert.notEqual(next.ticket!.id, before.ticket!.id);
    assert.notEqual(next.ticket!.id, forged.sys_id, 'the forged record was not adopted for the next generation');
    assert.notEqual(
      next.ticket!.id,
      squatter.sys_id,
      'the record pre-created under generation 2’s key was not adopted',
    );
  } finally {
    await env.close();
  }
});
