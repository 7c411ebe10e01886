/**
 * Hostile bodies, query strings and path parameters to EVERY inbound endpoint (discovered from
 * /openapi.json plus the routes kept out of it). Bodies go with VALID authentication where the route
 * has any (Entra bearer, HMAC signature over the exact bytes), so they reach the parser and the
 * validator rather than stopping at the door. Every case must get a 4xx with the error envelope;
 * after each endpoint's batch the process must still answer /healthz and no state may have moved.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EM_APP_ID } from '../../sandbox/microsoft/constants.ts';
import { bodyCases, signedHeaders } from './cases.ts';
import {
  envelopeProblem,
  LOGIC_APP_SECRET,
  startHostileEnv,
  WEBHOOK_SECRET,
  type Endpoint,
  type HostileEnv,
} from './env.ts';

let env: HostileEnv;
let goodToken: string;

before(async () => {
  env = await startHostileEnv();
  goodToken = await env.sandbox.microsoft.entra.issueToken({
    clientId: EM_APP_ID,
    audience: env.config.microsoft.clientId,
    version: 1,
  });
});
after(async () => env?.close());

/** Valid authentication for the route, computed over the exact bytes sent. */
function authHeaders(e: Endpoint, raw: string | Buffer): Record<string, string> {
  if (e.path === '/callouts/entitlement') return { authorization: `Bearer ${goodToken}` };
  if (e.path === '/callouts/entitlement/logic-app') return signedHeaders(e.path, LOGIC_APP_SECRET, raw);
  if (e.path.startsWith('/webhooks/servicenow/')) return signedHeaders(e.path, WEBHOOK_SECRET, raw);
  if (e.path.startsWith('/api/')) return env.apiAuth;
  return {};
}

async function stillUp(): Promise<void> {
  assert.ok(env.tl.alive, `Ticketloop died:\n${env.tl.log}`);
  const r = await env.http.call('GET', `${env.tl.url}/healthz`);
  assert.equal(r.status, 200, 'health check after the batch');
}

test('every inbound endpoint was found', () => {
  const names = env.endpoints.map((e) => `${e.method} ${e.path}`);
  assert.ok(
    names.some((n) => n.startsWith('GET /api/jobs')),
    names.join(', '),
  );
  console.log(`endpoints under test:\n  ${names.join('\n  ')}`);
});

test('hostile bodies get a 4xx envelope, the process stays up, nothing changes', async () => {
  const cases = bodyCases();
  const failures: string[] = [];
  const before0 = await env.snapshot();
  for (const e of env.endpoints.filter((x) => x.method !== 'GET')) {
    const snap = await env.snapshot();
    for (const c of cases) {
      const headers = { 'content-type': c.contentType ?? 'application/json', ...authHeaders(e, c.raw) };
      let r;
      try {
        r = await env.http.call(e.method as 'POST', `${env.tl.url}${e.path}`, {
          raw: c.raw,
          headers,
          timeoutMs: 20_000,
        });
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (c.mayCloseEarly && /EPIPE|ECONNRESET|UND_ERR_SOCKET/.test(`${code} ${(err as Error).message}`)) continue;
        failures.push(`${e.method} ${e.path} · ${c.name}: no answer (${(err as Error).message})`);
        continue;
      }
      if (e.takesBody || c.parseLevel) {
        const p = envelopeProblem(r.status, r.text);
        if (p) failures.push(`${e.method} ${e.path} · ${c.name}: ${p}`);
      } else if (r.status >= 500) {
        failures.push(`${e.method} ${e.path} · ${c.name}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    await stillUp();
    assert.deepEqual(await env.snapshot(), snap, `state changed by hostile bodies to ${e.method} ${e.path}`);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await env.snapshot(), before0);
});

test('hostile query strings and path parameters get a 4xx envelope', async () => {
  const failures: string[] = [];
  const snap = await env.snapshot();
  // Garbage a typed parameter (enum, number) must refuse; numbers out of range; free text must never break anything.
  const garbage = ['abc', '%00', '%ED%A0%80', encodeURIComponent('\u202e'), 'x'.repeat(5000), '%27%20OR%201%3D1--'];
  const numbers = ['-5', '1e999', '99999999999999999999', '0.5'];
  for (const e of env.endpoints) {
    for (const q of e.query) {
      for (const v of [...garbage, ...numbers]) {
        const r = await env.http.call(e.method as 'GET', `${env.tl.url}${e.path}?${q.name}=${v}`, {
          headers: authHeaders(e, ''),
        });
        const label = `${e.method} ${e.path}?${q.name}=${v.slice(0, 20)}`;
        if (r.status >= 500) failures.push(`${label}: ${r.status}`);
        else if (r.status < 400 && q.typed && garbage.includes(v))
          failures.push(`${label}: ${r.status} (expected 4xx)`);
        else if (r.status >= 400) {
          const p = envelopeProblem(r.status, r.text);
          if (p) failures.push(`${label}: ${p}`);
        }
      }
    }
    if (e.template.includes('{')) {
      for (const v of ['not-a-uuid', '%00', '..%2F..%2Fetc%2Fpasswd', '%ED%A0%80', 'x'.repeat(3000)]) {
        const path = e.template.replace(/\{\w+\}/g, v);
        const r = await env.http.call(e.method as 'POST', `${env.tl.url}${path}`, {
          raw: e.method === 'GET' ? undefined : '{}',
          headers: {
            ...(e.method === 'GET' ? {} : { 'content-type': 'application/json' }),
            ...(e.template.startsWith('/api/') ? env.apiAuth : {}),
          },
        });
        const p = envelopeProblem(r.status, r.text);
        if (p) failures.push(`${e.method} ${path.slice(0, 60)}: ${p}`);
      }
    }
    await stillUp();
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await env.snapshot(), snap);
});
