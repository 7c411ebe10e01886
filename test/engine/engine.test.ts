import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, DAY_MS } from '../../src/engine/clock.ts';
import { Engine } from '../../src/engine/engine.ts';
import { PermanentError, RetryableError } from '../../src/engine/errors.ts';
import { listJobs, retryDeadJobs } from '../../src/engine/jobs.ts';
import { describeEachDialect } from '../helpers/dialects.ts';

await describeEachDialect('engine', (ctx) => {
  test('enqueueing the same key twice makes one job, run once', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock });
    let runs = 0;
    engine.register('idem.noop', async () => {
      runs++;
    });
    assert.equal(await engine.enqueue({ kind: 'idem.noop', key: 'same-key' }), 1);
    assert.equal(await engine.enqueue({ kind: 'idem.noop', key: 'same-key' }), 0);
    await engine.drain();
    assert.equal(await engine.enqueue({ kind: 'idem.noop', key: 'same-key' }), 0, 'a finished key stays taken');
    await engine.drain();
    assert.equal(runs, 1);
    const rows = await listJobs(ctx.store.db, { kind: 'idem.noop' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].state, 'done');
  });

  test('a failing job backs off exponentially, honours Retry-After, then succeeds', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock, backoffBaseMs: 1_000, backoffMaxMs: 60_000 });
    const seen: number[] = [];
    engine.register('retry.flaky', async () => {
      seen.push(clock.now());
      if (seen.length === 1) throw new Error('boom');
      if (seen.length === 2) throw new RetryableError('429 from upstream', 42_000);
    });
    await engine.enqueue({ kind: 'retry.flaky', key: 'flaky-1' });
    await engine.drain();
    assert.equal(seen.length, 1);
    let [job] = await listJobs(ctx.store.db, { kind: 'retry.flaky' });
    assert.equal(job.state, 'ready');
    assert.match(job.last_error ?? '', /boom/);
    const firstDelay = job.run_at - seen[0];
    assert.ok(firstDelay >= 500 && firstDelay <= 1_000, `first backoff ${firstDelay} within [base/2, base]`);
    clock.advance(firstDelay - 1);
    await engine.drain();
    assert.equal(seen.length, 1, 'not before its time');
    clock.advance(1);
    await engine.drain();
    assert.equal(seen.length, 2);
    [job] = await listJobs(ctx.store.db, { kind: 'retry.flaky' });
    assert.equal(job.run_at - seen[1], 42_000, 'Retry-After given by the effect is used as the delay');
    clock.advance(42_000);
    await engine.drain();
    assert.equal(seen.length, 3);
    [job] = await listJobs(ctx.store.db, { kind: 'retry.flaky' });
    assert.equal(job.state, 'done');
    assert.equal(job.attempts, 3);
  });

  test('out of attempts → dead letter with its last error; manual retry runs it again', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock, backoffBaseMs: 10, backoffMaxMs: 10 });
    let fail = true;
    let runs = 0;
    engine.register('dead.always', async () => {
      runs++;
      if (fail) throw new Error(`attempt ${runs} failed`);
    });
    engine.register('dead.permanent', async () => {
      throw new PermanentError('record is gone');
    });
    await engine.enqueue([
      { kind: 'dead.always', key: 'dead-1', maxAttempts: 3 },
      { kind: 'dead.permanent', key: 'dead-2', maxAttempts: 5 },
    ]);
    for (let i = 0; i < 5; i++) {
      await engine.drain();
      clock.advance(20);
    }
    assert.equal(runs, 3);
    const dead = await listJobs(ctx.store.db, { state: 'dead' });
    const always = dead.find((j) => j.key === 'dead-1')!;
    assert.equal(always.last_error, 'Error: attempt 3 failed');
    const permanent = dead.find((j) => j.key === 'dead-2')!;
    assert.equal(permanent.attempts, 1, 'a permanent error is not retried');
    fail = false;
    assert.equal(await retryDeadJobs(ctx.store.db, clock.now(), always.id), 1);
    await engine.drain();
    assert.equal(runs, 4);
    const [again] = await listJobs(ctx.store.db, { kind: 'dead.always' });
    assert.equal(again.state, 'done');
  });

  test('a timer 14 days out survives a restart and fires exactly once', async () => {
    const clock = new ManualClock();
    let fired = 0;
    const first = new Engine({ store: ctx.store, clock });
    first.register('timer.fire', async () => {
      fired++;
    });
    await first.enqueue({ kind: 'timer.fire', key: 'timer-14d', runAt: clock.now() + 14 * DAY_MS });
    await first.drain();
    assert.equal(fired, 0);
    await first.stop();
    // "Restart": a new engine (new worker id) over the same database, clock moved 14 days.
    await ctx.store.close();
    ctx.store = await ctx.tdb.open();
    clock.advance(14 * DAY_MS);
    const second = new Engine({ store: ctx.store, clock });
    second.register('timer.fire', async () => {
      fired++;
    });
    await second.drain();
    await second.drain();
    clock.advance(DAY_MS);
    await second.drain();
    assert.equal(fired, 1);
  });

  test('a job whose lease runs out is run again by another worker, and completes once', async () => {
    const clock = new ManualClock();
    const dead = new Engine({ store: ctx.store, clock, leaseMs: 1_000, workerId: 'dies' });
    const alive = new Engine({ store: ctx.store, clock, leaseMs: 1_000, workerId: 'lives' });
    let ran = 0;
    alive.register('lease.job', async () => {
      ran++;
    });
    await alive.enqueue({ kind: 'lease.job', key: 'lease-1' });
    // The first worker claims and then "dies" without finishing.
    const { claimJobs } = await import('../../src/engine/jobs.ts');
    const claimed = await claimJobs(ctx.store.db, ctx.store.dialect, dead.workerId, 10, clock.now(), 1_000);
    assert.equal(claimed.filter((j) => j.key === 'lease-1').length, 1);
    await alive.drain();
    assert.equal(ran, 0, 'leased elsewhere: not run');
    clock.advance(1_001);
    await alive.drain();
    assert.equal(ran, 1);
    const [job] = await listJobs(ctx.store.db, { kind: 'lease.job' });
    assert.equal(job.state, 'done');
    assert.equal(job.attempts, 2);
  });

  test('a schedule fires once per interval across two engines', async () => {
    const clock = new ManualClock();
    const a = new Engine({ store: ctx.store, clock, workerId: 'a' });
    const b = new Engine({ store: ctx.store, clock, workerId: 'b' });
    let runs = 0;
    for (const e of [a, b]) {
      e.register('sched.tick', async () => {
        runs++;
      });
      await e.schedule('every-minute', 60_000, 'sched.tick');
    }
    for (let i = 0; i < 3; i++) {
      await Promise.all([a.drain(), b.drain()]);
      await Promise.all([a.drain(), b.drain()]);
      clock.advance(60_000);
    }
    assert.equal(runs, 3);
  });

  test('finished jobs are deleted after the retention period; unfinished and dead ones stay', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock, retainDoneMs: 7 * DAY_MS });
    engine.register('purge.ok', async () => {});
    engine.register('purge.bad', async () => {
      throw new PermanentError('no');
    });
    await engine.enqueue([
      { kind: 'purge.ok', key: 'purge-old' },
      { kind: 'purge.bad', key: 'purge-dead' },
    ]);
    await engine.drain();
    clock.advance(6 * DAY_MS);
    await engine.enqueue([
      { kind: 'purge.ok', key: 'purge-recent' },
      { kind: 'purge.ok', key: 'purge-later', runAt: clock.now() + 30 * DAY_MS },
    ]);
    await engine.drain();
    clock.advance(2 * DAY_MS);
    await engine.drain();
    const left = async (kind: string) =>
      (await listJobs(ctx.store.db, { kind })).map((j) => `${j.key}:${j.state}`).sort();
    assert.deepEqual(await left('purge.ok'), ['purge-later:ready', 'purge-recent:done']);
    assert.deepEqual(await left('purge.bad'), ['purge-dead:dead']);
  });

  test('urgent jobs are claimed before an older backlog of normal ones', async () => {
    const clock = new ManualClock();
    const engine = new Engine({ store: ctx.store, clock, concurrency: 2 });
    const order: string[] = [];
    engine.register('prio.work', async (p: { n: string }) => {
      order.push(p.n);
    });
    await engine.enqueue(
      Array.from({ length: 6 }, (_, i) => ({ kind: 'prio.work', key: `prio-old-${i}`, payload: { n: `old${i}` } })),
    );
    clock.advance(1_000);
    await engine.enqueue({ kind: 'prio.work', key: 'prio-urgent', payload: { n: 'urgent' }, priority: 'urgent' });
    await engine.enqueue({
      kind: 'prio.work',
      key: 'prio-urgent-later',
      payload: { n: 'later' },
      priority: 'urgent',
      runAt: clock.now() + 60_000,
    });
    await engine.drain();
    assert.equal(order[0], 'urgent', order.join(','));
    // Same run_at: their order among themselves is the database's to choose.
    assert.deepEqual(
      order.slice(1).sort(),
      ['old0', 'old1', 'old2', 'old3', 'old4', 'old5'],
      'a future urgent job waits for its time',
    );
    clock.advance(60_000);
    await engine.drain();
    assert.equal(order.at(-1), 'later');
  });
});
