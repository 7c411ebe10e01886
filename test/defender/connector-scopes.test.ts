import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO } from '../../sandbox/azure/seed.ts';
import { governanceKey } from '../../src/flows/defender/effects.ts';
import { base, startDefenderEnv, type DefenderEnv } from './helpers.ts';

// Issue #16 item 7: security connector and master connector scopes through the whole flow, and
// change requests and problems opened, linked back and resolved, not only incidents.

const RG = `/subscriptions/${DEMO.prodSubscription}/resourceGroups/rg-multicloud/providers/Microsoft.Security/securityConnectors`;
const MASTER = `${RG}/aws-org`;
const MEMBER = `${RG}/aws-org-member`;
const STRANGER = `${RG}/aws-other-org-member`;
/** The AWS recommendation the demo already has unhealthy on aws-prod (EBS snapshots). */
const AWS_KEY = '02e8de17-1a01-45cb-b906-6d07a78f4b3c';
const entity = (connector: string, name: string) => `${connector}/securityentitydata/${name}`;

async function organization(env: DefenderEnv) {
  const admin = `${env.sandbox.azure.baseUrl}/_sandbox/azure`;
  const connector = (name: string, hierarchyIdentifier: string, extra: Record<string, unknown>) =>
    env.http('POST', `${admin}/securityConnectors`, {
      environment: 'AWS',
      subscriptionId: DEMO.prodSubscription,
      resourceGroup: 'rg-multicloud',
      name,
      hierarchyIdentifier,
      ...extra,
    });
  await connector('aws-org', '111111111111', { organizationMembershipType: 'Organization' });
  await connector('aws-org-member', '222222222222', {
    organizationMembershipType: 'Member',
    parentHierarchyId: '111111111111',
  });
  await connector('aws-other-org-member', '333333333333', {
    organizationMembershipType: 'Member',
    parentHierarchyId: '999999999999',
  });
  for (const [connectorId, name] of [
    [MASTER, 'aws-ebs-snapshot-snap-master'],
    [MEMBER, 'aws-ebs-snapshot-snap-member'],
    [STRANGER, 'aws-ebs-snapshot-snap-stranger'],
  ])
    await env.http('POST', `${admin}/assessments`, {
      connectorId,
      entity: name,
      assessmentName: AWS_KEY,
      status: 'Unhealthy',
    });
}

const flip = (env: DefenderEnv, resourceId: string, status: string) =>
  env.http('POST', `${env.sandbox.azure.baseUrl}/_sandbox/azure/assessments/flip`, {
    resourceId,
    assessmentName: AWS_KEY,
    status,
  });

test('a master connector scope covers its members (change requests); a connector scope its own (problems)', async () => {
  const env = await startDefenderEnv([
    base('org', { scope: MASTER, grouping: 'resource', ticketType: 'change_request' }),
    base('conn', { scope: DEMO.awsConnector, grouping: 'resource', ticketType: 'problem' }),
  ]);
  try {
    await organization(env);
    const org = await env.reconcile('org');
    assert.equal(org.unhealthy, 2, 'the master and its member, not the other organization');
    const conn = await env.reconcile('conn');
    assert.equal(conn.unhealthy, 1, 'aws-prod alone');
    await env.drain();

    const byResource = async (prefix: string) =>
      new Map((await env.items(prefix)).map((x) => [x.s.resourceId!, { ...x.s, id: x.id }]));
    const changes = await byResource('org:');
    assert.deepEqual(
      [...changes.keys()].sort(),
      [entity(MASTER, 'aws-ebs-snapshot-snap-master'), entity(MEMBER, 'aws-ebs-snapshot-snap-member')].sort(),
    );
    const memberResource = entity(MEMBER, 'aws-ebs-snapshot-snap-member');
    const change = changes.get(memberResource)!;
    assert.equal(change.status, 'ticket_open');
    assert.match(change.ticket!.key, /^CHG/);
    const chg = (await env.snAsAgent('GET', `/api/now/table/change_request/${change.ticket!.id}`)).result;
    assert.equal(chg.correlation_id, `tl:defender:${change.id}`);
    const arm = env.app.connections.microsoft().arm;
    const govKey = governanceKey('org', memberResource, AWS_KEY);
    const gov = (await arm.getGovernanceAssignment(memberResource, AWS_KEY, govKey))!;
    assert.equal(gov.properties.additionalData?.ticketLink, change.ticket!.link);
    assert.match(gov.properties.additionalData?.ticketStatus ?? '', new RegExp(`^Active \\(${change.ticket!.key}\\)$`));

    const [problem] = (await env.items('conn:')).map((x) => x.s);
    assert.equal(problem.resourceId, entity(DEMO.awsConnector, 'aws-ebs-snapshot-snap-0a1b2c3d4e5f67890'));
    assert.match(problem.ticket!.key, /^PRB/);

    // Fixed in AWS → the change request and the problem are resolved, their governance assignments gone.
    await flip(env, memberResource, 'Healthy');
    await flip(env, problem.resourceId!, 'Healthy');
    assert.equal((await env.reconcile('org')).healed, 1);
    assert.equal((await env.reconcile('conn')).healed, 1);
    await env.drain();
    const resolvedChange = (await byResource('org:')).get(memberResource)!;
    assert.equal(resolvedChange.status, 'resolved');
    // A change request has no Resolved state: resolving one closes it (state 3, close_code from closeOut).
    assert.equal(resolvedChange.ticket!.status, 'closed');
    const chgAfter = (await env.snAsAgent('GET', `/api/now/table/change_request/${change.ticket!.id}`)).result;
    assert.match(chgAfter.close_notes, /healthy/);
    assert.equal(chgAfter.close_code, 'successful');
    assert.equal(await arm.getGovernanceAssignment(memberResource, AWS_KEY, govKey), undefined);
    assert.equal((await byResource('org:')).get(entity(MASTER, 'aws-ebs-snapshot-snap-master'))!.status, 'ticket_open');
    const [resolvedProblem] = (await env.items('conn:')).map((x) => x.s);
    assert.equal(resolvedProblem.status, 'resolved');
    const prb = (await env.snAsAgent('GET', `/api/now/table/problem/${problem.ticket!.id}`)).result;
    assert.equal(prb.resolution_code, 'fix_applied');
  } finally {
    await env.close();
  }
});
