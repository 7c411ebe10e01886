import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import type { Flow } from '../../src/engine/flow.ts';
import { loadFlowState } from '../../src/engine/flow.ts';
import { listJobs } from '../../src/engine/jobs.ts';
import { correlationKey, type TicketChangedEvent, type TicketDeletedEvent } from '../../src/itsm/watch.ts';
import { webhookPath } from '../../src/itsm/servicenow/webhook.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.ts';
import { authFor } from '../helpers/identity.ts';
import { startEnv, type Env } from '../servicenow/helpers.ts';
import { until } from '../helpers/wait.ts';

// A toy flow that only records what happened to its ticket.
type Seen = { status?: string; sources: string[]; statuses: string[]; deleted?: boolean };
const toyFlow: Flow<Seen, TicketChangedEvent | TicketDeletedEvent> = {
  name: 'toy',
  decide(state, event) {
    const s = state ?? { sources: [], statuses: [] };
    if (event.type === 'ticket_deleted') return { state: { ...s, deleted: true }, audit: { action: 'ticket deleted' } };
    return {
      state: {
        status: event.ticket.status,
        sources: [...s.sources, event.source],
        statuses: [...s.statuses, event.ticket.status],
      },
      audit: { action: `ticket ${event.ticket.status}` },
    };
  },
};

describe('ticket watch: push and poll feed one change per ticket version to the owning flow', () => {
  let env: Env;
  let tdb: TestDatabase;
  let app: Ticketloop;
  let url: string;
  const secret = 'webhook-secret-for-tests';

  before(async () => {
    env = await startEnv();
    tdb = await createTestDatabase('sqlite');
    const config = validateConfig(
      {
        dataDir: tdb.dataDir,
        server: { port: 0 },
        engine: { pollIntervalMs: 20 },
        servicenow: [
          {
            name: 'sn',
            instanceUrl: env.sn.baseUrl,
            caFile: join(env.dir, 'tls', 'ca.pem'),
            auth: {
              type: 'basic',
              username: env.sn.credentials.itil.username,
              password: env.sn.credentials.itil.password,
            },
            closeOut: { incident: { resolve: { close_code: 'Solution provided' } } },
            webhook: { type: 'hmac', secret },
            pollIntervalSeconds: 1,
            reconcileIntervalSeconds: 60,
          },
        ],
      },
      'test',
    );
    app = await buildTicketloop(config, {
      logger: createLogger('silent'),
      itsm: ITSM_MODULES,
      flows: [
        {
          name: 'toy',
          flow: toyFlow,
          effects: () => ({}),
          register: (t) => t.watch.track(t.connections.itsm('sn'), 'incident'),
        },
      ],
    });
    url = await app.start();
  });
  after(async () => {
    await app.stop();
    await env.close();
    await tdb.drop();
  });

  test('a resolve pushed by the business rule reaches the flow; polling sees the same version and adds nothing', async () => {
    await env.admin('PUT', '/_sandbox/servicenow/webhooks', [
      { table: 'incident', url: `${url}${webhookPath('sn')}`, events: ['update'], auth: { type: 'hmac', secret } },
    ]);
    const itsm = app.connections.itsm('sn');
    const { ticket } = await itsm.openTicket({
      kind: 'incident',
      correlation: correlationKey('toy', 'push-1'),
      fields: { short_description: 'push path' },
    });
    await itsm.resolveTicket(ticket.ref, { notes: 'fixed' });
    const state = await until(async () => {
      const s = await loadFlowState<Seen>(app.store.db, 'toy', 'push-1');
      return s?.status === 'resolved' && s;
    }, 'the flow to see the resolve');
    assert.ok(state.sources.includes('webhook') || state.sources.includes('poll'));
    // Give the poller a few rounds: the same ticket version must not be handled twice.
    await new Promise((r) => setTimeout(r, 2_500));
    const final = await loadFlowState<Seen>(app.store.db, 'toy', 'push-1');
    assert.equal(
      final!.statuses.filter((s) => s === 'resolved').length,
      1,
      `one event per ticket version, got ${final!.statuses} from ${final!.sources}`,
    );
    const status = (await (
      await fetch(`${url}/api/sync/status`, { headers: await authFor(app, 'auditor') })
    ).json()) as {
      instances: { instance: string; stale: boolean }[];
    };
    assert.deepEqual(
      status.instances.map((i) => [i.instance, i.stale]),
      [['sn', false]],
    );
  });

  test('with webhooks dropped, polling alone delivers the change', async () => {
    await env.admin('PATCH', '/_sandbox/faults', { dropWebhookRate: 1 });
    try {
      const itsm = app.connections.itsm('sn');
      const { ticket } = await itsm.openTicket({
        kind: 'incident',
        correlation: correlationKey('toy', 'poll-1'),
        fields: { short_description: 'poll path' },
      });
      await itsm.resolveTicket(ticket.ref, { notes: 'fixed without a push' });
      const state = await until(async () => {
        const s = await loadFlowState<Seen>(app.store.db, 'toy', 'poll-1');
        return s?.status === 'resolved' && s;
      }, 'the poller to deliver the resolve');
      assert.equal(state.sources.at(-1), 'poll');
    } finally {
      await env.admin('DELETE', '/_sandbox/faults');
    }
  });

  test('a forged webhook is refused and changes nothing', async () => {
    const before = (await listJobs(app.store.db, { kind: 'itsm.change', limit: 1000 })).length;
    const r = await fetch(`${url}${webhookPath('sn')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sn-signature': 'sha256=' + '0'.repeat(64) },
      body: JSON.stringify({
        table: 'incident',
        operation: 'update',
        sys_id: 'x',
        record: { correlation_id: 'tl:toy:forged' },
      }),
    });
    assert.equal(r.status, 401);
    assert.equal((await listJobs(app.store.db, { kind: 'itsm.change', limit: 1000 })).length, before);
    assert.equal(await loadFlowState(app.store.db, 'toy', 'forged'), undefined);
  });

  test('a tracked ticket stays with the key it was first seen with; keys of unknown flows go nowhere', async () => {
    // Security review, issue 10, finding 2: routing follows what a record says now, which anyone may edit.
    const itsm = app.connections.itsm('sn');
    const { ticket } = await itsm.openTicket({
      kind: 'incident',
      correlation: correlationKey('toy', 'owned-1'),
      fields: { short_description: 'owned' },
    });
    await until(
      async () => (await loadFlowState<Seen>(app.store.db, 'toy', 'owned-1'))?.status,
      'the ticket to be tracked',
    );
    await env.client().update('incident', ticket.ref.id, { correlation_id: correlationKey('toy', 'thief-1') });
    await itsm.resolveTicket(ticket.ref, { notes: 'fixed' });
    await until(async () => {
      const s = await loadFlowState<Seen>(app.store.db, 'toy', 'owned-1');
      return s?.status === 'resolved';
    }, 'the resolve to reach the first owner');
    assert.equal(await loadFlowState(app.store.db, 'toy', 'thief-1'), undefined);
    // A record with the prefix but no registered flow: no job fails (it would dead-letter).
    await env.client().create('incident', { short_description: 'stray', correlation_id: 'tl:nosuchflow:1' });
    await app.engine.enqueue({
      kind: 'itsm.reconcile',
      key: 'test-reconcile-stray',
      payload: { system: 'sn', kind: 'incident' },
    });
    await until(
      async () =>
        (await listJobs(app.store.db, { kind: 'itsm.reconcile', limit: 1000 })).some(
          (j) => j.key === 'test-reconcile-stray' && j.state === 'done',
        ),
      'the reconcile to finish',
    );
    await new Promise((r) => setTimeout(r, 300)); // any change job it produced runs meanwhile
    assert.deepEqual(
      (await listJobs(app.store.db, { state: 'dead', limit: 1000 })).map((j) => j.last_error),
      [],
    );
  });

  test('the reconcile reports a hard-deleted ticket to its flow', async () => {
    const { ticket } = await app.connections.itsm('sn').openTicket({
      kind: 'incident',
      correlation: correlationKey('toy', 'gone-1'),
      fields: { short_description: 'to be deleted' },
    });
    await until(
      async () => (await loadFlowState<Seen>(app.store.db, 'toy', 'gone-1'))?.status === 'open',
      'the ticket to be tracked',
    );
    await env.client().delete('incident', ticket.ref.id);
    await app.engine.enqueue({
      kind: 'itsm.reconcile',
      key: 'test-reconcile-gone-1',
      payload: { system: 'sn', kind: 'incident' },
    });
    const state = await until(async () => {
      const s = await loadFlowState<Seen>(app.store.db, 'toy', 'gone-1');
      return s?.deleted && s;
    }, 'the flow to hear of the deletion');
    assert.equal(state.deleted, true);
  });
});
