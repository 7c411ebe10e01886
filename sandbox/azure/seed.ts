import type { Tenant } from './hierarchy.ts';
import type { AzureStore, StoredAssessment } from './store.ts';

/**
 * The small demo tenant a fresh sandbox starts with: Tenant Root Group → one management group →
 * two subscriptions, a few resource groups with VMs / storage accounts / a SQL server / a Redis
 * cache, an AWS and a GCP security connector, and a mix of healthy and unhealthy real-world
 * recommendations on them.
 */

/** The Microsoft sandbox's demo tenant (same id and domain), so ARM and Entra describe one tenant. */
export const DEMO_TENANT: Tenant = {
  tenantId: '5e1d7c0a-7c3b-4f0e-9a57-1c2b3d4e5f60',
  displayName: 'Ticketloop Sandbox',
  defaultDomain: 'ticketloopsandbox.onmicrosoft.com',
};

export const DEMO = {
  managementGroup: 'contoso-root',
  prodSubscription: '6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f',
  devSubscription: 'b2d4f6a8-1c3e-4a5b-8d7f-9e0a1b2c3d4e',
  awsConnector:
    '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f/resourceGroups/rg-multicloud/providers/Microsoft.Security/securityConnectors/aws-prod',
  gcpConnector:
    '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f/resourceGroups/rg-multicloud/providers/Microsoft.Security/securityConnectors/gcp-analytics',
  /** A VM with an unhealthy "System updates" assessment: a handy target for governance tests. */
  vm: '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01',
  systemUpdates: '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27',
};

const DAY = 86_400_000;

/** The demo subscriptions' resource groups (the assessed resources live in them). */
const DEMO_RESOURCE_GROUPS = [
  { subscriptionId: DEMO.prodSubscription, name: 'rg-web', location: 'westeurope', tags: { env: 'prod' } },
  { subscriptionId: DEMO.prodSubscription, name: 'rg-data', location: 'westeurope', tags: { env: 'prod' } },
  { subscriptionId: DEMO.prodSubscription, name: 'rg-multicloud', location: 'westeurope' },
  { subscriptionId: DEMO.devSubscription, name: 'rg-dev', location: 'northeurope', tags: { env: 'dev' } },
];

/** Add the demo resource groups that are missing (databases seeded before they existed lack them). */
export function ensureDemoResourceGroups(store: AzureStore): void {
  for (const g of DEMO_RESOURCE_GROUPS)
    if (store.subscription(g.subscriptionId) && !store.resourceGroup(g.subscriptionId, g.name))
      store.putResourceGroup(g);
}

export function seedDemo(store: AzureStore, now: number): void {
  const prod = DEMO.prodSubscription;
  const dev = DEMO.devSubscription;
  const iso = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString();
  const res = (sub: string, rg: string, type: string, name: string) =>
    `/subscriptions/${sub}/resourceGroups/${rg}/providers/${type}/${name}`;
  const vm = (sub: string, rg: string, n: string) => res(sub, rg, 'Microsoft.Compute/virtualMachines', n);
  const st = (sub: string, rg: string, n: string) => res(sub, rg, 'Microsoft.Storage/storageAccounts', n);

  type Row = [
    sub: string,
    resourceId: string,
    name: string,
    code: StoredAssessment['code'],
    ageDays: number,
    cause?: string,
  ];
  const rows: Row[] = [
    [prod, DEMO.vm, '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27', 'Unhealthy', 12],
    [prod, DEMO.vm, '1195afff-c881-495e-9bc5-1486211ae03f', 'Unhealthy', 30],
    [prod, vm(prod, 'rg-web', 'vm-web-02'), '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27', 'Healthy', 40],
    [prod, vm(prod, 'rg-web', 'vm-web-02'), '1195afff-c881-495e-9bc5-1486211ae03f', 'Unhealthy', 5],
    [prod, st(prod, 'rg-data', 'stcontosodata'), 'ad4f3ff1-30eb-5042-16ed-27198f640b8d', 'Unhealthy', 60],
    [prod, st(prod, 'rg-data', 'stcontosodata'), 'cdc78c07-02b0-4af0-1cb2-cb7c672a8b0a', 'Unhealthy', 60],
    [prod, st(prod, 'rg-data', 'stcontosodata'), '3b363842-30f5-4056-980d-3a40fa5de8b3', 'Healthy', 60],
    [prod, st(prod, 'rg-data', 'stcontosologs'), 'ad4f3ff1-30eb-5042-16ed-27198f640b8d', 'Healthy', 45],
    [
      prod,
      st(prod, 'rg-data', 'stcontosologs'),
      'cdc78c07-02b0-4af0-1cb2-cb7c672a8b0a',
      'NotApplicable',
      45,
      'OffByPolicy',
    ],
    [
      prod,
      res(prod, 'rg-data', 'Microsoft.Sql/servers', 'sql-orders'),
      'f0553104-cfdb-65e6-759c-002812e38500',
      'Unhealthy',
      20,
    ],
    [
      prod,
      res(prod, 'rg-data', 'Microsoft.Sql/servers', 'sql-orders'),
      '1db4f204-cb5a-4c9c-9254-7556403ce51c',
      'Healthy',
      20,
    ],
    [
      prod,
      res(prod, 'rg-web', 'Microsoft.Cache/Redis', 'redis-sessions'),
      '35b25be2-d08a-e340-45ed-f08a95d804fc',
      'Unhealthy',
      3,
    ],
    [prod, `/subscriptions/${prod}`, '77758c9d-8a56-5f54-6ff7-69a762ca6004', 'Healthy', 90],
    [dev, vm(dev, 'rg-dev', 'vm-build-01'), '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27', 'Unhealthy', 8],
    [dev, st(dev, 'rg-dev', 'stcontosodev'), '3b363842-30f5-4056-980d-3a40fa5de8b3', 'Unhealthy', 15],
    [dev, `/subscriptions/${dev}`, '77758c9d-8a56-5f54-6ff7-69a762ca6004', 'Unhealthy', 90],
  ];

  store.docs.transaction(() => {
    store.putSubscription({ subscriptionId: prod, displayName: 'Contoso Production' });
    store.putSubscription({ subscriptionId: dev, displayName: 'Contoso Development' });
    store.putManagementGroup({
      name: DEMO.managementGroup,
      displayName: 'Contoso',
      subscriptions: [prod, dev],
      updatedTime: iso(120),
    });
    ensureDemoResourceGroups(store);
    store.putConnector({
      id: DEMO.awsConnector,
      subscriptionId: prod,
      resourceGroup: 'rg-multicloud',
      name: 'aws-prod',
      environment: 'AWS',
      hierarchyIdentifier: '123456789012',
    });
    store.putConnector({
      id: DEMO.gcpConnector,
      subscriptionId: prod,
      resourceGroup: 'rg-multicloud',
      name: 'gcp-analytics',
      environment: 'GCP',
      hierarchyIdentifier: 'contoso-analytics',
    });
    for (const [sub, resourceId, name, code, age, cause] of rows) {
      store.putAssessment(sub, {
        resourceId,
        name,
        resourceDetails: { source: 'Azure', id: resourceId },
        code,
        cause,
        firstEvaluationDate: iso(age),
        statusChangeDate: iso(Math.min(age, 2)),
      });
    }
    addMulticloud(
      store,
      DEMO.awsConnector,
      'Aws',
      'aws-ebs-snapshot-snap-0a1b2c3d4e5f67890',
      '02e8de17-1a01-45cb-b906-6d07a78f4b3c',
      'Unhealthy',
      iso(10),
    );
    addMulticloud(
      store,
      DEMO.awsConnector,
      'Aws',
      'aws-rds-dbcluster-orders-aurora',
      'd0ef47dc-95aa-4765-a075-72c07df8acff',
      'Healthy',
      iso(10),
    );
    addMulticloud(
      store,
      DEMO.gcpConnector,
      'Gcp',
      'gcp-storage-bucket-contoso-exports',
      '5a4c1f0e-2b7d-4e61-9c3a-8f0d6b2e7a14',
      'Unhealthy',
      iso(4),
    );
  });
}

/**
 * An assessment of an AWS/GCP resource. Defender addresses such resources through the connector
 * (`…/securityConnectors/{name}/securityentitydata/{entity}`); resourceDetails carries the source
 * cloud's identifiers.
 */
export function addMulticloud(
  store: AzureStore,
  connectorId: string,
  source: 'Aws' | 'Gcp',
  entity: string,
  name: string,
  code: StoredAssessment['code'],
  date: string,
): void {
  const c = store.connector(connectorId);
  if (!c) throw new Error(`unknown connector ${connectorId}`);
  const resourceId = `${c.id}/securityentitydata/${entity}`;
  const details: Record<string, unknown> =
    source === 'Aws'
      ? {
          source,
          id: resourceId,
          connectorId: c.id,
          accountId: c.hierarchyIdentifier,
          region: 'us-east-1',
          awsResourceId: `arn:aws:::${c.hierarchyIdentifier}:${entity}`,
        }
      : { source, id: resourceId, connectorId: c.id, projectId: c.hierarchyIdentifier, gcpResourceId: `//${entity}` };
  store.putAssessment(c.subscriptionId, {
    resourceId,
    name,
    resourceDetails: details,
    code,
    firstEvaluationDate: date,
    statusChangeDate: date,
    connectorId: c.id,
  });
}
