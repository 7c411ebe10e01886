import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO } from '../../sandbox/azure/index.ts';
import { HttpError } from '../../src/engine/errors.ts';
import { nextAttemptAt } from '../../src/engine/retry.ts';
import { armError } from '../../src/connectors/microsoft/arm.ts';
import { signToken, startHarness } from './helpers.ts';

test('429 from ARM: throttling body + headers; the connector surfaces it with Retry-After and the retry policy honours it', async () => {
  const h = await startHarness();
  try {
    h.sb.faults.update({ burst429: 1, retryAfterSeconds: 1 });
    const raw = await h.call(
      'GET',
      `/subscriptions/${DEMO.prodSubscription}/providers/Microsoft.Security/assessments?api-version=2025-05-04`,
    );
    assert.equal(raw.status, 429);
    assert.equal(raw.headers['retry-after'], '1');
    assert.equal(raw.headers['x-ms-ratelimit-remaining-subscription-reads'], '0');
    assert.equal(raw.body.error.code, 'OperationNotAllowed');
    assert.equal(raw.body.error.details[0].code, 'TooManyRequests');

    // The client does not sleep on it: the 429 surfaces, retryable, with its Retry-After, and the
    // engine's one retry policy schedules the next attempt that far out.
    h.sb.faults.update({ burst429: 5, retryAfterSeconds: 1 });
    const arm = h.client();
    let failure: unknown;
    await assert.rejects(arm.getAssessmentMetadata(), (e: unknown) => {
      failure = e;
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 429);
      assert.equal(e.retryable, true);
      assert.equal(e.retryAfterMs, 1000);
      assert.equal(armError(e)?.code, 'OperationNotAllowed');
      return true;
    });
    assert.equal(nextAttemptAt(failure, 1, 1_000_000, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 }), 1_001_000);
    assert.equal(h.sb.faults.injected.rateLimited, 2, 'one call, one 429: nothing retried inline');
  } finally {
    await h.close();
  }
});

test('connector: pages, both api-versions, metadata, one assessment; 401 drops the cached token once', async () => {
  const h = await startHarness();
  try {
    await h.admin('/generate', { subscriptionId: 'conn-sub', count: 2500, recommendations: 5, seed: 9 });
    const arm = h.client();
    const sizes: number[] = [];
    for await (const page of arm.listAssessments('subscriptions/conn-sub', {
      pageSize: 1000,
      apiVersion: '2021-06-01',
    })) {
      sizes.push(page.value.length);
      assert.ok(page.value.every((a) => a.properties.risk === undefined));
    }
    assert.deepEqual(sizes, [1000, 1000, 500]);

    const meta = await arm.getAssessmentMetadata();
    assert.ok(meta.length >= 10);
    assert.ok(meta.find((m) => m.name === DEMO.systemUpdates)?.properties.severity === 'High');
    assert.equal(
      (await arm.getAssessmentMetadataByName(DEMO.systemUpdates))?.properties.displayName,
      'System updates should be installed on your machines',
    );
    assert.equal(await arm.getAssessmentMetadataByName('nope'), undefined);

    const one = await arm.getAssessment(DEMO.vm, DEMO.systemUpdates, { expandMetadata: true });
    assert.equal(one?.properties.metadata?.severity, 'High');
    assert.equal(await arm.getAssessment(DEMO.vm, '00000000-0000-0000-0000-000000000000'), undefined);

    // A stale token: first call gets 401, the provider is invalidated and the retry carries a fresh one.
    let stale = true;
    let invalidated = 0;
    const flaky = h.client({
      auth: {
        headers: async () => ({
          authorization: `Bearer ${stale ? 'stale.token.x' : await signToken({ now: h.clock.now() })}`,
        }),
        invalidate: () => {
          invalidated++;
          stale = false;
        },
      },
    });
    const pages = [];
    for await (const p of flaky.listAssessments(`/subscriptions/${DEMO.devSubscription}`)) pages.push(p);
    assert.equal(invalidated, 1);
    assert.equal(pages[0].value.length, 3);

    const unknown = h.client();
    await assert.rejects(
      (async () => {
        for await (const _ of unknown.listAssessments('/subscriptions/nope')) void _;
      })(),
      (e: unknown) => armError(e)?.code === 'SubscriptionNotFound' && (e as HttpError).status === 404,
    );
  } finally {
    await h.close();
  }
});
