import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DEMO } from '../../sandbox/azure/index.ts';
import { runSdkFixture, startHarness } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/sdk-check.ts', import.meta.url));

test('the official @azure/arm-security SDK lists assessments and writes a governance assignment against the sandbox', async () => {
  const h = await startHarness();
  try {
    await h.admin('/generate', { subscriptionId: 'sdk-paged', count: 2500, recommendations: 5 });
    const out = await runSdkFixture(h, fixture, {
      RESOURCE_ID: DEMO.vm,
      ASSESSMENT_NAME: DEMO.systemUpdates,
      ASSIGNMENT_KEY: 'b0f1c2d3-0000-4000-8000-000000000042',
      PAGED_SUBSCRIPTION_ID: 'sdk-paged',
    });
    assert.equal(out.count, 16);
    assert.equal(out.pages, 1);
    assert.deepEqual(out.paged, { count: 2500, pages: 3 });
    assert.match(out.first.id, /\/providers\/Microsoft\.Security\/assessments\//);
    assert.deepEqual(out.one, {
      displayName: 'System updates should be installed on your machines',
      status: 'Unhealthy',
      severity: 'High',
    });
    assert.equal(out.metadata.severity, 'High');
    assert.equal(out.governance.status, 201);
    assert.equal(out.governance.ticketNumber, 10042);

    // The write is visible through plain ARM.
    const got = await h.call(
      'GET',
      `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}/governanceAssignments/b0f1c2d3-0000-4000-8000-000000000042?api-version=2022-01-01-preview`,
    );
    assert.equal(got.body.properties.owner, 'sdk@contoso.com');
  } finally {
    await h.close();
  }
});
