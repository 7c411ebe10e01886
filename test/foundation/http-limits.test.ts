import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { entitlementModule } from '../../src/flows/entitlement/module.ts';
import { LOGIC_APP_PATH } from '../../src/flows/entitlement/routes.ts';
import { webhookPath } from '../../src/itsm/servicenow/webhook.ts';
import { isConnectionError } from '../../src/store/db.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/dialects.ts';

// Security review, issue 10: finding 5 (no request timeouts; an aborted request was logged and
// answered as "database unavailable") and finding 9c (/readyz echoed the database's error text).

const UNREACHABLE = 'https://127.0.0.1:9'; // nothing here is ever called: no engine, no outbound work

interface Answer {
  status?: number;
  closed: boolean;
  /** How much of the body had been written when the server answered or closed. */
  sentBytes: number;
}

/** A slow-loris client: full headers, then one byte of a large declared body every 100 ms. */
function slowBody(url: string, path: string, extraHeaders = ''): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve) => {
    let sentBytes = 0;
    let status: number | undefined;
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${extraHeaders}\r\n{`,
      );
    });
    const iv = setInterval(() => {
      if (!s.destroyed && s.writable) {
        s.write(' ');
        sentBytes++;
      }
    }, 100);
    // The client gives up first only if the server never cuts it off (the old behaviour).
    const giveUp = setTimeout(() => {
      resolve({ status, closed: false, sentBytes });
      s.destroy();
    }, 20_000);
    s.on('data', (d) => (status ??= Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString())?.[1])));
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(iv);
      clearTimeout(giveUp);
      resolve({ status, closed: true, sentBytes });
    });
  });
}

/** A client that sends part of a body, then hangs up. */
function abortMidBody(url: string, path: string, extraHeaders = ''): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n${extraHeaders}\r\n{"table":`,
      );
      setTimeout(() => s.destroy(), 200);
    });
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
}

/** Well-formed signature headers (a wrong MAC): the route reads the body before it can tell. */
const signatureHeaders = () =>
  `X-Ticketloop-Timestamp: ${Math.floor(Date.now() / 1000)}\r\nX-Ticketloop-Signature: sha256=${'0'.repeat(64)}\r\n`;

describe('HTTP limits: request timeouts, aborted requests, readiness text', () => {
  let tdb: TestDatabase;
  let app: Ticketloop;
  let url: string;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    tdb = await createTestDatabase('sqlite');
    const config = validateConfig(
      {
        dataDir: tdb.dataDir,
        server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 1000, connectionTimeoutMs: 5000 },
        microsoft: { tenantId: 'tenant', clientId: 'client', clientSecret: 'x', authorityHost: UNREACHABLE },
        servicenow: [
          {
            name: 'sn',
            instanceUrl: UNREACHABLE,
            auth: { type: 'basic', username: 'u', password: 'p' },
            webhook: { type: 'hmac', secret: 'webhook-secret' },
          },
        ],
        integrations: [
          { name: 'ent', type: 'entitlement', itsm: 'sn', inbound: { logicAppHmacSecret: 'logic-app-secret' } },
        ],
      },
      'test',
    );
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    app = await buildTicketloop(config, {
      logger: createLogger('info', sink),
      itsm: ITSM_MODULES,
      flows: [entitlementModule],
      engine: false,
    });
    url = await app.start();
  });
  after(async () => {
    await app.stop();
    await tdb.drop();
  });

  test('a slow-loris body is cut off with 408 once server.requestTimeoutMs passes', async () => {
    for (const path of [webhookPath('sn'), LOGIC_APP_PATH]) {
      const a = await slowBody(url, path, signatureHeaders());
      assert.ok(a.closed, `${path}: still open after 20 s`);
      assert.equal(a.status, 408, path);
      // At one byte per 100 ms the body would take almost three hours; it was cut off long before.
      assert.ok(a.sentBytes < 200, `${path}: ${a.sentBytes} bytes were still accepted`);
    }
  });

  test('an aborted request is not logged or answered as a database error', async () => {
    const db = () => logs.filter((l) => /database/i.test(String(l.msg)));
    const closed = (path: string) =>
      logs.some((l) => l.url === path && /client closed the connection/.test(String(l.msg)));
    const settle = async (done: () => boolean) => {
      for (let i = 0; i < 100 && !done() && !db().length; i++) await new Promise((r) => setTimeout(r, 50));
    };
    // The webhook reads its body in the content parser: the abort reaches the error handler, which
    // used to call it "database unavailable" (ECONNRESET) and answer 503.
    await abortMidBody(url, webhookPath('sn'));
    await settle(() => closed(webhookPath('sn')));
    assert.deepEqual(db(), []);
    assert.ok(closed(webhookPath('sn')), JSON.stringify(logs));
    // The Logic App route reads it in its signature hook (Node may also drop such a socket itself).
    await abortMidBody(url, LOGIC_APP_PATH, signatureHeaders());
    await settle(() => closed(LOGIC_APP_PATH));
    assert.deepEqual(db(), []);
    // The server is fine: the next request is answered normally.
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  test('socket errors are database errors only when a socket operation of ours failed', () => {
    const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET' }); // an HTTP client hung up
    const pgReset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read', errno: -104 });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    assert.equal(isConnectionError(aborted), false);
    assert.equal(isConnectionError(pgReset), true);
    assert.equal(isConnectionError(refused), true);
    assert.equal(isConnectionError(Object.assign(new Error('terminating connection'), { code: '57P01' })), true);
  });

  test('/readyz says the database is unreachable without echoing the driver text; the detail is logged', async () => {
    logs.length = 0;
    await app.store.db.destroy(); // the database goes away (last test: nothing needs it afterwards)
    const r = await fetch(`${url}/readyz`);
    assert.equal(r.status, 503);
    const body = (await r.json()) as { checks: Record<string, string> };
    assert.equal(body.checks.database, 'unreachable');
    assert.doesNotMatch(JSON.stringify(body), /destroyed|driver/i);
    const logged = logs.find((l) => l.msg === 'readiness: database unreachable');
    assert.match(String(logged?.err), /destroyed/);
  });
});
