import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO, startAzureSandbox } from '../../sandbox/azure/index.ts';
import { startMicrosoftSandbox } from '../../sandbox/microsoft/index.ts';
import { OffsetClock } from '../../sandbox/shared/clock.ts';
import { ensureSandboxTls } from '../../sandbox/shared/tls.ts';
import { HttpClient, type AuthProvider } from '../../src/connectors/http.ts';
import { HttpError } from '../../src/engine/errors.ts';
import { ARM_SCOPE, ArmClient, armError } from '../../src/connectors/microsoft/arm.ts';

test('Entra (Microsoft sandbox) client-credentials token for ARM is accepted; a Graph token is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-az-ms-'));
  const tls = ensureSandboxTls(join(dir, 'tls'));
  const clock = new OffsetClock();
  const ms = await startMicrosoftSandbox({ dataDir: dir, tls, clock });
  const az = await startAzureSandbox({
    dataDir: dir,
    tls,
    clock,
    verifyBearer: (t) => ms.entra.verifyAccessToken(t, { audience: 'https://management.azure.com' }),
  });
  const login = new HttpClient({ upstream: 'entra', baseUrl: ms.authorityHost, ca: tls.ca });
  const tokenFor = (scope: string): AuthProvider => ({
    async headers() {
      const r = await login.request<{ access_token: string }>({
        method: 'POST',
        path: `/${ms.tenantId}/oauth2/v2.0/token`,
        noAuth: true,
        form: {
          grant_type: 'client_credentials',
          client_id: ms.apps.ticketloop.clientId,
          client_secret: ms.apps.ticketloop.clientSecret,
          scope,
        },
      });
      return { authorization: `Bearer ${r.body.access_token}` };
    },
  });
  const arm = new ArmClient({ baseUrl: az.baseUrl, ca: tls.ca, auth: tokenFor(ARM_SCOPE) });
  const graphArm = new ArmClient({
    baseUrl: az.baseUrl,
    ca: tls.ca,
    auth: tokenFor('https://graph.microsoft.com/.default'),
  });
  try {
    let n = 0;
    for await (const page of arm.listAssessments(`/subscriptions/${DEMO.prodSubscription}`)) n += page.value.length;
    assert.equal(n, 16);
    const put = await arm.putGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, 'entra-key', {
      remediationDueDate: '2030-01-01T00:00:00Z',
    });
    assert.equal(put.created, true);

    await assert.rejects(graphArm.getAssessmentMetadata(), (e: unknown) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 401);
      assert.equal(armError(e)?.code, 'InvalidAuthenticationTokenAudience');
      return true;
    });
  } finally {
    await Promise.all([arm.close(), graphArm.close(), login.close()]);
    await az.close();
    await ms.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
