import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CheckResult } from '../../src/app/checks.ts';
import { servicenowModule } from '../../src/itsm/servicenow/module.ts';
import { startHarness, type Harness } from '../sandbox-servicenow/helpers.ts';
import { connection, deps } from './setup-helpers.ts';

/**
 * checkSetup() (what `ticketloop doctor` prints) against the sandbox's real faults: each failure
 * names the cause and its fix, and a connection-wide failure is reported once, not per table.
 */

const CLOSE_OUT = { incident: { resolve: { close_code: 'Solution provided' } } };
const REACH_FIX =
  'check instanceUrl and that this host can reach the instance (proxy, firewall, caFile for a private CA)';
const CODES =
  'Duplicate, Known error, Resolved by caller, Resolved by change, Resolved by problem, Solution provided, Workaround provided, User error';

describe('ServiceNow checkSetup: findings and fixes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  async function check(extra: Record<string, unknown>, over: { baseUrl?: string } = {}): Promise<CheckResult[]> {
    const config = connection(over.baseUrl ? { baseUrl: over.baseUrl } : h, { closeOut: CLOSE_OUT, ...extra });
    const port = servicenowModule.connect(config, deps());
    try {
      return await port.checkSetup();
    } finally {
      await port.close();
    }
  }
  const basic = (username: string, password: string) => ({ auth: { type: 'basic', username, password } });
  const { admin, itil, readonly, oauth } = {
    admin: { username: 'admin', password: 'admin-password-1' },
    itil: { username: 'it.support', password: 'itil-password-1' },
    readonly: { username: 'read.only', password: 'readonly-password-1' },
    oauth: { clientId: 'ticketloop-client', clientSecret: 'ticketloop-client-secret-1' },
  };

  it('a working connection: one passing result per thing checked', async () => {
    const r = await check(basic(itil.username, itil.password));
    assert.deepEqual(
      r.map((x) => [x.target, x.check, x.ok]),
      [
        ['ServiceNow prod', 'sign-in', true],
        ['ServiceNow prod', 'table incident', true],
        ['ServiceNow prod', 'incident resolve close-out', true],
        ['ServiceNow prod', 'incident close close-out', true],
      ],
    );
    assert.equal(r[0].detail, `signed in to ${h.sn.baseUrl} as user 'it.support'`);
    assert.match(r[1].detail, /^reachable, [01] rows? read$/);
  });

  it('an unreachable instance (closed port) is one finding with the URL, the error and the fix', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const url = `https://localhost:${port}`;
    const r = await check(basic(itil.username, itil.password), { baseUrl: url });
    assert.equal(r.length, 1, JSON.stringify(r));
    assert.equal(r[0].check, 'connection');
    assert.equal(r[0].ok, false);
    assert.match(r[0].detail, new RegExp(`^cannot reach ${url}: .*ECONNREFUSED`));
    assert.equal(r[0].fix, REACH_FIX);
  });

  it('a certificate from a private CA without caFile, and a host name that does not resolve', async () => {
    const tls = await check({ ...basic(itil.username, itil.password), caFile: undefined });
    assert.deepEqual(
      tls.map((x) => [x.check, x.ok]),
      [['connection', false]],
    );
    assert.match(tls[0].detail, new RegExp(`^cannot reach ${h.sn.baseUrl}: .*certificate`));
    assert.equal(
      tls[0].fix,
      "the instance's certificate is not trusted here: set caFile to the private CA that signed it, or check instanceUrl",
    );
    const dns = await check(basic(itil.username, itil.password), { baseUrl: 'https://no-such-host.invalid' });
    assert.match(dns[0].detail, /^cannot reach https:\/\/no-such-host\.invalid: .*(ENOTFOUND|EAI_AGAIN)/);
    assert.match(dns[0].fix!, /^check instanceUrl: its host name does not resolve/);
  });

  it('401: wrong password, wrong OAuth client secret, wrong password with the password grant — reported once', async () => {
    assert.deepEqual(await check(basic(itil.username, 'wrong')), [
      {
        target: 'ServiceNow prod',
        check: 'sign-in',
        ok: false,
        detail: "401 for user 'it.support'",
        fix: "check the password (and that user 'it.support' is active and not locked out)",
      },
    ]);
    const cc = await check({ auth: { type: 'oauth', clientId: oauth.clientId, clientSecret: 'wrong' } });
    assert.equal(cc.length, 1);
    assert.equal(cc[0].check, 'sign-in');
    assert.equal(cc[0].detail, "401 for the OAuth client 'ticketloop-client' at /oauth_token.do");
    assert.match(cc[0].fix!, /^check the client secret/);
    const pw = await check({
      auth: { type: 'oauth', grant: 'password', ...oauth, username: itil.username, password: 'wrong' },
    });
    assert.equal(
      pw[0].detail,
      "401 for the OAuth client 'ticketloop-client' with user 'it.support' at /oauth_token.do",
    );
    assert.equal(pw[0].fix, "check the client secret and the password of user 'it.support'");
    // The working OAuth client signs in as the client.
    const ok = await check({ auth: { type: 'oauth', ...oauth } });
    assert.deepEqual(
      ok.filter((x) => !x.ok),
      [],
    );
    assert.match(ok[0].detail, /as the OAuth client 'ticketloop-client'$/);
  });

  it('403 for a user without roles: signed in, but the fix names the role it needs', async () => {
    const r = await check({ ...basic(readonly.username, readonly.password) });
    assert.deepEqual(r, [
      {
        target: 'ServiceNow prod',
        check: 'sign-in',
        ok: true,
        detail: `signed in to ${h.sn.baseUrl} as user 'read.only'`,
      },
      {
        target: 'ServiceNow prod',
        check: 'Table API access',
        ok: false,
        detail: "403 for user 'read.only': User Not Authorized: Failed API level ACL Validation",
        fix: "user 'read.only' has no role that may use the Table API: give it the itil role (the ticket tables Ticketloop works on need it)",
      },
    ]);
  });

  it('close-out: a missing mandatory value, an invalid one, a choice the instance no longer has', async () => {
    const missing = await check({ ...basic(itil.username, itil.password), closeOut: {} });
    const bad = missing.filter((x) => !x.ok);
    assert.deepEqual(
      bad.map((x) => [x.check, x.detail, x.fix]),
      [
        [
          'incident resolve close-out',
          'incident resolve: close_code is not set, and ServiceNow requires it',
          `set servicenow.prod.closeOut.incident.resolve.close_code to one of: ${CODES}`,
        ],
        [
          'incident close close-out',
          'incident close: close_code is not set, and ServiceNow requires it',
          `set servicenow.prod.closeOut.incident.close.close_code to one of: ${CODES}`,
        ],
      ],
    );
    const wrong = await check({
      ...basic(itil.username, itil.password),
      closeOut: { incident: { resolve: { close_code: 'Fixed it' }, close: { close_code: 'Solution provided' } } },
    });
    assert.deepEqual(
      wrong.filter((x) => !x.ok).map((x) => [x.detail, x.fix]),
      [
        [
          "incident resolve: 'Fixed it' is not a valid close_code",
          `set servicenow.prod.closeOut.incident.resolve.close_code to one of: ${CODES}, or add the choice in ServiceNow`,
        ],
      ],
    );

    // An admin retires the choice the configuration uses.
    const auth = h.basic(admin);
    const choice = (
      await h.call(
        'GET',
        '/api/now/table/sys_choice?sysparm_query=name=incident%5Eelement=close_code%5Evalue=Solution%20provided',
        { auth },
      )
    ).json.result[0];
    await h.call('PATCH', `/api/now/table/sys_choice/${choice.sys_id}`, { auth, body: { inactive: 'true' } });
    try {
      const gone = await check(basic(itil.username, itil.password));
      const f = gone.filter((x) => !x.ok);
      assert.equal(f.length, 2, JSON.stringify(f)); // resolve, and close that falls back to it
      assert.equal(f[0].detail, "incident resolve: 'Solution provided' is not a valid close_code");
      assert.match(f[0].fix!, /to one of: Duplicate, .*User error, or add the choice in ServiceNow$/);
      assert.ok(!f[0].fix!.includes('Solution provided'));
      assert.equal(f[1].fix, f[0].fix, 'close takes its value from resolve: the same fix');
    } finally {
      await h.call('PATCH', `/api/now/table/sys_choice/${choice.sys_id}`, { auth, body: { inactive: 'false' } });
    }
  });
});
