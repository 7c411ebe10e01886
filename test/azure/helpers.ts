import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { Agent } from 'undici';
import { send } from '../helpers/http.ts';
import { ARM_AUDIENCES, DEMO, startAzureSandbox, type AzureSandbox } from '../../sandbox/azure/index.ts';
import { ensureSandboxTls, type SandboxTls } from '../../sandbox/shared/tls.ts';
import { OffsetClock } from '../../sandbox/shared/clock.ts';
import { ArmClient } from '../../src/connectors/microsoft/arm.ts';
import type { AuthProvider } from '../../src/connectors/http.ts';

/**
 * An Azure sandbox in a temp dir, with a local signing key standing in for Entra: tokens are
 * RS256 JWTs with aud https://management.azure.com, checked by `verifyBearer`.
 */

export const ARM_AUD = 'https://management.azure.com';
/** The service principal (`oid`) and client (`appid`) of the test tokens. */
export const TEST_OID = '7e57c0de-0000-4000-8000-00000000a0c1';
export const TEST_APP_ID = '7e57c0de-0000-4000-8000-0000000a9901';

let keys: Promise<{ publicKey: CryptoKey; privateKey: CryptoKey }> | undefined;
const testKeys = () => (keys ??= generateKeyPair('RS256'));
let otherKeys: Promise<{ publicKey: CryptoKey; privateKey: CryptoKey }> | undefined;

export async function signToken(
  o: {
    aud?: string;
    expiresInSec?: number;
    now?: number;
    /** Extra claims; `undefined` values remove a default claim. */
    claims?: Record<string, unknown>;
    /** Sign with a key the sandbox does not trust. */
    foreignKey?: boolean;
  } = {},
): Promise<string> {
  const { privateKey } = o.foreignKey ? await (otherKeys ??= generateKeyPair('RS256')) : await testKeys();
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    tid: 'test-tenant',
    appid: TEST_APP_ID,
    oid: TEST_OID,
    roles: [],
    ...o.claims,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test' })
    .setIssuer('https://sts.windows.net/test-tenant/')
    .setAudience(o.aud ?? ARM_AUD)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (o.expiresInSec ?? 3600))
    .sign(privateKey);
}

export async function verifyTestToken(token: string): Promise<Record<string, unknown>> {
  const { publicKey } = await testKeys();
  // exp is checked by the sandbox against its own clock; here only signature and audience.
  const { payload } = await jwtVerify(token, publicKey, {
    audience: [...ARM_AUDIENCES],
    clockTolerance: 10 * 365 * 86_400,
  });
  return payload as Record<string, unknown>;
}

export interface Harness {
  dir: string;
  tls: SandboxTls;
  sb: AzureSandbox;
  clock: OffsetClock;
  agent: Agent;
  /** A raw HTTPS call; adds a valid bearer token unless `token: null`. */
  call(
    method: string,
    path: string,
    o?: { json?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  admin(path: string, json: unknown): Promise<any>;
  client(o?: { auth?: AuthProvider }): ArmClient;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Tokens are minted on sandbox time, as the Microsoft sandbox (sharing the clock) would. */
export const bearerAuth = (clock?: OffsetClock): AuthProvider => ({
  headers: async () => ({ authorization: `Bearer ${await signToken({ now: clock?.now() })}` }),
});

export async function startHarness(o: { seedDemo?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-az-'));
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const clock = new OffsetClock();
  const agent = new Agent({ connect: { ca: tls.ca } });
  const start = () =>
    startAzureSandbox({ dataDir: dir, tls, clock, verifyBearer: verifyTestToken, seedDemo: o.seedDemo });
  const clients: ArmClient[] = [];
  const h: Harness = {
    dir,
    tls,
    clock,
    agent,
    sb: await start(),
    async call(method, path, co = {}) {
      const headers: Record<string, string> = { ...co.headers };
      const token = co.token === undefined ? await signToken({ now: clock.now() }) : co.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (co.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(co.json);
      }
      return send(agent, method, /^https:/.test(path) ? path : h.sb.baseUrl + path, headers, body);
    },
    async admin(path, json) {
      const r = await h.call('POST', `/_sandbox/azure${path}`, { json, token: null });
      if (r.status !== 200) throw new Error(`admin ${path} → ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    client(co = {}) {
      const c = new ArmClient({ baseUrl: h.sb.baseUrl, ca: tls.ca, auth: co.auth ?? bearerAuth(clock) });
      clients.push(c);
      return c;
    },
    async restart() {
      await h.sb.close();
      h.sb = await start();
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await h.sb.close();
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * Run an SDK fixture script (an official Azure SDK, unmodified) against the harness's ARM sandbox:
 * it gets the CA, the base URL, a bearer token and the demo subscription in its environment, plus
 * `env`, and prints its findings as JSON on its last line.
 */
export async function runSdkFixture(h: Harness, fixture: string, env: Record<string, string> = {}): Promise<any> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: h.tls.caPath,
      ARM_BASE_URL: h.sb.baseUrl,
      ARM_TOKEN: await signToken({ now: h.clock.now() }),
      SUBSCRIPTION_ID: DEMO.prodSubscription,
      ...env,
    },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}
