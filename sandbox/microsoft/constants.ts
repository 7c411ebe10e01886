/** Fixed identifiers of the sandbox's demo tenant, so config files and docs can name them. */

export const TENANT_ID = '5e1d7c0a-7c3b-4f0e-9a57-1c2b3d4e5f60';
export const TENANT_DOMAIN = 'ticketloopsandbox.onmicrosoft.com';

/** Ticketloop's own confidential client in the demo tenant (Graph: EntitlementManagement.ReadWrite.All, ServiceHealth.Read.All, ServiceMessage.Read.All). */
export const TICKETLOOP_APP = {
  clientId: 'c0ffee00-7e57-4c1a-9a11-5a4db0c1e7a1',
  clientSecret: 'tl~sandbox.DemoSecret-0nly_for_the_sandbox',
  displayName: 'Ticketloop (sandbox)',
};

/** First-party "Azure AD Identity Governance - Entitlement Management" app: the callout token's appid/azp. */
export const EM_APP_ID = '810dcf14-1858-4bf2-8134-4c369fa3235b';
/** Its service principal's object id in the demo tenant (the callout token's oid). */
export const EM_SP_OBJECT_ID = '3b9f1e2d-8c4a-4d6e-b0f1-2a3c4d5e6f70';

export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const ARM_RESOURCE = 'https://management.azure.com';

export const EM_READWRITE = 'EntitlementManagement.ReadWrite.All';
export const EM_READ = 'EntitlementManagement.Read.All';
/** Service communications (service health, message center): the Ticketloop app holds both by default. */
export const SERVICE_HEALTH_READ = 'ServiceHealth.Read.All';
export const SERVICE_MESSAGE_READ = 'ServiceMessage.Read.All';
export const SERVICE_COMMUNICATIONS_READ = [SERVICE_HEALTH_READ, SERVICE_MESSAGE_READ];

/** Demo users, so assignment targets resolve to names and mail addresses in callouts. */
export const DEMO_USERS = [
  {
    id: 'a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01',
    displayName: 'Adele Vance',
    mail: 'adele.vance@ticketloopsandbox.onmicrosoft.com',
  },
  {
    id: 'a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a02',
    displayName: 'Alex Wilber',
    mail: 'alex.wilber@ticketloopsandbox.onmicrosoft.com',
  },
  {
    id: 'a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03',
    displayName: 'Megan Bowen',
    mail: 'megan.bowen@ticketloopsandbox.onmicrosoft.com',
  },
  {
    id: 'a1b2c3d4-0004-4e5f-8a9b-0c1d2e3f4a04',
    displayName: 'Nestor Wilke',
    mail: 'nestor.wilke@ticketloopsandbox.onmicrosoft.com',
  },
].map((u) => ({ ...u, userPrincipalName: u.mail }));

/** Groups of the demo tenant: Ticketloop's sign-in maps them to roles (the demo configuration does). */
export const DEMO_GROUPS = [
  {
    id: 'b7a1e000-0001-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Ticketloop Admins',
    members: ['a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a01'],
  },
  {
    id: 'b7a1e000-0002-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Ticketloop Operators',
    members: ['a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a02'],
  },
  {
    id: 'b7a1e000-0003-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Ticketloop Auditors',
    members: ['a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03'],
  },
  {
    // Everyone, and mapped to nothing: Nestor Wilke is only here, so he may not sign in to Ticketloop.
    id: 'b7a1e000-0004-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'All Staff',
    members: DEMO_USERS.map((u) => u.id),
  },
];

/** Where Ticketloop's sign-in comes back; any port on a loopback host is accepted, as Entra does. */
export const TICKETLOOP_REDIRECT_URIS = ['http://localhost/auth/oidc/callback', 'http://127.0.0.1/auth/oidc/callback'];

/**
 * Resource groups of the demo tenant: what permissions on demand grants membership of. Prod
 * Break-glass starts empty (PIM for Groups makes its members); Finance Readers has Megan already.
 */
export const RESOURCE_GROUPS = [
  {
    id: 'b7a1e000-0101-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Finance Readers',
    description: 'Read access to the finance reports and their storage.',
    members: ['a1b2c3d4-0003-4e5f-8a9b-0c1d2e3f4a03'],
  },
  {
    id: 'b7a1e000-0102-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Prod Break-glass',
    description: 'Emergency administrative access to production. Time-bound membership only.',
    members: [],
  },
  {
    id: 'b7a1e000-0103-4c1a-9a11-5a4db0c1e7a1',
    displayName: 'Storage Contributors',
    description: 'Write access to the shared storage accounts (people and workloads).',
    members: [],
  },
];

/** The Graph application permissions of groups and PIM for Groups (group-*.md, privilegedaccessgroup-*.md). */
export const GROUP_PERMISSIONS = {
  read: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'Directory.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Directory.ReadWrite.All',
  ],
  writeMembers: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  writeGroup: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  create: ['Group.Create', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  /** Adding a service principal also needs the right to change it (group-post-members.md). */
  writeServicePrincipalMember: ['Application.ReadWrite.All', 'Directory.ReadWrite.All'],
  pimRead: [
    'PrivilegedAssignmentSchedule.Read.AzureADGroup',
    'PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup',
    'PrivilegedAccess.Read.AzureADGroup',
    'PrivilegedAccess.ReadWrite.AzureADGroup',
  ],
  pimWrite: ['PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup', 'PrivilegedAccess.ReadWrite.AzureADGroup'],
};
