import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { defenderShape, ticketloopReminds, type DefenderIntegration } from '../../src/flows/defender/config.ts';
import { defenderEmails, governanceProperties } from '../../src/flows/defender/effects.ts';
import type { ItemState, TicketInfo } from '../../src/flows/defender/flow.ts';

const shape = z.object(defenderShape);
const smtp = { host: 'smtp.example.com', from: 'tl@example.com' };
const integration = (notifications: Record<string, unknown>) =>
  shape.parse({
    name: 'r',
    itsm: 'sandbox',
    scope: '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f',
    notifications,
  }) as unknown as DefenderIntegration;

test('one set of reminder e-mails: the governance flags follow who sends them', () => {
  const ours = integration({ owner: true, manager: true, smtp });
  assert.equal(ours.notifications.sender, 'ticketloop', 'Ticketloop by default');
  assert.equal(ticketloopReminds(ours), true);
  assert.deepEqual(defenderEmails(ours), {
    disableOwnerEmailNotification: true,
    disableManagerEmailNotification: true,
  });

  const theirs = integration({ sender: 'defender', owner: true, manager: false });
  assert.equal(ticketloopReminds(theirs), false, 'Ticketloop sends none');
  assert.deepEqual(defenderEmails(theirs), {
    disableOwnerEmailNotification: false,
    disableManagerEmailNotification: true,
  });

  const none = integration({});
  assert.deepEqual(defenderEmails(none), {
    disableOwnerEmailNotification: true,
    disableManagerEmailNotification: true,
  });

  // The flags are what the governance assignment carries.
  const s = { owner: 'a@example.com', dueAt: 0, grace: true } as ItemState;
  const t = { key: 'INC0010001', link: 'https://x/nav_to.do', status: 'open' } as TicketInfo;
  assert.deepEqual(governanceProperties(theirs, s, t).governanceEmailNotification, defenderEmails(theirs));
});

test('reminders sent by Ticketloop need smtp; sent by Defender they do not', () => {
  const bad = shape.safeParse({ name: 'r', itsm: 's', scope: '/subscriptions/x', notifications: { owner: true } });
  assert.equal(bad.success, false);
  assert.ok(
    bad.error!.issues.some((i) => i.path.join('.') === 'notifications.smtp' && /sender: 'defender'/.test(i.message)),
  );
  const ok = shape.safeParse({
    name: 'r',
    itsm: 's',
    scope: '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f',
    notifications: { sender: 'defender', owner: true },
  });
  assert.equal(ok.success, true, JSON.stringify(ok.error?.issues));
});
