import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { HostAllowList } from '../../src/app/allowlist.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { PermanentError, RetryableError } from '../../src/engine/errors.ts';
import { Notifier, notificationsSchema } from '../../src/notify/channels.ts';
import { until } from '../helpers/wait.ts';

// SMTP (RFC 5321: 4yz transient, 5yz permanent), MIME multipart/alternative (RFC 2046 §5.1.4) with
// quoted-printable or base64 parts (RFC 2045 §6.7, §6.8), as nodemailer writes them.

interface Mail {
  from: string;
  to: string[];
  subject: string;
  auth: { username: string; password: string } | null;
  data: string;
}

/** The decoded text of each MIME part of a raw message, by content type. */
function parts(raw: string): Record<string, string> {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  assert.ok(boundary, 'a multipart message');
  const out: Record<string, string> = {};
  for (const chunk of raw.split(`--${boundary}`).slice(1, -1)) {
    const [head, ...rest] = chunk.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
    const body = rest.join('\n\n').replace(/\r?\n$/, '');
    const type = /content-type:\s*([^;\s]+)/i.exec(head)?.[1].toLowerCase() ?? 'text/plain';
    const enc = /content-transfer-encoding:\s*(\S+)/i.exec(head)?.[1].toLowerCase();
    out[type] =
      enc === 'base64'
        ? Buffer.from(body, 'base64').toString('utf8')
        : enc === 'quoted-printable'
          ? Buffer.from(
              body
                .replace(/=\r?\n/g, '')
                .replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
              'latin1',
            ).toString('utf8')
          : body;
  }
  return out;
}

const message = {
  event: 'pod.submitted',
  title: 'Access to "prod-db" requested <now>',
  summary: 'alice@example.com asks for Contributor on prod-db.\nFor 4 hours.',
  facts: [
    { name: 'Requester', value: 'alice@example.com' },
    { name: 'Justification', value: '<script>alert(1)</script> & INC0010001 — ünïcode' },
  ],
  links: [
    { title: 'Approve', url: 'https://tl.example.com/a/tok.en?x=1&y=2' },
    { title: 'Deny "it"', url: 'https://tl.example.com/d/tok' },
  ],
  recipients: { emails: ['bob@example.com', 'carol@example.com'] },
};

test('e-mail through a real SMTP server: subject, text, escaped HTML, links, auth; password in no record', async () => {
  const sinkFile = join(process.env.TMPDIR ?? '/tmp', `tl-notify-smtp-${process.pid}-${Date.now()}.jsonl`);
  const sink = spawn(process.execPath, [join(import.meta.dirname, '..', 'defender', 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const calls: OutboundCall[] = [];
  let notifier: Notifier | undefined;
  try {
    const { port } = JSON.parse(
      await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
    ) as { port: number };
    const config = notificationsSchema.parse({
      smtp: {
        host: '127.0.0.1',
        port,
        starttls: 'off',
        from: 'Ticketloop <ticketloop@example.com>',
        username: 'mailer',
        password: { env: 'TL_SMTP_PASSWORD' },
      },
    });
    notifier = new Notifier(config, {
      recorder: { record: (c) => calls.push(c) },
      env: { TL_SMTP_PASSWORD: 's3cret-Pa55' },
      allowHosts: new HostAllowList({ outbound: { allowHosts: [`127.0.0.1:${port}`] }, itsm: [], integrations: [] }),
    });
    const d = await notifier.send(message, { type: 'email' });
    assert.equal(d.channel, 'email');
    assert.equal(d.recipients, 2);
    assert.match(d.messageId ?? '', /^<.+@.+>$/);
    const one = await notifier.send(message, { type: 'email', to: 'dave@example.com' });
    assert.equal(one.recipients, 1, '`to` overrides the message recipients');
    assert.deepEqual(await notifier.send({ ...message, recipients: { emails: [] } }, { type: 'email' }), {
      channel: 'email',
      recipients: 0,
    });

    const mails = await until(() => {
      const lines = existsSync(sinkFile) ? readFileSync(sinkFile, 'utf8').trim().split('\n').filter(Boolean) : [];
      return lines.length >= 2 && (lines.map((l) => JSON.parse(l)) as Mail[]);
    }, 'two mails at the sink');
    const [m] = mails;
    assert.equal(m.from, 'ticketloop@example.com');
    assert.deepEqual(m.to.sort(), ['bob@example.com', 'carol@example.com']);
    assert.deepEqual(mails[1].to, ['dave@example.com']);
    assert.equal(m.subject, '[Ticketloop] Access to "prod-db" requested <now>');
    assert.deepEqual(m.auth, { username: 'mailer', password: 's3cret-Pa55' }, 'the secret reference reached AUTH');
    assert.match(m.data, /^X-Ticketloop-Event: pod\.submitted\r?$/m);
    assert.match(m.data, /^Content-Type: multipart\/alternative/m);

    const p = parts(m.data);
    assert.ok(p['text/plain'] && p['text/html'], 'a text and an HTML part');
    assert.match(p['text/plain'], /^Access to "prod-db" requested <now>\r?\n/);
    assert.match(p['text/plain'], /Justification: <script>alert\(1\)<\/script> & INC0010001 — ünïcode/);
    assert.match(p['text/plain'], /Approve: https:\/\/tl\.example\.com\/a\/tok\.en\?x=1&y=2/);
    const html = p['text/html'];
    assert.ok(!html.includes('<script>'), 'no markup from the message');
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; INC0010001 — ünïcode/);
    assert.match(html, /Access to &quot;prod-db&quot; requested &lt;now&gt;/);
    assert.match(html, /For 4 hours/);
    assert.match(html, /<a href="https:\/\/tl\.example\.com\/a\/tok\.en\?x=1&amp;y=2"[^>]*>Approve<\/a>/);
    assert.match(html, /<a href="https:\/\/tl\.example\.com\/d\/tok"[^>]*>Deny &quot;it&quot;<\/a>/);

    assert.deepEqual(
      calls.map((c) => [c.upstream, c.method, c.url, c.status]),
      [
        ['smtp', 'SEND', `smtp://127.0.0.1:${port}`, 250],
        ['smtp', 'SEND', `smtp://127.0.0.1:${port}`, 250],
      ],
    );
    assert.ok(!JSON.stringify(calls).includes('s3cret'));
  } finally {
    await notifier?.close();
    sink.stdin!.end();
    rmSync(sinkFile, { force: true });
  }
});

test('SMTP replies: 5yz permanent, 4yz and a refused connection retryable; a host off the allow-list never tried', async () => {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('gone@'))
        return cb(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
      if (address.address.startsWith('busy@'))
        return cb(Object.assign(new Error('4.2.1 Try again later'), { responseCode: 451 }));
      cb();
    },
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as { port: number }).port;
  const smtp = { host: '127.0.0.1', port, starttls: 'off', from: 'ticketloop@example.com' };
  const notifier = new Notifier(notificationsSchema.parse({ smtp }));
  try {
    const gone = await notifier.send(message, { type: 'email', to: 'gone@example.com' }).catch((e: unknown) => e);
    assert.ok(gone instanceof PermanentError, String(gone));
    assert.match(gone.message, /550|No such user/);
    const busy = await notifier.send(message, { type: 'email', to: 'busy@example.com' }).catch((e: unknown) => e);
    assert.ok(busy instanceof RetryableError, String(busy));
    assert.ok((await notifier.send(message, { type: 'email', to: 'ok@example.com' })).messageId);

    const closed = new Notifier(notificationsSchema.parse({ smtp: { ...smtp, port: 1 } }));
    assert.ok((await closed.send(message, { type: 'email' }).catch((e: unknown) => e)) instanceof RetryableError);
    closed.close();

    const guarded = new Notifier(notificationsSchema.parse({ smtp }), {
      allowHosts: new HostAllowList({ outbound: { allowHosts: ['smtp.example.com'] }, itsm: [], integrations: [] }),
    });
    await assert.rejects(guarded.send(message, { type: 'email' }), /127\.0\.0\.1:\d+ is not an allowed host/);
    await guarded.close();
  } finally {
    await notifier.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
