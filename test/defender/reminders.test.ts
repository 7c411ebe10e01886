import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { base, startDefenderEnv } from './helpers.ts';

const DAY = 86_400_000;

test('reminders to owner and manager over SMTP (each switch honoured), weekly while open; overdue recorded', async () => {
  const sinkFile = join(process.env.TMPDIR ?? '/tmp', `tl-smtp-${process.pid}-${Date.now()}.jsonl`);
  const sink = spawn(process.execPath, [join(import.meta.dirname, 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const { port } = JSON.parse(
    await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
  ) as { port: number };
  const smtp = { host: '127.0.0.1', port, starttls: 'off', from: 'ticketloop@example.com' };
  const one = (name: string, notifications: Record<string, unknown>) =>
    base(name, {
      scope: `/subscriptions/${DEMO.prodSubscription}`,
      grouping: 'resource',
      filters: { recommendations: [DEMO.systemUpdates] },
      remediationTimeframeDays: 10,
      notifications: { daysBefore: 3, weekly: true, ...notifications },
    });
  const env = await startDefenderEnv([
    one('r-both', { owner: true, manager: true, smtp }),
    one('r-mgr', { owner: false, manager: true, smtp }),
    one('r-off', {}),
  ]);
  const mails = () =>
    existsSync(sinkFile)
      ? readFileSync(sinkFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  try {
    for (const n of ['r-both', 'r-mgr', 'r-off']) await env.reconcile(n);
    await env.drain();
    const ticket = async (n: string) => (await env.items(`${n}:`))[0].s;
    const both = (await ticket('r-both')).ticket!.key;
    const mgr = (await ticket('r-mgr')).ticket!.key;
    const off = (await ticket('r-off')).ticket!.key;
    assert.equal(mails().length, 0, 'nothing before the first reminder is due');

    // Day 7 = 3 days before the due date (and the first weekly one): one reminder each.
    env.clock.advance(7 * DAY + 1000);
    await env.drain();
    let m = mails();
    const to = (num: string) => m.filter((x) => x.subject.includes(num)).map((x) => x.to.sort().join(','));
    assert.deepEqual(to(both), ['abel.tuter@example.com,carol.chen@example.com'], 'owner + manager (sys_user.manager)');
    assert.deepEqual(to(mgr), ['carol.chen@example.com'], 'manager only');
    assert.deepEqual(to(off), [], 'switches off: no mail');
    assert.match(m[0].subject, /due in 3 day/);

    // Day 11: past due → overdue recorded (and a work note); day 14: the next weekly reminder.
    env.clock.advance(4 * DAY);
    await env.drain();
    assert.equal((await ticket('r-both')).overdue, true);
    env.clock.advance(3 * DAY);
    await env.drain();
    m = mails();
    assert.equal(to(both).length, 2);
    assert.match(m.filter((x) => x.subject.includes(both)).at(-1).subject, /overdue since/);

    // Once healthy, reminders stop.
    await env.http('POST', `${env.sandbox.azure.baseUrl}/_sandbox/azure/assessments/flip`, {
      resourceId: DEMO.vm,
      assessmentName: DEMO.systemUpdates,
      status: 'Healthy',
    });
    for (const n of ['r-both', 'r-mgr', 'r-off']) await env.reconcile(n);
    await env.drain();
    env.clock.advance(7 * DAY);
    await env.drain();
    assert.equal(mails().length, m.length);
  } finally {
    await env.close();
    sink.stdin!.end();
  }
});
