/**
 * Forged credentials with WELL-FORMED bodies: every bearer-protected route gets forged Entra tokens
 * (wrong iss / aud / appid / tid, expired, not yet valid, alg none, HS256 key confusion, bad
 * signature, a stranger's key with the right kid) and every HMAC-signed route gets forged
 * signatures. Each must be a 401/403 with the error envelope, nothing may change, and the process
 * must stay up. A control request with the genuine credential shows the body itself was acceptable.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { EM_APP_ID, TICKETLOOP_APP } from '../../sandbox/microsoft/constants.ts';
import { calloutBody, hmac, nowSeconds, webhookBody } from './cases.ts';
import { envelopeProblem, LOGIC_APP_SECRET, startHostileEnv, WEBHOOK_SECRET, type HostileEnv } from './env.ts';

let env: HostileEnv;
before(async () => {
  env = await startHostileEnv();
});
after(async () => env?.close());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

async function forgedTokens(): Promise<[string, string][]> {
  const entra = env.sandbox.microsoft.entra;
  const aud = env.config.microsoft.clientId as string;
  const mint = (o: Partial<Parameters<typeof entra.issueToken>[0]> = {}) =>
    entra.issueToken({ clientId: EM_APP_ID, audience: aud, version: 1, ...o });
  const good = await mint();
  const { header, payload } = decode(good);
  const now = Math.floor(Date.now() / 1000);
  const [h, p, s] = good.split('.');
  const flipped = s.slice(0, -6) + (s.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA');

  // A stranger's RSA key, presenting the sandbox key's kid.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const strangerKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
  const wrongKey = await new SignJWT(payload)
    .setProtectedHeader({ ...header, alg: 'RS256' } as { alg: string })
    .sign(strangerKey);

  // HS256 signed with the tenant's public key material (algorithm confusion).
  const jwks = (await env.http.ok(
    'GET',
    `${env.sandbox.microsoft.baseUrl}/${env.sandbox.microsoft.tenantId}/discovery/v2.0/keys`,
  )) as { keys: { n: string }[] };
  const hsHead = b64({ ...header, alg: 'HS256' });
  const hsSig = createHmac('sha256', jwks.keys[0].n).update(`${hsHead}.${p}`).digest('base64url');

  return [
    ['no Authorization header', ''],
    ['empty bearer', 'Bearer '],
    ['Basic scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['garbage token', 'Bearer abc.def.ghi'],
    [
      'wrong issuer',
      `Bearer ${await mint({ claims: { iss: 'https://sts.windows.net/11111111-2222-3333-4444-555555555555/' } })}`,
    ],
    ['wrong audience', `Bearer ${await mint({ audience: 'api://someone-else' })}`],
    ['Graph audience', `Bearer ${await mint({ audience: 'https://graph.microsoft.com' })}`],
    ['wrong appid (Ticketloop itself)', `Bearer ${await mint({ clientId: TICKETLOOP_APP.clientId })}`],
    ['wrong appid (stranger)', `Bearer ${await mint({ clientId: randomUUID() })}`],
    ['v2 token with a stranger azp', `Bearer ${await mint({ version: 2, clientId: randomUUID() })}`],
    ['wrong tenant (tid)', `Bearer ${await mint({ claims: { tid: randomUUID() } })}`],
    ['expired', `Bearer ${await mint({ claims: { exp: now - 3600, iat: now - 7200, nbf: now - 7200 } })}`],
    ['not yet valid', `Bearer ${await mint({ claims: { nbf: now + 3600, iat: now + 3600, exp: now + 7200 } })}`],
    ['alg none', `Bearer ${b64({ ...header, alg: 'none' })}.${p}.`],
    ['alg none without the dot', `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${p}`],
    ['HS256 with the public key', `Bearer ${hsHead}.${p}.${hsSig}`],
    ['bad signature', `Bearer ${h}.${p}.${flipped}`],
    [
      'payload swapped under a valid signature',
      `Bearer ${h}.${b64({ ...payload, appid: EM_APP_ID, oid: randomUUID(), roles: ['x'] })}.${s}`,
    ],
    ['signed by a stranger key with the right kid', `Bearer ${wrongKey}`],
    ['two tokens in one header', `Bearer ${good}, Bearer ${good}`],
  ];
}

async function expectRefused(
  label: string,
  url: string,
  raw: string,
  headers: Record<string, string>,
  failures: string[],
) {
  const r = await env.http.call('POST', url, { raw, headers: { 'content-type': 'application/json', ...headers } });
  const p = envelopeProblem(r.status, r.text);
  if (p || (r.status !== 401 && r.status !== 403)) failures.push(`${label}: ${r.status} ${p ?? r.text.slice(0, 160)}`);
}

async function stillUp() {
  assert.ok(env.tl.alive, `Ticketloop died:\n${env.tl.log}`);
  assert.equal((await env.http.call('GET', `${env.tl.url}/healthz`)).status, 200);
}

test('forged Entra tokens are refused on every bearer route', async (t) => {
  const routes = env.endpoints.filter((e) => e.path === '/callouts/entitlement');
  if (!routes.length) return t.skip('no bearer-protected callout route yet');
  const snap = await env.snapshot();
  const failures: string[] = [];
  for (const e of routes) {
    for (const [name, auth] of await forgedTokens()) {
      await expectRefused(
        `${e.path} · ${name}`,
        `${env.tl.url}${e.path}`,
        JSON.stringify(calloutBody()),
        auth ? { authorization: auth } : {},
        failures,
      );
    }
    await stillUp();
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await env.snapshot(), snap, 'a forged token changed state');
  // Control: the same kind of body with the genuine token is not refused for its credentials.
  const good = await env.sandbox.microsoft.entra.issueToken({
    clientId: EM_APP_ID,
    audience: env.config.microsoft.clientId,
    version: 1,
  });
  const r = await env.http.call('POST', `${env.tl.url}/callouts/entitlement`, {
    body: calloutBody(),
    headers: { authorization: `Bearer ${good}` },
  });
  assert.ok(
    r.status !== 401 && r.status !== 403 && r.status < 500,
    `control with a genuine token: ${r.status} ${r.text}`,
  );
  await env.settle(); // the control's own effects (an immediate resume) finish before the next test
});

test('forged HMAC signatures are refused on every signed route', async (t) => {
  const routes = env.endpoints.filter(
    (e) => e.path === '/callouts/entitlement/logic-app' || e.path.startsWith('/webhooks/servicenow/'),
  );
  if (!routes.length) return t.skip('no HMAC-signed route');
  const snap = await env.snapshot();
  const failures: string[] = [];
  for (const e of routes) {
    const isLogicApp = e.path.endsWith('/logic-app');
    const header = isLogicApp ? 'x-ticketloop-signature' : 'x-sn-signature';
    const tsHeader = isLogicApp ? 'x-ticketloop-timestamp' : 'x-sn-timestamp';
    const secret = isLogicApp ? LOGIC_APP_SECRET : WEBHOOK_SECRET;
    const raw = JSON.stringify(isLogicApp ? calloutBody() : webhookBody());
    const ts = nowSeconds();
    const good = hmac(secret, raw, ts);
    const at = { [tsHeader]: ts };
    const old = String(Number(ts) - 6 * 60); // outside the ±5 minute window
    const cases: [string, Record<string, string>, string?][] = [
      ['no signature', { ...at }],
      ['empty signature', { ...at, [header]: '' }],
      ['wrong secret', { ...at, [header]: hmac('not-the-secret', raw, ts) }],
      ['signature of another body', { ...at, [header]: hmac(secret, '{}', ts) }],
      ['tampered body', { ...at, [header]: good }, raw.replace('"', ' "')],
      ['truncated signature', { ...at, [header]: good.slice(0, 40) }],
      ['signature without prefix', { ...at, [header]: good.slice('sha256='.length) }],
      ['sha1 prefix', { ...at, [header]: good.replace('sha256=', 'sha1=') }],
      ['signature in the wrong header', { ...at, [isLogicApp ? 'x-sn-signature' : 'x-ticketloop-signature']: good }],
      ['bearer instead of a signature', { ...at, authorization: `Bearer ${secret}` }],
      ['no timestamp', { [header]: good }],
      ['timestamp changed under a valid signature', { [tsHeader]: String(Number(ts) + 1), [header]: good }],
      [
        'replayed: a valid signature over a timestamp 6 minutes old',
        { [tsHeader]: old, [header]: hmac(secret, raw, old) },
      ],
      [
        'the old scheme: a signature over the body alone',
        { ...at, [header]: `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}` },
      ],
    ];
    for (const [name, headers, body] of cases)
      await expectRefused(`${e.path} · ${name}`, `${env.tl.url}${e.path}`, body ?? raw, headers, failures);
    await stillUp();
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await env.snapshot(), snap, 'a forged signature changed state');
});
