import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { EM_APP_ID } from '../../src/flows/entitlement/config.ts';
import { CALLOUT_PATH, LOGIC_APP_PATH } from '../../src/flows/entitlement/routes.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { HMAC_SECRET, startLoop, until, type Loop } from './helpers.ts';

/** Who may call the callout endpoints, and what a bad body gets. Nothing refused is ever stored. */

function callout(o: Record<string, unknown> = {}) {
  const requestId = randomUUID();
  return {
    AccessPackageAssignmentRequestId: requestId,
    CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${requestId}/resume`,
    CustomExtensionStageInstanceId: randomUUID(),
    Stage: 'AssignmentRequestApproved',
    RequestType: 'UserAdd',
    CallbackConfiguration: { DurationBeforeTimeout: 'P3D' },
    AccessPackage: { Id: randomUUID(), DisplayName: 'Payroll', Description: 'payroll app' },
    AccessPackageCatalog: { Id: randomUUID(), DisplayName: 'HR' },
    Assignment: {
      Id: randomUUID(),
      Target: { ObjectId: randomUUID(), DisplayName: 'Megan Bowen', Email: 'megan@contoso.test' },
    },
    Requestor: { Id: randomUUID(), DisplayName: 'Megan Bowen' },
    Answers: [{ AnsweredQuestion: { TextString: 'Why?' }, Value: 'Month-end close' }],
    ...o,
  };
}

const nowSeconds = () => String(Math.floor(Date.now() / 1000));
/** The forwarder's headers: HMAC over "<timestamp>.<raw body>" (http/auth.ts). */
const signed = (body: string, secret = HMAC_SECRET, timestamp = nowSeconds()) => ({
  'x-ticketloop-timestamp': timestamp,
  'x-ticketloop-signature': `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
});

describe('callout endpoint: authentication and validation', () => {
  let L: Loop;
  let mint: (o?: Record<string, unknown>) => Promise<string>;
  before(async () => {
    L = await startLoop({ webhook: false });
    const ms = L.sandbox.microsoft;
    mint = (o = {}) =>
      ms.entra.issueToken({ clientId: EM_APP_ID, audience: ms.apps.ticketloop.clientId, version: 1, ...o });
  });
  after(async () => {
    await L?.close();
  });

  const stored = async () => {
    const items = await L.app.store.db
      .selectFrom('flow_state')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('flow', '=', 'entitlement')
      .executeTakeFirstOrThrow();
    const jobs = await L.app.store.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', 'like', 'entitlement.%')
      .executeTakeFirstOrThrow();
    return { items: Number(items.n), jobs: Number(jobs.n) };
  };
  const post = (body: unknown, headers: Record<string, string>, path = CALLOUT_PATH) =>
    L.http('POST', L.url + path, {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });

  test('a genuine Entra callout (PascalCase) is accepted: 202, stored, ticket opened', async () => {
    const body = callout();
    const r = await post(body, { authorization: `Bearer ${await mint()}` });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { status: 'accepted', id: body.CustomExtensionStageInstanceId });
    const st = await until(
      async () =>
        (await L.state(body.CustomExtensionStageInstanceId))?.ticket
          ? L.state(body.CustomExtensionStageInstanceId)
          : undefined,
      'ticket',
    );
    const [t] = await L.tickets(correlationKey('entitlement', body.CustomExtensionStageInstanceId));
    assert.equal(t.number, st.ticket!.key);
    assert.match(t.description, /Why\?: Month-end close/);
    assert.ok(st.deadline! - st.receivedAt === 3 * 86_400_000, 'deadline from DurationBeforeTimeout');
  });

  test('camelCase callout with a lower-case stage and timeoutDuration is accepted too', async () => {
    const b = callout();
    const camel = {
      accessPackageAssignmentRequestId: b.AccessPackageAssignmentRequestId,
      callbackUriPath: b.CallbackUriPath,
      customExtensionStageInstanceId: b.CustomExtensionStageInstanceId,
      stage: 'assignmentrequestapproved',
      callbackConfiguration: { timeoutDuration: 'PT10M' },
      accessPackage: { id: randomUUID(), displayName: 'Camel' },
      assignment: { target: { displayName: 'Alex' } },
    };
    const r = await post(camel, { authorization: `Bearer ${await mint()}` });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const st = await L.state(b.CustomExtensionStageInstanceId);
    assert.equal(st?.stage, 'assignmentRequestApproved');
    assert.equal(st!.deadline! - st!.receivedAt, 600_000);
  });

  test('forged, expired, wrong-tenant and wrong-app tokens → 401, nothing stored', async () => {
    const ms = L.sandbox.microsoft;
    const good = await mint();
    const [h, p, s] = good.split('.');
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const cases: [string, string | undefined, string][] = [
      ['missing header', undefined, 'missing'],
      [
        'wrong issuer',
        await mint({ claims: { iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' } }),
        'issuer',
      ],
      ['wrong audience', await mint({ audience: 'api://someone-else' }), 'audience'],
      [
        'wrong app (appid)',
        await ms.entra.issueToken({ clientId: randomUUID(), audience: ms.apps.ticketloop.clientId, version: 1 }),
        'appid',
      ],
      ['wrong tenant (tid)', await mint({ claims: { tid: '11111111-2222-3333-4444-555555555555' } }), 'tenant'],
      ['expired', await mint({ lifetimeSec: -3600 }), 'expired'],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, 'algorithm'],
      ['bad signature', `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`, 'signature'],
      ['payload swapped under a valid signature', `${h}.${b64({ ...payload, aud: 'x' })}.${s}`, 'signature'],
    ];
    const before = await stored();
    for (const [name, token, reason] of cases) {
      const r = await post(callout(), token ? { authorization: `Bearer ${token}` } : {});
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'unauthorized', name);
      assert.equal(r.body.error.details[0].message, reason, name);
    }
    // A forged token with a bad body is still a 401 (auth first), not a 400.
    assert.equal((await post('{not json', { authorization: 'Bearer x.y.z' })).status, 401);
    assert.deepEqual(await stored(), before);
  });

  test('connection test → 200 and nothing opened', async () => {
    const before = await stored();
    const r = await post(
      {
        Stage: 'CustomExtensionConnectionTest',
        CustomExtensionStageInstanceId: randomUUID(),
        CallbackConfiguration: { DurationBeforeTimeout: 'P14D' },
      },
      { authorization: `Bearer ${await mint()}` },
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'connection-test' });
    assert.deepEqual(await stored(), before);
  });

  test('bad bodies → 400 naming the field', async () => {
    const auth = { authorization: `Bearer ${await mint()}` };
    const before = await stored();
    const cases: [unknown, string][] = [
      [{ ...callout(), CustomExtensionStageInstanceId: undefined }, 'body.CustomExtensionStageInstanceId'],
      [{ ...callout(), CustomExtensionStageInstanceId: 'not-a-guid' }, 'body.CustomExtensionStageInstanceId'],
      [{ ...callout(), Stage: 'AssignmentRequestTeleported' }, 'body.Stage'],
      [{ ...callout(), AccessPackageAssignmentRequestId: undefined }, 'body.AccessPackageAssignmentRequestId'],
      [
        {
          ...callout(),
          CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${randomUUID()}/resume`,
        },
        'body.CallbackUriPath',
      ],
      [
        { ...callout(), CallbackConfiguration: { DurationBeforeTimeout: 'three days' } },
        'body.CallbackConfiguration.DurationBeforeTimeout',
      ],
      [{ customExtensionStageInstanceId: randomUUID() }, 'body.stage'],
      [{ ...callout(), Answers: 'yes' }, 'body.Answers'],
      [[1, 2], 'body'],
    ];
    for (const [body, path] of cases) {
      const r = await post(body, auth);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.ok(
        r.body.error.details.some((d: { path: string }) => d.path === path),
        `${path} named in ${JSON.stringify(r.body.error.details)}`,
      );
    }
    const bad = await post('{"Stage":', auth);
    assert.equal(bad.status, 400);
    assert.deepEqual(await stored(), before);
  });

  test('Logic App forward: HMAC over timestamp and raw body accepted; bad or missing signature → 401', async () => {
    const body = JSON.stringify(callout());
    const id = JSON.parse(body).CustomExtensionStageInstanceId;
    const before = await stored();
    const good = signed(body);
    for (const [name, headers] of [
      ['missing', {}],
      ['wrong secret', signed(body, 'guess')],
      ['other body', signed(`${body} `)],
      ['malformed', { ...good, 'x-ticketloop-signature': 'sha256=zz' }],
      ['no timestamp', { 'x-ticketloop-signature': good['x-ticketloop-signature'] }],
    ] as [string, Record<string, string>][]) {
      const r = await post(body, headers, LOGIC_APP_PATH);
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(await stored(), before);
    const ok = await post(body, good, LOGIC_APP_PATH);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal((await L.state(id))?.status !== undefined, true);
    const audit = await L.audit(id);
    assert.equal(audit[0].via, 'logic-app');
  });

  test('a captured Logic App request cannot be replayed: old timestamps, moved timestamps and the old scheme are refused', async () => {
    // Security review, issue 10, finding 9a: the signature covered the body only, so a captured
    // forward was valid forever. Each case is a request an eavesdropper could build.
    const body = JSON.stringify(callout());
    const before = await stored();
    const sixMinutesAgo = String(Math.floor(Date.now() / 1000) - 6 * 60);
    const inFuture = String(Math.floor(Date.now() / 1000) + 6 * 60);
    const fresh = signed(body);
    const cases: [string, Record<string, string>, RegExp][] = [
      ['signed six minutes ago', signed(body, HMAC_SECRET, sixMinutesAgo), /more than 300 s/],
      ['signed six minutes ahead', signed(body, HMAC_SECRET, inFuture), /more than 300 s/],
      [
        'a fresh timestamp on an old signature',
        { ...signed(body, HMAC_SECRET, sixMinutesAgo), 'x-ticketloop-timestamp': fresh['x-ticketloop-timestamp'] },
        /does not match/,
      ],
      [
        'the old scheme (body only)',
        {
          ...fresh,
          'x-ticketloop-signature': `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`,
        },
        /does not match/,
      ],
    ];
    for (const [name, headers, why] of cases) {
      const r = await post(body, headers, LOGIC_APP_PATH);
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, why, name);
    }
    assert.deepEqual(await stored(), before);
    // Within the window the same request again changes nothing either: the stage id is the key.
    assert.equal((await post(body, fresh, LOGIC_APP_PATH)).body.status, 'accepted');
    const again = await post(body, fresh, LOGIC_APP_PATH);
    assert.deepEqual([again.status, again.body.status], [202, 'duplicate']);
  });

  test('docs/logic-app-forwarder.json signs exactly what Ticketloop verifies', async () => {
    const doc = JSON.parse(readFileSync(new URL('../../docs/logic-app-forwarder.json', import.meta.url), 'utf8'));
    const sign = doc.definition.actions.Sign;
    assert.equal(sign.type, 'JavaScriptCode');
    assert.equal(
      doc.accessControl.triggers.openAuthenticationPolicies.policies.AzureADEntitlementManagementPOPAuthPolicy.type,
      'AADPOP',
    );
    const trigger = { ...callout(), AccessPackage: { Id: randomUUID(), DisplayName: 'Zürich — naïve ✓' } };
    const out = new Function('workflowContext', sign.inputs.code)({
      trigger: { outputs: { body: trigger } },
      actions: { Ticketloop_secret: { outputs: HMAC_SECRET } },
    });
    // The headers the Forward action sends, with the Sign action's outputs filled in.
    const headers = Object.fromEntries(
      Object.entries(doc.definition.actions.Forward_to_Ticketloop.inputs.headers as Record<string, string>).map(
        ([k, v]) => [k.toLowerCase(), v.replace(/@\{body\('Sign'\)\?\['(\w+)'\]\}/, (_m, key: string) => out[key])],
      ),
    );
    assert.match(headers['x-ticketloop-timestamp'], /^\d{10}$/);
    const r = await post(out.payload, headers, LOGIC_APP_PATH);
    assert.equal(r.status, 202, JSON.stringify(r.body));
  });

  test('an oversized callout is refused with 413 naming the route limit (256 KiB), not the server-wide one', async () => {
    // Security review, issue 10, finding 9b: the message named server.bodyLimitBytes (1 MiB).
    const body = JSON.stringify(callout({ Padding: 'x'.repeat(300 * 1024) }));
    const r = await post(body, { authorization: `Bearer ${await mint()}` });
    assert.equal(r.status, 413, JSON.stringify(r.body));
    assert.equal(r.body.error.message, `request body is larger than ${256 * 1024} bytes`);
  });

  test('callout endpoints appear in /openapi.json', async () => {
    const doc = (await L.http('GET', `${L.url}/openapi.json`)).body;
    assert.ok(doc.paths[CALLOUT_PATH]?.post);
    assert.ok(doc.paths[LOGIC_APP_PATH]?.post);
  });
});
