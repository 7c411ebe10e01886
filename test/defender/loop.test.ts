import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { itemIdFor } from '../../src/flows/defender/assessments.ts';
import { base, startDefenderEnv } from './helpers.ts';

const SCOPE = `/subscriptions/${DEMO.prodSubscription}`;

test('open → governance link-back → healthy → resolve; an unchanged pass makes zero ServiceNow calls', async () => {
  const env = await startDefenderEnv([
    base('core', { scope: SCOPE, grouping: 'resource', remediationTimeframeDays: 10 }),
  ]);
  try {
    const i = env.app.config.integrations[0] as any;
    const first = await env.reconcile();
    // prod has 7 unhealthy Azure assessments (the multicloud ones live under the connectors' scope too).
    assert.ok(first.unhealthy >= 7, `unhealthy ${first.unhealthy}`);
    assert.equal(first.attached, first.unhealthy);
    await env.drain();

    const items = await env.items('core:');
    assert.equal(items.length, first.unhealthy, 'one item per unhealthy resource');
    assert.ok(items.every((x) => x.s.status === 'ticket_open' && x.s.ticket?.key.startsWith('INC')));

    // The ticket: owner, caller, texts from the assessment, correlation id.
    const vmItem = itemIdFor(i, DEMO.systemUpdates, DEMO.vm);
    const s = (await env.item(vmItem))!;
    const inc = (
      await env.snAsAgent('GET', `/api/now/table/incident/${s.ticket!.id}?sysparm_exclude_reference_link=true`)
    ).result;
    assert.equal(inc.correlation_id, `tl:defender:${vmItem}`);
    assert.match(inc.short_description, /System updates should be installed/);
    assert.match(inc.description, /vm-web-01/);
    const abel = (await env.snAsAgent('GET', '/api/now/table/sys_user?sysparm_query=user_name=abel.tuter')).result[0];
    assert.equal(inc.assigned_to, abel.sys_id);
    assert.equal(inc.caller_id, abel.sys_id);

    // The governance assignment written back on the assessed resource.
    const arm = env.app.connections.microsoft().arm;
    const gov = await arm.getGovernanceAssignment(
      DEMO.vm,
      DEMO.systemUpdates,
      governanceKey('core', DEMO.vm, DEMO.systemUpdates),
    );
    assert.ok(gov, 'governance assignment exists');
    assert.equal(gov.properties.owner, 'abel.tuter@example.com');
    assert.equal(gov.properties.isGracePeriod, true);
    assert.equal(gov.properties.additionalData?.ticketNumber, Number(s.ticket!.key.replace(/\D/g, '')));
    assert.equal(gov.properties.additionalData?.ticketLink, s.ticket!.link);
    assert.match(gov.properties.additionalData?.ticketStatus ?? '', /^Active/);
    assert.equal(Date.parse(gov.properties.remediationDueDate), s.dueAt);
    assert.equal(s.dueAt, env.clock.now() + 10 * 86_400_000);

    // Unchanged: no ServiceNow call at all, ARM only pages the assessments.
    const before = env.calls.length;
    const again = await env.reconcile();
    await env.drain();
    const during = env.calls.slice(before);
    assert.equal(again.itemEvents, 0);
    assert.deepEqual(
      during.filter((c) => c.upstream === 'servicenow'),
      [],
      'no ServiceNow calls',
    );
    assert.ok(
      during.every(
        (c) =>
          c.upstream !== 'arm' || (c.method === 'GET' && c.url.includes('/providers/Microsoft.Security/assessments?')),
      ),
      'ARM: assessment pages only',
    );

    // Fixed in Defender → governance assignment deleted, ticket resolved with a note.
    await env.http('POST', `${env.sandbox.azure.baseUrl}/_sandbox/azure/assessments/flip`, {
      resourceId: DEMO.vm,
      assessmentName: DEMO.systemUpdates,
      status: 'Healthy',
    });
    const healed = await env.reconcile();
    assert.equal(healed.healed, 1);
    await env.drain();
    const after = (await env.item(vmItem))!;
    assert.equal(after.status, 'resolved');
    const resolved = (await env.snAsAgent('GET', `/api/now/table/incident/${s.ticket!.id}`)).result;
    assert.equal(resolved.state, '6');
    assert.match(resolved.close_notes, /healthy/);
    assert.equal(
      await arm.getGovernanceAssignment(
        DEMO.vm,
        DEMO.systemUpdates,
        governanceKey('core', DEMO.vm, DEMO.systemUpdates),
      ),
      undefined,
    );
    // The others stay open.
    assert.equal((await env.items('core:')).filter((x) => x.s.status === 'ticket_open').length, first.unhealthy - 1);
  } finally {
    await env.close();
  }
});
