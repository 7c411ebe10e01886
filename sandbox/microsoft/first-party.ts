import { EM_APP_ID, EM_SP_OBJECT_ID, GRAPH_APP_ID } from './constants.ts';
import { stableGuid } from './entra.ts';

/**
 * Microsoft's own service principals in the demo tenant, as `GET /servicePrincipals` lists them.
 * App ids and Graph's app role ids are Microsoft's (the same in every tenant); object ids are the
 * tenant's own, derived here as Entra derives unregistered callers' `oid`.
 */

/** Microsoft's first-party apps live in this tenant ("Microsoft Services"). */
export const MICROSOFT_SERVICES_TENANT = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';
/** Azure Resource Manager's app ("Windows Azure Service Management API"). */
export const ARM_APP_ID = '797f4846-ba00-4fd7-ba43-dac1f8f63013';

export interface AppRole {
  allowedMemberTypes: string[];
  description: string;
  displayName: string;
  id: string;
  isEnabled: boolean;
  origin: string;
  value: string;
}

const role = (value: string, id: string, displayName: string, description: string): AppRole => ({
  allowedMemberTypes: ['Application'],
  description,
  displayName,
  id,
  isEnabled: true,
  origin: 'Application',
  value,
});

/** The Graph application permissions the sandbox checks (of Graph's several hundred). */
export const GRAPH_APP_ROLES: AppRole[] = [
  role(
    'EntitlementManagement.Read.All',
    'c74fd47d-ed3c-45c3-9a9e-b8676de685d2',
    'Read all entitlement management resources',
    'Allows the app to read access packages and related entitlement management resources without a signed-in user.',
  ),
  role(
    'EntitlementManagement.ReadWrite.All',
    '9acd699f-1e81-4958-b001-93b1d2506e19',
    'Read and write all entitlement management resources',
    'Allows the app to read and write access packages and related entitlement management resources without a signed-in user.',
  ),
  role(
    'ServiceHealth.Read.All',
    '79c261e0-fe76-4144-aad5-bdc68fbe4037',
    'Read service health',
    "Allows the app to read your tenant's service health information, without a signed-in user.",
  ),
  role(
    'ServiceMessage.Read.All',
    '1b620472-6534-4fe6-9df2-4680e8aa28ec',
    'Read service messages',
    "Allows the app to read your tenant's service announcement messages, without a signed-in user. Messages may include information about new or changed features.",
  ),
  role(
    'User.Read.All',
    'df021288-bdef-4463-88db-98f22de89214',
    'Read all users’ full profiles',
    'Allows the app to read user profiles without a signed in user.',
  ),
  role(
    'Directory.Read.All',
    '7ab1d382-f21e-4acd-a863-ba3e13f7da61',
    'Read directory data',
    'Allows the app to read data in your organization’s directory, such as users, groups and apps, without a signed-in user.',
  ),
  role(
    'Application.Read.All',
    '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30',
    'Read all applications',
    'Allows the app to read all applications and service principals without a signed-in user.',
  ),
];

export interface ServicePrincipalSeed {
  id: string;
  appId: string;
  displayName: string;
  appOwnerOrganizationId: string;
  servicePrincipalNames: string[];
  appRoles: AppRole[];
  signInAudience: string;
}

const firstParty = (
  appId: string,
  displayName: string,
  names: string[],
  appRoles: AppRole[] = [],
  id = stableGuid(`sp:${appId}`),
): ServicePrincipalSeed => ({
  id,
  appId,
  displayName,
  appOwnerOrganizationId: MICROSOFT_SERVICES_TENANT,
  servicePrincipalNames: [appId, ...names],
  appRoles,
  signInAudience: 'AzureADMultipleOrgs',
});

export const FIRST_PARTY_SERVICE_PRINCIPALS: ServicePrincipalSeed[] = [
  firstParty(
    GRAPH_APP_ID,
    'Microsoft Graph',
    ['https://graph.microsoft.com', 'https://graph.microsoft.com/', 'https://graph.microsoft.us'],
    GRAPH_APP_ROLES,
  ),
  firstParty(ARM_APP_ID, 'Windows Azure Service Management API', [
    'https://management.azure.com/',
    'https://management.core.windows.net/',
  ]),
  firstParty(EM_APP_ID, 'Azure AD Identity Governance - Entitlement Management', [], [], EM_SP_OBJECT_ID),
];
