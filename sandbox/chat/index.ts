import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OffsetClock, registerClock } from '../shared/clock.ts';
import { Faults, registerFaults } from '../shared/faults.ts';
import { DocStore } from '../shared/persist.ts';
import { createSandboxServer, listen } from '../shared/server.ts';
import type { SandboxTls } from '../shared/tls.ts';
import {
  channelOfPath,
  checkSlackBody,
  checkTeamsBody,
  faultBodyFor,
  slackBodyOf,
  type ChatChannel,
  type ChatProblem,
} from './receiver.ts';

/**
 * The chat receiver: stands in for a Teams "Workflows" incoming webhook and a Slack incoming
 * webhook, checks each body as they do, answers as they do (Teams 202, Slack 200 `ok`) and keeps
 * what arrived in `${dataDir}/chat.db` for tests and demos to read. Any hook name is accepted.
 * Faults (`/_sandbox/faults`) apply to the two webhook paths. See README.md.
 */

export interface ChatSandboxOptions {
  dataDir: string;
  tls: SandboxTls;
  port?: number;
  clock?: OffsetClock;
  /** Messages kept; the oldest go first (default 10,000). */
  keep?: number;
}

export interface ChatMessage {
  id: string;
  channel: ChatChannel;
  hook: string;
  receivedAt: string;
  contentType: string;
  body: unknown;
}

export interface ChatSandbox {
  baseUrl: string;
  faults: Faults;
  clock: OffsetClock;
  /** The URL a Teams workflow webhook named `hook` would have. */
  teamsUrl(hook: string): string;
  slackUrl(hook: string): string;
  messages(filter?: { hook?: string; channel?: ChatChannel }): ChatMessage[];
  close(): Promise<void>;
}

const HOOK = /^[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}$/;
const COLL = 'messages';

export async function startChatSandbox(o: ChatSandboxOptions): Promise<ChatSandbox> {
  const clock = o.clock ?? new OffsetClock();
  const store = new DocStore(join(o.dataDir, 'chat.db'));
  const keep = o.keep ?? 10_000;
  const app = createSandboxServer(o.tls, { bodyLimit: 1024 * 1024 });
  const faults = new Faults();

  const list = (f: { hook?: string; channel?: ChatChannel } = {}) =>
    store
      .list<ChatMessage>(COLL)
      .filter((m) => (!f.hook || m.hook === f.hook) && (!f.channel || m.channel === f.channel));

  // Slack answers in text/html, whatever it says (injected faults included).
  app.addHook('onSend', async (req, reply, payload) => {
    if (channelOfPath(req.url) === 'slack' && typeof payload === 'string')
      reply.header('content-type', 'text/html; charset=utf-8');
    return payload;
  });

  registerFaults(
    app,
    faults,
    {
      error: (status, path) => faultBodyFor(channelOfPath(path), status),
      tooManyRequests: (_s, path) => faultBodyFor(channelOfPath(path), 429),
    },
    { applies: (path) => channelOfPath(path) !== undefined },
  );
  registerClock(app, clock);

  const problem = (reply: FastifyReply, p: ChatProblem) => reply.code(p.status).send(p.body);

  // A body that is not JSON at all: Logic Apps' envelope, Slack's `invalid_payload`.
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (channelOfPath(req.url) === 'slack') return reply.code(status < 500 ? 400 : 500).send('invalid_payload');
    const code = status < 500 ? 'InvalidRequestContent' : 'InternalServerError';
    return reply.code(status).send({ error: { code, message: err.message } });
  });

  const receive = (channel: ChatChannel, hook: string, req: FastifyRequest, body: unknown) => {
    const at = clock.now();
    const id = String(store.nextCounter('message')).padStart(10, '0');
    store.transaction(() => {
      store.put<ChatMessage>(COLL, id, {
        id,
        channel,
        hook,
        receivedAt: new Date(at).toISOString(),
        contentType: String(req.headers['content-type'] ?? ''),
        body,
      });
      const extra = store.count(COLL) - keep;
      if (extra > 0) for (const old of store.list<ChatMessage>(COLL).slice(0, extra)) store.delete(COLL, old.id);
    });
  };

  app.post('/_sandbox/chat/teams/:hook', async (req, reply) => {
    const { hook } = req.params as { hook: string };
    if (!HOOK.test(hook))
      return reply
        .code(404)
        .send({ error: { code: 'WorkflowNotFound', message: `The workflow '${hook}' could not be found.` } });
    const bad = checkTeamsBody(req.body);
    if (bad) return problem(reply, bad);
    receive('teams', hook, req, req.body);
    const run = randomUUID().replace(/-/g, '').toUpperCase();
    return reply
      .code(202)
      .headers({ 'x-ms-workflow-run-id': run, 'x-ms-request-id': randomUUID(), 'x-ms-correlation-id': randomUUID() })
      .send();
  });

  app.post('/_sandbox/chat/slack/:hook', async (req, reply) => {
    const { hook } = req.params as { hook: string };
    if (!HOOK.test(hook)) return reply.code(404).send('no_service');
    const body = slackBodyOf(req.body);
    const bad = checkSlackBody(body);
    if (bad) return problem(reply, bad);
    receive('slack', hook, req, body);
    return reply.code(200).send('ok');
  });

  app.get('/_sandbox/chat/messages', async (req) => {
    const q = req.query as { hook?: string; channel?: string };
    const channel = q.channel === 'teams' || q.channel === 'slack' ? q.channel : undefined;
    return { messages: list({ hook: q.hook || undefined, channel }) };
  });

  app.delete('/_sandbox/chat/messages', async (req) => {
    const q = req.query as { hook?: string };
    let deleted = 0;
    store.transaction(() => {
      for (const m of list({ hook: q.hook || undefined })) deleted += store.delete(COLL, m.id) ? 1 : 0;
    });
    return { deleted };
  });

  // Unknown paths: Slack's plain 404 under its prefix, Logic Apps' envelope elsewhere.
  app.setNotFoundHandler((req, reply) =>
    channelOfPath(req.url) === 'slack'
      ? reply.code(404).send('no_service')
      : reply
          .code(404)
          .send({ error: { code: 'NotFound', message: `No route for ${req.method} ${req.url.split('?')[0]}.` } }),
  );

  const baseUrl = await listen(app, o.port ?? 0);
  return {
    baseUrl,
    faults,
    clock,
    teamsUrl: (hook) => `${baseUrl}/_sandbox/chat/teams/${encodeURIComponent(hook)}`,
    slackUrl: (hook) => `${baseUrl}/_sandbox/chat/slack/${encodeURIComponent(hook)}`,
    messages: (f) => list(f),
    async close() {
      await app.close();
      store.close();
    },
  };
}
