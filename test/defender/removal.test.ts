import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import { base, startDefenderEnv } from './helpers.ts';

const HOUR = 3_600_000;
const one = (name: string, extra: Record<string, unknown> = {}) =>
  base(name, {
    scope: `/subscriptions/${DEMO.prodSubscription}`,
    grouping: 'resource',
    filters: { recommendations: [DEMO.systemUpdates] },
    ...extra,
  });

test('an integration gone from the configuration file is deleted after its grace period, unless it comes back', async () => {
  const keep = one('keep');
  const env = await startDefenderEnv([keep, one('gone')]);
  const assignment = () =>
    env.app.connections
      .microsoft()
      .arm.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, governanceKey('gone', DEMO.vm, DEMO.systemUpdates));
  const purges = async () =>
    (await listJobs(env.app.store.db, { kind: 'defender.purge' })).filter((j) => j.key.includes(':gone:'));
  try {
    await env.reconcile('keep');
    await env.reconcile('gone');
    await env.drain();
    const [item] = await env.items('gone:');
    assert.equal(item.s.status, 'ticket_open');
    assert.ok(await assignment(), 'governance assignment written');

    // Removed from the file: a purge 24 h (the default) after the start that noticed it.
    await env.restart([keep]);
    let [job] = await purges();
    assert.equal(Number(job.run_at), env.clock.now() + 24 * HOUR);
    env.clock.advance(23 * HOUR);
    await env.drain();
    assert.ok(await assignment(), 'within the grace period nothing is removed');

    // Back within the grace period (now with a 2 h grace): the purge finds it back and does nothing.
    await env.restart([keep, one('gone', { removalGraceHours: 2 })]);
    env.clock.advance(2 * HOUR);
    await env.drain();
    [job] = await purges();
    assert.equal(job.state, 'done');
    assert.ok(await assignment(), 'kept: it came back');
    assert.equal((await env.item(item.id))?.status, 'ticket_open');

    // Gone again: its own 2 h grace, through a restart (the purge job is durable), then the delete cascade.
    await env.restart([keep]);
    env.clock.advance(HOUR);
    await env.restart([keep]);
    await env.drain();
    assert.ok(await assignment(), 'one hour into a two-hour grace: still there');
    env.clock.advance(HOUR + 1000);
    await env.drain();
    assert.equal(await assignment(), undefined, 'governance assignment removed');
    const after = await env.item(item.id);
    assert.equal(after?.status, 'deleted');
    const notes = await env.snAsAgent(
      'GET',
      `/api/now/table/sys_journal_field?sysparm_query=element_id=${item.s.ticket!.id}^element=work_notes`,
    );
    assert.ok(
      notes.result.some((n: { value: string }) => /integration "gone" was deleted/.test(n.value)),
      'its ticket is annotated',
    );
    // The integration still in the file is untouched.
    assert.equal((await env.items('keep:'))[0].s.status, 'ticket_open');
  } finally {
    await env.close();
  }
});
