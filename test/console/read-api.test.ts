import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { createTestDatabase, DIALECTS, postgresSkip, type TestDatabase } from '../helpers/dialects.ts';
import { authFor, signIn, userFor } from '../helpers/identity.ts';

/**
 * The read API behind the console on both dialects (its JSON-field filters and GROUP BYs are SQL of
 * each): the overview's counts and hourly series, entitlement items by status with paging, one item
 * with its jobs, and the audit search by action and time.
 */

const HOUR = 3_600_000;

for (const dialect of DIALECTS) {
  describe(`console read API on ${dialect}`, { skip: dialect === 'postgres' ? await postgresSkip() : false }, () => {
    let tdb: TestDatabase;
    let app: Ticketloop;
    let url: string;
    let auth: { authorization: string };
    const get = async (path: string) => {
      const r = await fetch(url + path, { headers: auth });
      assert.equal(r.status, 200, `${path}: ${r.status}`);
      return (await r.json()) as any;
    };

    before(async () => {
      tdb = await createTestDatabase(dialect);
      const config = validateConfig(
        {
          dataDir: tdb.dataDir,
          server: { host: '127.0.0.1', port: 0 },
          database: tdb.url ? { url: tdb.url } : {},
        },
        'test',
      );
      app = await buildTicketloop(config, {
        logger: createLogger('silent'),
        itsm: ITSM_MODULES,
        flows: FLOW_MODULES,
        engine: false,
      });
      url = await app.start();
      auth = await authFor(app, 'auditor');
      const now = Date.now();
      const statuses = ['ticket_open', 'ticket_open', 'failed', 'resumed', 'ticket_open'];
      await app.store.db
        .insertInto('flow_state')
        .values(
          statuses.map((status, n) => ({
            flow: 'entitlement',
            id: `item-${n}`,
            state: JSON.stringify({
              status,
              integration: n === 4 ? 'other' : 'ent',
              stage: 'assignmentRequestApproved',
              requestId: `req-${n}`,
              receivedAt: now - n * HOUR,
              deadline: now + 86_400_000,
              ticket: { system: 'sn', kind: 'sc_req_item', id: `sys-${n}`, key: `RITM${n}`, link: `https://sn/${n}` },
            }),
            version: 1,
            created_at: now - n * HOUR,
            updated_at: now - n * HOUR,
          })),
        )
        .execute();
      const job = (id: string, key: string, state: 'dead' | 'done') => ({
        id,
        kind: 'entitlement.resume',
        key,
        payload: '{}',
        state,
        run_at: now,
        attempts: 3,
        max_attempts: 3,
        lease_owner: null,
        lease_until: null,
        last_error: state === 'dead' ? 'Graph said 500' : null,
        created_at: now,
        updated_at: now,
        finished_at: now,
        priority: 0,
      });
      await app.store.db
        .insertInto('jobs')
        .values([
          job('0190aaaa-0000-7000-8000-000000000001', 'entitlement:item-2:resume', 'dead'),
          // Another item whose id starts the same: not item-2's job.
          job('0190aaaa-0000-7000-8000-000000000002', 'entitlement:item-2b:resume', 'done'),
        ])
        .execute();
      await app.store.db
        .insertInto('itsm_ticket')
        .values(
          [0, 1].map((n) => ({
            system: 'sn',
            kind: 'sc_req_item',
            id: `sys-${n}`,
            correlation: `tl:x:${n}`,
            version: '1',
            updated_at: now - n * HOUR,
          })),
        )
        .execute();
    });
    after(async () => {
      await app?.stop();
      await tdb?.drop();
    });

    test('overview: items by status per integration, hourly series, failures', async () => {
      const o = await get('/api/overview');
      const ent = o.flows.find((f: any) => f.flow === 'entitlement' && f.integration === 'ent');
      assert.deepEqual(ent.byStatus, { ticket_open: 2, failed: 1, resumed: 1 });
      assert.equal(ent.itemsPerHour.length, 24);
      assert.equal(
        ent.itemsPerHour.reduce((a: number, b: number) => a + b, 0),
        4,
      );
      assert.equal(ent.itemsPerHour[23], 1, 'the newest item is in the last hour');
      assert.deepEqual(o.flows.find((f: any) => f.integration === 'other').byStatus, { ticket_open: 1 });
      assert.equal(
        o.ticketsPerHour.reduce((a: number, b: number) => a + b, 0),
        2,
      );
      assert.equal(o.failures.last24h, 1);
      assert.equal(o.failures.recent[0].lastError, 'Graph said 500');
      assert.ok(o.jobs.some((j: any) => j.kind === 'entitlement.resume' && j.state === 'dead' && j.count === 1));
    });

    test('entitlement items: by status and integration, paged, newest first; one item with its own jobs', async () => {
      const open = await get('/api/entitlement/items?status=ticket_open');
      assert.equal(open.total, 3);
      assert.deepEqual(
        open.items.map((i: any) => i.id),
        ['item-0', 'item-1', 'item-4'],
      );
      const page = await get('/api/entitlement/items?limit=2&offset=2');
      assert.equal(page.total, 5);
      assert.deepEqual(
        page.items.map((i: any) => i.id),
        ['item-2', 'item-3'],
      );
      const other = await get('/api/entitlement/items?integration=other');
      assert.deepEqual(
        other.items.map((i: any) => i.id),
        ['item-4'],
      );
      const one = await get('/api/entitlement/items/item-2');
      assert.equal(one.item.status, 'failed');
      assert.deepEqual(one.item.ticket, { system: 'sn', kind: 'sc_req_item', key: 'RITM2', link: 'https://sn/2' });
      assert.deepEqual(
        one.jobs.map((j: any) => [j.kind, j.state]),
        [['entitlement.resume', 'dead']],
      );
      assert.equal((await fetch(`${url}/api/entitlement/items/nope`, { headers: auth })).status, 404);
    });

    test('audit search by action, actor and time', async () => {
      const user = await userFor(app, 'operator');
      const since = new Date(Date.now() - 60_000).toISOString();
      await signIn(url, user.name, user.password);
      const found = await get(`/api/audit?action=signin&since=${encodeURIComponent(since)}`);
      assert.ok(found.entries.length >= 1);
      assert.ok(found.entries.every((e: any) => (e.detail.action ?? e.detail.event) === 'signin'));
      const byActor = await get(`/api/audit?action=signin&actor=${encodeURIComponent(`user:${user.name}`)}`);
      assert.equal(byActor.entries.length, 1);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      assert.equal((await get(`/api/audit?since=${encodeURIComponent(future)}`)).entries.length, 0);
    });
  });
}
