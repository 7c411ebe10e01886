import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { send } from '../helpers/http.ts';

/**
 * Tokens for ARM's legacy resource `https://management.core.windows.net/` — the one the Azure CLI and
 * Azure PowerShell ask for (`https://management.core.windows.net//.default`) — against the whole
 * sandbox (its Entra issues them, its ARM accepts them). ARM's allowed audiences are the four in its
 * InvalidAuthenticationTokenAudience message (Azure-Samples/active-directory-dotnetcore-daemon-v2#145);
 * the CLI's scope is in Azure/azure-powershell#27882's debug log.
 */

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/identity-arm.ts', import.meta.url));
const CLI_SCOPE = 'https://management.core.windows.net//.default';

async function withSandbox(fn: (s: Sandbox, agent: Agent) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'tl-az-cli-'));
  const s = await startSandbox({ dataDir: dir });
  const agent = new Agent({ connect: { ca: s.tls.ca } });
  try {
    await fn(s, agent);
  } finally {
    await agent.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('@azure/identity with the CLI scope management.core.windows.net//.default: aud has the slash and ARM serves the SDKs', () =>
  withSandbox(async (s) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture], {
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: s.tls.caPath,
        AUTHORITY_HOST: s.microsoft.authorityHost,
        TENANT_ID: s.microsoft.tenantId,
        CLIENT_ID: s.microsoft.apps.ticketloop.clientId,
        CLIENT_SECRET: s.microsoft.apps.ticketloop.clientSecret,
        ARM_BASE_URL: s.azure.baseUrl,
        SCOPE: CLI_SCOPE,
        SUBSCRIPTION_ID: s.azure.demo.prodSubscription,
      },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.aud, 'https://management.core.windows.net/');
    assert.equal(out.assessments, 16);
    // Item 3's reads through the SDK pipeline: one tenant, the demo subscriptions in it, the hierarchy.
    assert.deepEqual(
      out.subscriptions.map((x: any) => [x.subscriptionId, x.tenantId, x.state]),
      [
        [s.azure.demo.prodSubscription, s.microsoft.tenantId, 'Enabled'],
        [s.azure.demo.devSubscription, s.microsoft.tenantId, 'Enabled'],
      ],
    );
    assert.deepEqual(
      out.tenants.map((t: any) => [t.id, t.tenantCategory, t.defaultDomain]),
      [[`/tenants/${s.microsoft.tenantId}`, 'Home', 'ticketloopsandbox.onmicrosoft.com']],
    );
    assert.deepEqual(out.groups.sort(), [s.azure.demo.managementGroup, s.microsoft.tenantId].sort());
    assert.equal(out.root.properties.displayName, 'Tenant Root Group');
    const contoso = out.root.properties.children.find((c: any) => c.name === s.azure.demo.managementGroup);
    assert.deepEqual(
      contoso.children.map((c: any) => c.id),
      [`/subscriptions/${s.azure.demo.prodSubscription}`, `/subscriptions/${s.azure.demo.devSubscription}`],
    );
    assert.deepEqual(out.resourceGroups, ['rg-web', 'rg-data', 'rg-multicloud']);
  }));

test('v1 resource=https://management.core.windows.net/ and the other ARM spellings: each aud is accepted by ARM', () =>
  withSandbox(async (s, agent) => {
    const list = `${s.azure.baseUrl}/subscriptions?api-version=2022-12-01`;
    const token = async (form: Record<string, string>, v1: boolean) => {
      const r = await send(
        agent,
        'POST',
        `${s.microsoft.authorityHost}/${s.microsoft.tenantId}/oauth2/${v1 ? 'token' : 'v2.0/token'}`,
        { 'content-type': 'application/x-www-form-urlencoded' },
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: s.microsoft.apps.ticketloop.clientId,
          client_secret: s.microsoft.apps.ticketloop.clientSecret,
          ...form,
        }).toString(),
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.access_token as string;
    };
    for (const [form, v1, aud] of [
      [{ resource: 'https://management.core.windows.net/' }, true, 'https://management.core.windows.net/'],
      [{ scope: CLI_SCOPE }, false, 'https://management.core.windows.net/'],
      [{ scope: 'https://management.azure.com/.default' }, false, 'https://management.azure.com'],
    ] as const) {
      const t = await token(form, v1);
      assert.equal(decodeJwt(t).aud, aud, JSON.stringify(form));
      const r = await send(agent, 'GET', list, { authorization: `Bearer ${t}` });
      assert.equal(r.status, 200, `${JSON.stringify(form)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.value.length, 2);
    }
    // A Graph token is still refused, now with the audience code.
    const graph = await token({ scope: 'https://graph.microsoft.com/.default' }, false);
    const refused = await send(agent, 'GET', list, { authorization: `Bearer ${graph}` });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'InvalidAuthenticationTokenAudience');
  }));
