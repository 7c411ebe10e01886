import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO } from '../../sandbox/azure/index.ts';
import { HttpError } from '../../src/engine/errors.ts';
import { armError } from '../../src/connectors/microsoft/arm.ts';
import { startHarness } from './helpers.ts';

const KEY = '6634ff9f-127b-4bf2-8e6e-b1737f5e789c';
const path = (scope: string, name: string, key?: string) =>
  `${scope}/providers/Microsoft.Security/assessments/${name}/governanceAssignments${key ? `/${key}` : ''}?api-version=2022-01-01-preview`;

const example = JSON.parse(
  readFileSync(
    new URL('./fixtures/security-PutGovernanceAssignment_example-2022-01-01-preview.json', import.meta.url),
    'utf8',
  ),
);

test('PUT/GET/list/DELETE a governance assignment exactly as the spec example (raw HTTPS)', async () => {
  const h = await startHarness();
  try {
    const body = example.parameters.governanceAssignment;
    const created = await h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, KEY), { json: body });
    assert.equal(created.status, 201);
    const expected = example.responses['201'].body;
    assert.deepEqual(created.body, {
      ...expected,
      id: `${DEMO.vm}/providers/Microsoft.Security/assessments/${DEMO.systemUpdates}/governanceAssignments/${KEY}`,
    });

    const updated = await h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, KEY), {
      json: { properties: { ...body.properties, owner: 'someone@contoso.com' } },
    });
    assert.equal(updated.status, 200);
    const got = await h.call('GET', path(DEMO.vm, DEMO.systemUpdates, KEY));
    assert.equal(got.body.properties.owner, 'someone@contoso.com');
    assert.equal(got.body.type, 'Microsoft.Security/assessments/governanceAssignments');

    // Paged list: 3 more, $top=2.
    for (const k of ['a1', 'a2', 'a3']) {
      const r = await h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, k), {
        json: { properties: { remediationDueDate: '2030-01-01T00:00:00Z' } },
      });
      assert.equal(r.status, 201);
    }
    const names: string[] = [];
    let url: string | undefined = path(DEMO.vm, DEMO.systemUpdates) + '&$top=2';
    while (url) {
      const r = await h.call('GET', url);
      names.push(...r.body.value.map((v: any) => v.name));
      url = r.body.nextLink;
    }
    assert.deepEqual(names, [KEY, 'a1', 'a2', 'a3']);

    const del = await h.call('DELETE', path(DEMO.vm, DEMO.systemUpdates, KEY));
    assert.equal(del.status, 200);
    const again = await h.call('DELETE', path(DEMO.vm, DEMO.systemUpdates, KEY));
    assert.equal(again.status, 204);
    const gone = await h.call('GET', path(DEMO.vm, DEMO.systemUpdates, KEY));
    assert.equal(gone.status, 404);

    // Subscription scope is accepted too (the spec's text); unknown resources are not.
    const subScope = await h.call('PUT', path(`/subscriptions/${DEMO.prodSubscription}`, DEMO.systemUpdates, 'k1'), {
      json: { properties: { remediationDueDate: '2030-01-01T00:00:00Z' } },
    });
    assert.equal(subScope.status, 201);
    // Listing at subscription scope covers the resources inside it.
    const inSub = await h.call('GET', path(`/subscriptions/${DEMO.prodSubscription}`, DEMO.systemUpdates));
    assert.deepEqual(inSub.body.value.map((v: any) => v.name).sort(), ['a1', 'a2', 'a3', 'k1']);
    const otherSub = await h.call('GET', path(`/subscriptions/${DEMO.devSubscription}`, DEMO.systemUpdates));
    assert.deepEqual(otherSub.body.value, []);
    const noResource = await h.call(
      'PUT',
      path(
        `/subscriptions/${DEMO.prodSubscription}/resourceGroups/x/providers/Microsoft.Compute/virtualMachines/nope`,
        DEMO.systemUpdates,
        'k2',
      ),
      {
        json: { properties: { remediationDueDate: '2030-01-01T00:00:00Z' } },
      },
    );
    assert.equal(noResource.status, 404);
  } finally {
    await h.close();
  }
});

test('validation: remediationDueDate required, remediationEta needs both fields, ticketNumber is int32 ≥ 0', async () => {
  const h = await startHarness();
  try {
    const put = (properties: unknown) =>
      h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, KEY), { json: { properties } });
    const due = '2030-01-01T00:00:00Z';
    const cases: Array<[unknown, string]> = [
      [{ owner: 'a@b.c' }, 'properties.remediationDueDate'],
      [{ remediationDueDate: 'next week' }, 'properties.remediationDueDate'],
      [{ remediationDueDate: due, remediationEta: { eta: due } }, 'properties.remediationEta'],
      [{ remediationDueDate: due, remediationEta: { justification: 'x' } }, 'properties.remediationEta'],
      [
        { remediationDueDate: due, additionalData: { ticketNumber: 'INC0010001' } },
        'properties.additionalData.ticketNumber',
      ],
      [
        { remediationDueDate: due, additionalData: { ticketNumber: '10001' } },
        'properties.additionalData.ticketNumber',
      ],
      [{ remediationDueDate: due, additionalData: { ticketNumber: -1 } }, 'properties.additionalData.ticketNumber'],
      [
        { remediationDueDate: due, additionalData: { ticketNumber: 2_147_483_648 } },
        'properties.additionalData.ticketNumber',
      ],
      [{ remediationDueDate: due, additionalData: { ticketNumber: 1.5 } }, 'properties.additionalData.ticketNumber'],
      [{ remediationDueDate: due, isGracePeriod: 'yes' }, 'properties.isGracePeriod'],
    ];
    for (const [props, target] of cases) {
      const r = await put(props);
      assert.equal(r.status, 400, JSON.stringify(props));
      assert.equal(r.body.error.target, target, JSON.stringify(props));
      assert.ok(Array.isArray(r.body.error.details));
    }
    const noProps = await h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, KEY), { json: {} });
    assert.equal(noProps.status, 400);
    const max = await put({
      remediationDueDate: due,
      additionalData: { ticketNumber: 2_147_483_647, ticketLink: 'https://x', ticketStatus: 'New' },
    });
    assert.equal(max.status, 201);
    const zero = await put({ remediationDueDate: due, additionalData: { ticketNumber: 0 } });
    assert.equal(zero.status, 200);
    const broken = await h.call('PUT', path(DEMO.vm, DEMO.systemUpdates, KEY), {
      headers: { 'content-type': 'application/json' },
      json: undefined,
    });
    assert.ok(broken.status >= 400 && broken.status < 500);
  } finally {
    await h.close();
  }
});

test('connector: put/get/list/delete governance assignments; ARM errors surface as HttpError with the ARM code', async () => {
  const h = await startHarness();
  try {
    const arm = h.client();
    const props = {
      owner: 'ops@contoso.com',
      remediationDueDate: '2030-01-07T13:00:00.000Z',
      additionalData: {
        ticketNumber: 10001,
        ticketLink: 'https://snow.example/INC0010001',
        ticketStatus: 'INC0010001 New',
      },
    };
    const first = await arm.putGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY, props);
    assert.equal(first.created, true);
    assert.deepEqual(first.assignment.properties, props);
    const second = await arm.putGovernanceAssignment(DEMO.vm.slice(1), DEMO.systemUpdates, KEY, {
      ...props,
      isGracePeriod: true,
    });
    assert.equal(second.created, false, 'scope without leading slash addresses the same assignment');
    assert.equal((await arm.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY))?.properties.isGracePeriod, true);
    assert.equal(await arm.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, 'missing'), undefined);

    const listed = [];
    for await (const page of arm.listGovernanceAssignments(DEMO.vm, DEMO.systemUpdates)) listed.push(...page.value);
    assert.deepEqual(
      listed.map((a) => a.name),
      [KEY],
    );

    await assert.rejects(
      arm.putGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY, {
        ...props,
        additionalData: { ticketNumber: 'INC0010001' as unknown as number },
      }),
      (e: unknown) => {
        assert.ok(e instanceof HttpError);
        assert.equal(e.status, 400);
        assert.equal(e.retryable, false);
        assert.equal(armError(e)?.code, 'InvalidInput');
        return true;
      },
    );
    assert.equal(await arm.deleteGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY), true);
    assert.equal(await arm.deleteGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY), false);
  } finally {
    await h.close();
  }
});

test('governance assignments persist across a restart', async () => {
  const h = await startHarness();
  try {
    const arm = h.client();
    await arm.putGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY, {
      remediationDueDate: '2030-01-01T00:00:00Z',
      additionalData: { ticketNumber: 7 },
    });
    await h.restart();
    const again = h.client();
    const got = await again.getGovernanceAssignment(DEMO.vm, DEMO.systemUpdates, KEY);
    assert.equal(got?.properties.additionalData?.ticketNumber, 7);
  } finally {
    await h.close();
  }
});
