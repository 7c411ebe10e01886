import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { startChatSandbox } from '../../sandbox/chat/index.ts';
import { ensureSandboxTls } from '../../sandbox/shared/tls.ts';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, podIntegration, startPod } from './harness.ts';

// Notifications per event (issue #13 "Deliver — the broker" 7 and "Tests: notification content per
// event"): e-mail through a real SMTP server process on loopback, Teams and Slack through the sandbox's
// chat receiver; the approver hears of a submission, the requester of the decision and the grant.

test('submitted → approvers by e-mail and chat; approved and granted → the requester', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-notify-'));
  const sinkFile = join(dir, 'mail.jsonl');
  const sink = spawn(process.execPath, [join(import.meta.dirname, '..', 'defender', 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const tls = ensureSandboxTls(join(dir, 'tls'), ['localhost', '127.0.0.1']);
  const chat = await startChatSandbox({ dataDir: dir, tls });
  try {
    const { port } = JSON.parse(
      await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
    ) as { port: number };
    const h = await startPod(
      new FakeProvider(),
      podIntegration({
        policies: [{ name: 'standard', permissions: ['*'], approvers: { users: ['ann@contoso.example'] } }],
        consoleUrl: 'https://ticketloop.contoso.example',
        notifications: {
          smtp: { host: '127.0.0.1', port, starttls: 'off', from: 'Ticketloop <ticketloop@contoso.example>' },
          teams: [{ name: 'secops', url: chat.teamsUrl('secops'), caFile: tls.caPath }],
          slack: [{ name: 'access', url: chat.slackUrl('access'), caFile: tls.caPath }],
        },
      }),
      { dataDir: join(dir, 'tl') },
    );
    try {
      const ann = await h.app.identity.users.create(
        { name: 'ann@contoso.example', password: 'correct horse battery staple', roles: ['approver'] },
        'test',
      );
      const rex = await h.app.identity.users.create(
        { name: 'rex@contoso.example', password: 'correct horse battery staple', roles: ['requester'] },
        'test',
      );
      const token = async (id: string) =>
        (
          await h.app.identity.tokens.create(
            { kind: 'personal', name: 'n', owner: await h.app.identity.users.find(id) },
            'test',
          )
        ).token;
      const call = async (t: string, path: string, body: unknown) =>
        (
          await fetch(`${h.url}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).json() as Promise<any>;
      const r = await call(await token(rex.id), '/api/pod/requests', {
        system: 'azure-prod',
        permission: 'prod-contributor',
        identity: { type: 'user', id: ALICE_OID },
        justification: 'deploy <hotfix> & restart',
      });
      const mails = () =>
        existsSync(sinkFile)
          ? readFileSync(sinkFile, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l))
          : [];
      const submitted = await until(
        () =>
          mails().find(
            (m) => m.to?.includes('ann@contoso.example') || JSON.stringify(m).includes('ann@contoso.example'),
          ),
        'mail to the approver',
      );
      assert.match(submitted.subject, /Access request waiting for approval: prod-contributor/);
      // The body is quoted-printable: undo soft line breaks and =3D before looking for the link.
      const body = String(submitted.data)
        .replace(/=\r?\n/g, '')
        .replace(/=3D/g, '=');
      assert.ok(body.includes(`https://ticketloop.contoso.example/pod/requests/${r.id}`), body);
      assert.ok(body.includes('deploy &lt;hotfix&gt; &amp; restart'), 'the justification is escaped in the HTML part');
      const teams = await until(
        () => chat.messages({ hook: 'secops' }).length >= 1 && chat.messages({ hook: 'secops' }),
        'teams card',
      );
      const card = JSON.stringify(teams[0].body);
      assert.match(card, /AdaptiveCard/);
      assert.match(card, /rex@contoso.example/);
      assert.ok(chat.messages({ hook: 'access' }).length >= 1, 'slack got it too');

      await call(await token(ann.id), `/api/pod/requests/${r.id}/approve`, { comment: 'ok' });
      const granted = await until(() => mails().find((m) => /Access granted/.test(m.subject)), 'granted mail');
      assert.ok(JSON.stringify(granted).includes('rex@contoso.example'));
      const decided = await until(() => mails().find((m) => /Access request decided/.test(m.subject)), 'decided mail');
      assert.ok(JSON.stringify(decided).includes('rex@contoso.example'), 'the requester hears of the decision');
    } finally {
      await h.stop();
    }
  } finally {
    sink.kill();
    await chat.close();
  }
});
