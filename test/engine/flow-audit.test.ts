import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { ManualClock } from '../../src/engine/clock.ts';
import { Engine } from '../../src/engine/engine.ts';
import { loadFlowState, type Flow } from '../../src/engine/flow.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import { verifyAudit } from '../../src/store/audit-verify.ts';
import { describeEachDialect } from '../helpers/dialects.ts';

// A toy flow: an order is opened (effect: notify), then confirmed by the effect's result.
type OrderState = { status: 'open' | 'confirmed'; notified: number };
type OrderEvent = { type: 'open' } | { type: 'confirmed' };
const orderFlow: Flow<OrderState, OrderEvent> = {
  name: 'order',
  decide(state, event) {
    if (event.type === 'open') {
      if (state) return null; // redelivery: nothing new
      return {
        state: { status: 'open', notified: 0 },
        effects: [{ kind: 'notify', key: 'notify' }],
        audit: { action: 'opened' },
      };
    }
    if (!state || state.status === 'confirmed') return null;
    return { state: { status: 'confirmed', notified: state.notified + 1 }, audit: { action: 'confirmed' } };
  },
};

await describeEachDialect('flow contract and audit log', (ctx) => {
  test('state, effect jobs and audit row commit together; effect results feed back into the flow', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock });
    let notified = 0;
    engine.registerFlow(orderFlow, {
      notify: async (p: { flowId: string }) => {
        notified++;
        return { events: [{ flow: 'order', id: p.flowId, event: { type: 'confirmed' } }] };
      },
    });
    const first = await engine.dispatch('order', 'o-1', { type: 'open' });
    assert.equal(first.changed, true);
    const again = await engine.dispatch('order', 'o-1', { type: 'open' });
    assert.equal(again.changed, false, 'redelivered event changes nothing');
    assert.equal((await listJobs(ctx.store.db, { kind: 'order.notify' })).length, 1);
    await engine.drain();
    assert.equal(notified, 1);
    assert.deepEqual(await loadFlowState(ctx.store.db, 'order', 'o-1'), { status: 'confirmed', notified: 1 });
    const audit = await ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('subject', '=', 'order/o-1')
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      audit.map((a) => JSON.parse(a.detail).action),
      ['opened', 'confirmed'],
    );
  });

  test('a failing decision rolls back state, jobs and audit alike', async () => {
    const engine = new Engine({ store: ctx.store });
    const broken: Flow<OrderState, OrderEvent> = {
      name: 'broken',
      decide() {
        return {
          state: { status: 'open', notified: 0 },
          effects: [{ kind: 'x', key: 'x', payload: { big: 1n as unknown as number } }],
          audit: { action: 'opened' },
        };
      },
    };
    engine.registerFlow(broken);
    const auditBefore = (await verifyAudit(ctx.store.db, ctx.store.keys)).rows;
    await assert.rejects(engine.dispatch('broken', 'b-1', { type: 'open' }));
    assert.equal(await loadFlowState(ctx.store.db, 'broken', 'b-1'), undefined);
    assert.equal((await listJobs(ctx.store.db, { kind: 'broken.x' })).length, 0);
    assert.equal((await verifyAudit(ctx.store.db, ctx.store.keys)).rows, auditBefore);
  });

  test('the audit log refuses edits, and verify catches an edited or deleted row', async () => {
    const engine = new Engine({ store: ctx.store });
    engine.registerFlow(orderFlow, { notify: async () => {} });
    for (let i = 0; i < 5; i++) await engine.dispatch('order', `v-${i}`, { type: 'open' });
    const before = await verifyAudit(ctx.store.db, ctx.store.keys);
    assert.equal(before.ok, true, before.problem);
    assert.ok(before.rows >= 5);
    await assert.rejects(
      sql`UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`.execute(ctx.store.db),
      /append-only/,
    );
    await assert.rejects(sql`DELETE FROM audit_log WHERE seq = 2`.execute(ctx.store.db), /append-only/);

    // Someone with database access disables the guard and edits a row.
    if (ctx.dialect === 'postgres')
      await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`.execute(ctx.store.db);
    else {
      await sql`DROP TRIGGER audit_log_no_update`.execute(ctx.store.db);
      await sql`DROP TRIGGER audit_log_no_delete`.execute(ctx.store.db);
    }
    await sql`UPDATE audit_log SET detail = '{"action":"nothing to see"}' WHERE seq = 2`.execute(ctx.store.db);
    const edited = await verifyAudit(ctx.store.db, ctx.store.keys);
    assert.equal(edited.ok, false);
    assert.equal(edited.seq, 2);
    assert.match(edited.problem!, /edited/);

    await sql`DELETE FROM audit_log WHERE seq >= 2`.execute(ctx.store.db);
    const truncated = await verifyAudit(ctx.store.db, ctx.store.keys);
    assert.equal(truncated.ok, false);
    assert.match(truncated.problem!, /missing/);
  });
});
