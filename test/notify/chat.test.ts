import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { Agent } from 'undici';
import { startChatSandbox, type ChatSandbox } from '../../sandbox/chat/index.ts';
import { ensureSandboxTls, type SandboxTls } from '../../sandbox/shared/tls.ts';
import { HostAllowList } from '../../src/app/allowlist.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { HttpError, PermanentError } from '../../src/engine/errors.ts';
import { nextAttemptAt } from '../../src/engine/retry.ts';
import { Notifier, notificationsSchema } from '../../src/notify/channels.ts';
import { send } from '../helpers/http.ts';

// Teams: the "When a Teams webhook request is received" trigger takes {type:"message", attachments:[Adaptive
// Card]} and answers 202 (learn.microsoft.com/.../webhooks-and-connectors/how-to/connectors-using).
// Slack: incoming webhooks take {text, blocks}, answer 200 "ok", errors as plain-text codes
// (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks); 429 carries Retry-After.

const SECRET = 'T0SECRET/B0SECRET/xoxWebhookSecret42';

const message = {
  event: 'pod.decided',
  title: 'Access to prod-db approved',
  summary: 'Bob approved alice@example.com for 4 hours.',
  facts: [
    { name: 'Requester', value: 'alice@example.com' },
    { name: 'Note', value: 'ok <b>go</b> & [x](https://evil.example)' },
  ],
  links: [{ title: 'Open request', url: 'https://tl.example.com/pod/42' }],
  recipients: { emails: [] },
};

interface Env {
  dir: string;
  tls: SandboxTls;
  chat: ChatSandbox;
  notifier: Notifier;
  calls: OutboundCall[];
  logs: string[];
  close(): Promise<void>;
}

async function start(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-chat-'));
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const chat = await startChatSandbox({ dataDir: dir, tls });
  const calls: OutboundCall[] = [];
  const logs: string[] = [];
  const log = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    }),
  );
  const config = notificationsSchema.parse({
    teams: [{ name: 'approvers', url: { env: 'TL_TEAMS_HOOK' }, caFile: tls.caPath }],
    slack: [{ name: 'ops', url: { env: 'TL_SLACK_HOOK' }, caFile: tls.caPath }],
  });
  const env = {
    TL_TEAMS_HOOK: `${chat.teamsUrl('approvers-7f3a')}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SECRET}`,
    TL_SLACK_HOOK: chat.slackUrl(SECRET.replace(/\//g, '-')),
  };
  const notifier = new Notifier(config, { recorder: { record: (c) => calls.push(c) }, log, env });
  return {
    dir,
    tls,
    chat,
    notifier,
    calls,
    logs,
    async close() {
      await notifier.close();
      await chat.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('Teams and Slack bodies arrive at the receiver as the webhooks take them, field by field', async () => {
  const e = await start();
  try {
    const t = await e.notifier.send(message, { type: 'teams', name: 'approvers' });
    assert.deepEqual(t, { channel: 'teams:approvers', status: 202 });
    const s = await e.notifier.send(message, { type: 'slack', name: 'ops' });
    assert.deepEqual(s, { channel: 'slack:ops', status: 200 });

    const [teams] = e.chat.messages({ channel: 'teams' });
    assert.equal(teams.hook, 'approvers-7f3a');
    assert.match(teams.contentType, /^application\/json/);
    const body = teams.body as any;
    assert.equal(body.type, 'message');
    assert.equal(body.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(body.attachments[0].contentUrl, null);
    const card = body.attachments[0].content;
    assert.equal(card.type, 'AdaptiveCard');
    assert.equal(card.version, '1.4');
    assert.equal(card.body[0].text, 'Access to prod-db approved');
    assert.equal(card.body[1].text, 'Bob approved alice@example.com for 4 hours.');
    assert.deepEqual(card.body[2].facts, [
      { title: 'Requester', value: 'alice@example.com' },
      { title: 'Note', value: 'ok <b>go</b> & \\[x\\](https://evil.example)' },
    ]);
    assert.deepEqual(card.actions, [
      { type: 'Action.OpenUrl', title: 'Open request', url: 'https://tl.example.com/pod/42' },
    ]);

    const [slack] = e.chat.messages({ channel: 'slack' });
    const sb = slack.body as any;
    assert.equal(sb.text, 'Access to prod-db approved: Bob approved alice@example.com for 4 hours.');
    assert.deepEqual(
      sb.blocks.map((b: { type: string }) => b.type),
      ['header', 'section', 'section', 'actions'],
    );
    assert.equal(sb.blocks[0].text.text, 'Access to prod-db approved');
    assert.equal(sb.blocks[2].fields[1].text, '*Note*\nok &lt;b&gt;go&lt;/b&gt; &amp; [x](https://evil.example)');
    assert.equal(sb.blocks[3].elements[0].url, 'https://tl.example.com/pod/42');

    // The listing endpoint, by hook; DELETE clears.
    const d = new Agent({ connect: { ca: e.tls.ca } });
    const listed = await send(d, 'GET', `${e.chat.baseUrl}/_sandbox/chat/messages?hook=approvers-7f3a`);
    assert.equal(listed.body.messages.length, 1);
    assert.equal(listed.body.messages[0].channel, 'teams');
    assert.deepEqual((await send(d, 'DELETE', `${e.chat.baseUrl}/_sandbox/chat/messages`)).body, { deleted: 2 });
    assert.equal(e.chat.messages().length, 0);
    await d.close();
  } finally {
    await e.close();
  }
});

test('the webhook URL (path and sig) is in no log line, recorder entry or error message', async () => {
  const e = await start();
  try {
    await e.notifier.send(message, { type: 'teams', name: 'approvers' });
    await e.notifier.send(message, { type: 'slack', name: 'ops' });
    e.chat.faults.update({ errorRate: 1, errorStatus: 500 });
    const err = await e.notifier.send(message, { type: 'slack', name: 'ops' }).catch((x: unknown) => x);
    assert.ok(err instanceof HttpError);
    const seen = [...e.logs, JSON.stringify(e.calls), err.message, err.url, JSON.stringify(err)].join('\n');
    for (const part of ['T0SECRET', 'B0SECRET', 'xoxWebhookSecret42', 'approvers-7f3a'])
      assert.ok(!seen.includes(part), `${part} leaked`);
    assert.ok(
      e.logs.some((l) => l.includes('"channel":"teams:approvers"')),
      'deliveries are logged by name',
    );
    assert.deepEqual(
      e.calls.map((c) => [c.upstream, c.method, c.status]),
      [
        ['teams', 'POST', 202],
        ['slack', 'POST', 200],
        ['slack', 'POST', 500],
      ],
    );
    assert.equal(e.calls[0].url, `${new URL(e.chat.baseUrl).origin}/REDACTED`);
  } finally {
    await e.close();
  }
});

test('429 → retryable HttpError with Retry-After; 5xx retryable; 400 permanent (engine/retry.ts decides)', async () => {
  const e = await start();
  try {
    const policy = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };
    e.chat.faults.update({ burst429: 2, retryAfterSeconds: 7 });
    for (const name of ['approvers', 'ops'] as const) {
      const type = name === 'approvers' ? 'teams' : 'slack';
      const err = await e.notifier.send(message, { type, name }).catch((x: unknown) => x);
      assert.ok(err instanceof HttpError, type);
      assert.equal(err.status, 429);
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfterMs, 7000);
      assert.equal(nextAttemptAt(err, 1, 0, policy), 7000, 'the next attempt waits what the service said');
    }
    e.chat.faults.update({ errorRate: 1, errorStatus: 503 });
    const unavailable = await e.notifier.send(message, { type: 'teams', name: 'approvers' }).catch((x: unknown) => x);
    assert.ok(unavailable instanceof HttpError && unavailable.retryable);
    assert.deepEqual((unavailable.body as any).error.code, 'ServiceUnavailable');
    e.chat.faults.update({ errorRate: 1, errorStatus: 400 });
    const bad = await e.notifier.send(message, { type: 'slack', name: 'ops' }).catch((x: unknown) => x);
    assert.ok(bad instanceof HttpError && bad.status === 400 && !bad.retryable);
    assert.equal(nextAttemptAt(bad, 1, 0, policy), null, 'dead-lettered at once');
    assert.equal(bad.body, 'invalid_payload');
    e.chat.faults.reset();
    assert.equal(e.chat.messages().length, 0, 'nothing arrived while faults were on');
  } finally {
    await e.close();
  }
});

test('unknown channel, unset secret, plain http and a disallowed host are permanent; nothing sent', async () => {
  const e = await start();
  try {
    await assert.rejects(e.notifier.send(message, { type: 'teams', name: 'nobody' }), PermanentError);
    await assert.rejects(e.notifier.send(message, { type: 'email', to: 'a@example.com' }), /smtp is not configured/);
    const config = notificationsSchema.parse({
      teams: [{ name: 'unset', url: { env: 'TL_UNSET' } }],
      slack: [{ name: 'plain', url: 'http://hooks.example.com/services/x' }],
    });
    const n = new Notifier(config, { env: {} });
    await assert.rejects(n.send(message, { type: 'teams', name: 'unset' }), /TL_UNSET is not set/);
    await assert.rejects(n.send(message, { type: 'slack', name: 'plain' }), /must be https/);
    const chatHost = new URL(e.chat.baseUrl);
    const allow = new HostAllowList({ outbound: { allowHosts: ['hooks.slack.com'] }, itsm: [], integrations: [] });
    const guarded = new Notifier(
      notificationsSchema.parse({ slack: [{ name: 'ops', url: e.chat.slackUrl('x'), caFile: e.tls.caPath }] }),
      { allowHosts: allow },
    );
    const refused = await guarded.send(message, { type: 'slack', name: 'ops' }).catch((x: unknown) => x);
    assert.ok(refused instanceof PermanentError);
    assert.match(refused.message, new RegExp(`${chatHost.hostname}:${chatHost.port} is not an allowed host`));
    assert.ok(!refused.message.includes('/_sandbox/chat/slack/x'), 'the host, never the URL');
    assert.equal(e.chat.messages().length, 0);
    await Promise.all([n.close(), guarded.close()]);
    // The default allow-list (no outbound.allowHosts) includes webhooks given inline in an integration.
    const derived = new HostAllowList({
      outbound: {},
      itsm: [],
      integrations: [
        {
          name: 'p',
          type: 'pod',
          enabled: true,
          notifications: { slack: [{ name: 'ops', url: { value: 'https://hooks.slack.com/services/a/b/c' } }] },
        } as never,
      ],
    });
    assert.ok(derived.allows('hooks.slack.com', 443));
    // Names are unique per kind.
    assert.equal(
      notificationsSchema.safeParse({
        teams: [
          { name: 'a', url: 'https://x' },
          { name: 'a', url: 'https://y' },
        ],
      }).success,
      false,
    );
  } finally {
    await e.close();
  }
});

test('the receiver checks bodies as the services do, keeps what arrived across a restart', async () => {
  const e = await start();
  const d = new Agent({ connect: { ca: e.tls.ca } });
  const post = (url: string, body: string, type = 'application/json') =>
    send(d, 'POST', url, { 'content-type': type }, body);
  try {
    const teams = e.chat.teamsUrl('room');
    const slack = e.chat.slackUrl('room');
    const mismatch = await post(teams, JSON.stringify({ text: 'hello' }));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error.code, 'TriggerInputSchemaMismatch');
    const noCard = await post(teams, JSON.stringify({ type: 'message', attachments: [{ contentType: 'text/plain' }] }));
    assert.equal(noCard.status, 400);
    assert.equal((await post(teams, '{not json')).body.error.code, 'InvalidRequestContent');

    const invalid = await post(slack, '"just a string"');
    assert.deepEqual([invalid.status, invalid.body], [400, 'invalid_payload']);
    assert.match(String(invalid.headers['content-type']), /^text\/html/);
    assert.deepEqual([(await post(slack, '{}')).status, (await post(slack, '{}')).body], [400, 'no_text']);
    assert.equal((await post(slack, JSON.stringify({ blocks: [{ text: 'x' }] }))).body, 'invalid_blocks');
    assert.equal((await post(slack, '{bad')).body, 'invalid_payload');
    const form = await post(
      slack,
      `payload=${encodeURIComponent('{"text":"legacy form"}')}`,
      'application/x-www-form-urlencoded',
    );
    assert.deepEqual([form.status, form.body], [200, 'ok']);
    const deep = await post(`${e.chat.baseUrl}/_sandbox/chat/slack/a/b/c`, '{"text":"x"}');
    assert.deepEqual([deep.status, deep.body], [404, 'no_service']);
    assert.equal(e.chat.messages().length, 1, 'only the accepted message is kept');

    const dir = e.dir;
    await e.chat.close();
    const again = await startChatSandbox({ dataDir: dir, tls: e.tls });
    try {
      assert.deepEqual(
        again.messages().map((m) => [m.channel, m.hook, (m.body as { text: string }).text]),
        [['slack', 'room', 'legacy form']],
      );
    } finally {
      await again.close();
    }
  } finally {
    await d.close();
    await e.notifier.close();
    rmSync(e.dir, { recursive: true, force: true });
  }
});
