import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { DAY_MS } from '../../src/engine/clock.ts';
import { until } from '../helpers/wait.ts';
import { startEscalationEnv } from './escalation-helpers.ts';

// Issue #14 item 5b: a guided case that goes quiet for `remindAfter` reminds people — a work note on the
// incident and an e-mail to the linked administrator contact and the configured recipients, through a
// real SMTP server process on loopback — once per quiet period.

interface Mail {
  to: string[];
  subject: string;
  data: string;
}

test('a quiet guided case: one reminder e-mail per quiet period to the contact and the configured recipients', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-m365-mail-'));
  const sinkFile = join(dir, 'mail.jsonl');
  const sink = spawn(process.execPath, [join(import.meta.dirname, '..', 'defender', 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const mails = (): Mail[] =>
    existsSync(sinkFile)
      ? readFileSync(sinkFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Mail)
      : [];
  try {
    const { port } = JSON.parse(
      await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
    ) as { port: number };
    const env = await startEscalationEnv(async () => {}, {
      m365: {
        notifications: {
          smtp: { host: '127.0.0.1', port, starttls: 'off', from: 'Ticketloop <ticketloop@contoso.example>' },
        },
      },
      escalation: { reminderRecipients: ['servicedesk@contoso.com', 'ADA@contoso.com'] },
    });
    try {
      const inc = await env.incident('Teams meetings drop after 10 minutes');
      const made = await env.call(env.admin, 'POST', '/api/m365/escalations', {
        incident: { number: inc.number },
        service: 'Microsoft Teams',
        severity: 'moderate',
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal(made.body.kind, 'guided');
      await env.sync();
      assert.equal(mails().length, 0, 'not quiet yet: no e-mail');

      // Two days without an update: one e-mail, even after a second sync in the same quiet period.
      env.clock.advance(2 * DAY_MS + 60_000);
      await env.sync();
      await env.sync();
      await until(() => mails().length >= 1, 'the reminder e-mail arrived');
      let all = mails();
      assert.equal(all.length, 1, JSON.stringify(all.map((m) => m.subject)));
      assert.deepEqual(all[0].to.sort(), ['ada@contoso.com', 'servicedesk@contoso.com'], 'the contact once, the rest');
      assert.match(all[0].subject, new RegExp(`^\\[Ticketloop\\] Reminder: .*${inc.number}.*no case number yet`));
      const body = all[0].data.replace(/=\r?\n/g, '');
      assert.match(body, /https:\/\/admin\.microsoft\.com\/#\/support/);
      assert.match(body, /record its number in Ticketloop/);
      const notes = await env.workNotes(inc.sys_id);
      assert.equal(notes.filter((n) => n.startsWith('Reminder')).length, 1, 'and one reminder note');

      // The next quiet period: one more.
      env.clock.advance(2 * DAY_MS);
      await env.sync();
      await until(() => mails().length >= 2, 'the second reminder e-mail arrived');
      await env.sync();
      all = mails();
      assert.equal(all.length, 2);

      // An update (the case number) restarts the count: nothing until it is quiet again.
      const cased = await env.call(env.admin, 'POST', `/api/m365/escalations/${made.body.id}/case`, {
        caseNumber: '2412040040005678',
      });
      assert.equal(cased.status, 200);
      env.clock.advance(DAY_MS);
      await env.sync();
      assert.equal(mails().length, 2, 'a day after the update: no reminder');
      env.clock.advance(DAY_MS + 60_000);
      await env.sync();
      await until(() => mails().length >= 3, 'the reminder about the recorded case arrived');
      assert.match(mails()[2].subject, /case 2412040040005678 .* has had no update/);
    } finally {
      await env.close();
    }
  } finally {
    sink.stdin!.end();
    rmSync(dir, { recursive: true, force: true });
  }
});
