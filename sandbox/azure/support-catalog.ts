/**
 * The seeded Microsoft.Support catalog: services a support ticket can be opened for and their problem
 * classifications (support.json 2024-04-01, `Service` / `ProblemClassification`). Billing, Subscription
 * management, Service and subscription limits and the two VM services carry the ids Azure's
 * ListServices example shows; the Entra ID (Azure Active Directory) and Storage ids and every
 * classification id are sandbox-made GUIDs — clients must discover them (`GET …/services`), as the
 * spec asks, never hard-code them.
 */

/** 2024-04-01 is the current stable version; 2020-04-01 is what @azure/arm-support 2.1 sends by default. */
export const SUPPORT_API_VERSIONS = ['2024-04-01', '2020-04-01'] as const;

export interface SupportService {
  name: string;
  displayName: string;
  resourceTypes: string[];
  classifications: Array<{ name: string; displayName: string }>;
}

export const SUPPORT_SERVICES: SupportService[] = [
  {
    name: '517f2da6-78fd-0498-4e22-ad26996b1dfc',
    displayName: 'Billing',
    resourceTypes: [],
    classifications: [
      { name: '3f9a8b5e-0c1d-4e2f-9a3b-4c5d6e7f8091', displayName: 'Refund request' },
      { name: '4a0b9c6f-1d2e-4f30-8b4c-5d6e7f809102', displayName: 'Invoice or payment question' },
    ],
  },
  {
    name: 'f3dc5421-79ef-1efa-41a5-42bf3cbb52c6',
    displayName: 'Subscription management',
    resourceTypes: [],
    classifications: [{ name: '5b1cad70-2e3f-4041-9c5d-6e7f80910213', displayName: 'Transfer ownership' }],
  },
  {
    name: '06bfd9d3-516b-d5c6-5802-169c800dec89',
    displayName: 'Service and subscription limits (quotas)',
    resourceTypes: [],
    classifications: [{ name: '6c2dbe81-3f40-4152-8d6e-7f8091021324', displayName: 'Compute-VM (cores-vCPUs)' }],
  },
  {
    name: 'a6c8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
    displayName: 'Azure Active Directory Sign-In and Multi-Factor Authentication',
    resourceTypes: [],
    classifications: [
      { name: '7d3ecf92-4051-4263-9e7f-809102132435', displayName: 'Sign-in failures / Users cannot sign in' },
      { name: '8e4fd0a3-5162-4374-af80-910213243546', displayName: 'Multi-Factor Authentication (MFA) / Prompts' },
      { name: '9f50e1b4-6273-4485-b091-021324354657', displayName: 'Conditional Access / Unexpected block' },
    ],
  },
  {
    name: 'b7d9f203-4c5e-4f60-9b0c-1d2e3f4a5b6c',
    displayName: 'Azure Active Directory User and Group Management',
    resourceTypes: [],
    classifications: [
      { name: 'a061f2c5-7384-4596-81a2-132435465768', displayName: 'Group membership / Dynamic groups' },
      { name: 'b172a3d6-8495-46a7-92b3-243546576879', displayName: 'Licensing / Group-based licensing' },
    ],
  },
  {
    name: '6f16735c-b0ae-b275-ad3a-03479cfa1396',
    displayName: 'Virtual Machine running Windows',
    resourceTypes: ['MICROSOFT.CLASSICCOMPUTE/VIRTUALMACHINES', 'MICROSOFT.COMPUTE/VIRTUALMACHINES'],
    classifications: [
      { name: 'c283b4e7-95a6-47b8-a3c4-35465768798a', displayName: 'Cannot connect to my VM / RDP' },
      { name: 'd394c5f8-a6b7-48c9-b4d5-465768798a9b', displayName: 'VM start, stop or restart' },
    ],
  },
  {
    name: 'cddd3eb5-1830-b494-44fd-782f691479dc',
    displayName: 'Virtual Machine running Linux',
    resourceTypes: ['MICROSOFT.CLASSICCOMPUTE/VIRTUALMACHINES', 'MICROSOFT.COMPUTE/VIRTUALMACHINES'],
    classifications: [
      {
        name: 'e4a5d609-b7c8-49da-85e6-5768798a9bac',
        displayName: 'Connectivity / Cannot connect to virtual machine by using RDP or SSH',
      },
    ],
  },
  {
    name: 'c8eaf314-5d6f-4071-8c1d-2e3f4a5b6c7d',
    displayName: 'Storage Account Management',
    resourceTypes: ['MICROSOFT.STORAGE/STORAGEACCOUNTS'],
    classifications: [{ name: 'f5b6e71a-c8d9-4aeb-96f7-68798a9bacbd', displayName: 'Access or authentication' }],
  },
];

export const serviceId = (name: string) => `/providers/Microsoft.Support/services/${name}`;
export const classificationId = (service: string, name: string) =>
  `${serviceId(service)}/problemClassifications/${name}`;

export function findService(name: string): SupportService | undefined {
  return SUPPORT_SERVICES.find((s) => s.name.toLowerCase() === name.toLowerCase());
}

/** The service and classification an id such as `/providers/Microsoft.Support/services/{s}/problemClassifications/{c}` names. */
export function parseClassificationId(
  id: string,
): { service: SupportService; classification: SupportService['classifications'][number] } | undefined {
  const m = /^\/providers\/Microsoft\.Support\/services\/([^/]+)\/problemClassifications\/([^/]+)$/i.exec(id);
  const service = m && findService(m[1]);
  const classification = service?.classifications.find((c) => c.name.toLowerCase() === m![2].toLowerCase());
  return service && classification ? { service, classification } : undefined;
}

export function parseServiceId(id: string): SupportService | undefined {
  const m = /^\/providers\/Microsoft\.Support\/services\/([^/]+)$/i.exec(id);
  return m ? findService(m[1]) : undefined;
}

export const serviceResource = (s: SupportService) => ({
  id: serviceId(s.name),
  name: s.name,
  type: 'Microsoft.Support/services',
  properties: { displayName: s.displayName, resourceTypes: s.resourceTypes },
});

export const classificationResource = (s: SupportService, c: SupportService['classifications'][number]) => ({
  id: classificationId(s.name, c.name),
  name: c.name,
  type: 'Microsoft.Support/problemClassifications',
  properties: { displayName: c.displayName },
});
