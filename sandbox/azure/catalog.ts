/**
 * Recommendations (assessment metadata) the sandbox knows. Keys, names and severities are real
 * Defender for Cloud recommendations (from the public recommendations reference) so demo data
 * looks familiar; the longer texts are short paraphrases.
 */

export type Severity = 'Low' | 'Medium' | 'High' | 'Critical';
export type Effort = 'Low' | 'Moderate' | 'High';

export interface ResourceKind {
  /** ARM provider + type path segment, e.g. `Microsoft.Compute/virtualMachines`. */
  type: string;
  /** Name prefix of generated resources of this kind. */
  prefix: string;
}

export const KINDS = {
  vm: { type: 'Microsoft.Compute/virtualMachines', prefix: 'vm-gen-' },
  storage: { type: 'Microsoft.Storage/storageAccounts', prefix: 'stgen' },
  sql: { type: 'Microsoft.Sql/servers', prefix: 'sql-gen-' },
  redis: { type: 'Microsoft.Cache/Redis', prefix: 'redis-gen-' },
} satisfies Record<string, ResourceKind>;

export interface Recommendation {
  name: string;
  displayName: string;
  description: string;
  remediationDescription: string;
  severity: Severity;
  categories: string[];
  userImpact: Effort;
  implementationEffort: Effort;
  threats: string[];
  /** Where it applies: an Azure resource kind, or a multicloud source. */
  kind: keyof typeof KINDS | 'subscription' | 'Aws' | 'Gcp';
  policyDefinitionId?: string;
}

const rec = (r: Recommendation) => r;

export const CATALOG: Recommendation[] = [
  rec({
    name: '4ab6e3c5-74dd-8b35-9ab9-f61b30875b27',
    displayName: 'System updates should be installed on your machines',
    description: 'Missing security system updates leave machines open to known exploits.',
    remediationDescription: 'Review the missing updates per machine and install them with Azure Update Manager.',
    severity: 'High',
    categories: ['Compute'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    threats: ['ThreatResistance', 'DataExfiltration'],
    kind: 'vm',
  }),
  rec({
    name: '1195afff-c881-495e-9bc5-1486211ae03f',
    displayName: 'Machines should have vulnerability findings resolved',
    description: 'The vulnerability scanner found weaknesses on these machines.',
    remediationDescription: 'Open the findings for each machine and apply the listed fixes or patches.',
    severity: 'High',
    categories: ['Compute'],
    userImpact: 'Moderate',
    implementationEffort: 'Moderate',
    threats: ['DataExfiltration', 'MaliciousInsider'],
    kind: 'vm',
  }),
  rec({
    name: 'ad4f3ff1-30eb-5042-16ed-27198f640b8d',
    displayName: 'Storage accounts should restrict network access using virtual network rules',
    description: 'Use virtual network rules instead of IP-based filtering so public IPs cannot reach the account.',
    remediationDescription:
      'In the storage account Networking blade, allow access from selected virtual networks only.',
    severity: 'Medium',
    categories: ['Data', 'Networking'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    threats: ['DataExfiltration'],
    kind: 'storage',
    policyDefinitionId: '/providers/Microsoft.Authorization/policyDefinitions/2a1a9cdf-e04d-429a-8416-3bfb72a1b26f',
  }),
  rec({
    name: 'cdc78c07-02b0-4af0-1cb2-cb7c672a8b0a',
    displayName: 'Storage account should use a private link connection',
    description: 'Private links give private connectivity to the storage account.',
    remediationDescription: 'Create a private endpoint for the storage account and disable public network access.',
    severity: 'Medium',
    categories: ['Data'],
    userImpact: 'Low',
    implementationEffort: 'Moderate',
    threats: ['DataExfiltration', 'DataSpillage'],
    kind: 'storage',
    policyDefinitionId: '/providers/Microsoft.Authorization/policyDefinitions/6edd7eda-6dd8-40f7-810d-67160c639cd9',
  }),
  rec({
    name: '3b363842-30f5-4056-980d-3a40fa5de8b3',
    displayName: 'Storage accounts should prevent shared key access',
    description: 'Requests should be authorized with Microsoft Entra ID rather than account access keys.',
    remediationDescription: "Set 'Allow storage account key access' to Disabled after moving clients to Entra ID.",
    severity: 'Medium',
    categories: ['Data', 'IdentityAndAccess'],
    userImpact: 'High',
    implementationEffort: 'Moderate',
    threats: ['AccountBreach'],
    kind: 'storage',
  }),
  rec({
    name: 'f0553104-cfdb-65e6-759c-002812e38500',
    displayName: 'SQL servers should have an Azure Active Directory administrator provisioned',
    description: 'An Entra administrator enables centralized identity management for SQL logins.',
    remediationDescription: 'Set a Microsoft Entra admin on the SQL server.',
    severity: 'High',
    categories: ['Data', 'IdentityAndAccess'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    threats: ['AccountBreach', 'ElevationOfPrivilege'],
    kind: 'sql',
    policyDefinitionId: '/providers/Microsoft.Authorization/policyDefinitions/1f314764-cb73-4fc9-b863-8eca98ac36e9',
  }),
  rec({
    name: '1db4f204-cb5a-4c9c-9254-7556403ce51c',
    displayName: 'SQL servers should have vulnerability assessment configured',
    description: 'Vulnerability assessment discovers, tracks and helps remediate database vulnerabilities.',
    remediationDescription: 'Enable Microsoft Defender for SQL and configure vulnerability assessment on the server.',
    severity: 'High',
    categories: ['Data'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    threats: ['DataExfiltration'],
    kind: 'sql',
  }),
  rec({
    name: '35b25be2-d08a-e340-45ed-f08a95d804fc',
    displayName: 'Redis Cache should allow access only via SSL',
    description: 'Only TLS connections protect cached data in transit.',
    remediationDescription: 'Disable the non-TLS port (6379) on the cache.',
    severity: 'High',
    categories: ['Data'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    threats: ['DataExfiltration'],
    kind: 'redis',
  }),
  rec({
    name: '77758c9d-8a56-5f54-6ff7-69a762ca6004',
    displayName: 'Subscriptions should have a contact email address for security issues',
    description: 'Defender for Cloud emails security contacts about potential breaches.',
    remediationDescription: 'Set a security contact in Environment settings > Email notifications.',
    severity: 'Low',
    categories: ['IdentityAndAccess'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    threats: [],
    kind: 'subscription',
  }),
  rec({
    name: '02e8de17-1a01-45cb-b906-6d07a78f4b3c',
    displayName: "Amazon EBS snapshots shouldn't be publicly restorable",
    description: 'Public EBS snapshots expose data to every AWS account.',
    remediationDescription: 'Remove the all-accounts restore permission from the snapshot.',
    severity: 'High',
    categories: ['Data'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    threats: ['DataExfiltration'],
    kind: 'Aws',
  }),
  rec({
    name: 'd0ef47dc-95aa-4765-a075-72c07df8acff',
    displayName: 'Amazon Aurora clusters should have backtracking enabled',
    description: 'Backtracking lets a cluster return to a point in time without a restore.',
    remediationDescription: 'Enable backtracking on the Aurora MySQL cluster.',
    severity: 'Medium',
    categories: ['Data'],
    userImpact: 'Low',
    implementationEffort: 'Moderate',
    threats: ['DataSpillage'],
    kind: 'Aws',
  }),
  rec({
    // Sandbox-invented key (no public key found for this GCP recommendation).
    name: '5a4c1f0e-2b7d-4e61-9c3a-8f0d6b2e7a14',
    displayName: 'Cloud Storage buckets should not be anonymously or publicly accessible',
    description: 'Public buckets let anyone on the internet read the objects.',
    remediationDescription: "Remove 'allUsers' and 'allAuthenticatedUsers' from the bucket's IAM policy.",
    severity: 'Critical',
    categories: ['Data'],
    userImpact: 'Moderate',
    implementationEffort: 'Low',
    threats: ['DataExfiltration'],
    kind: 'Gcp',
  }),
];

const BY_NAME = new Map(CATALOG.map((r) => [r.name.toLowerCase(), r]));

/** The recommendations generated data cycles through: the ones that apply to Azure resources. */
export const GENERATABLE = CATALOG.filter((r) => r.kind in KINDS);

export const MAX_GENERATED_RECOMMENDATIONS = 200;

/**
 * Recommendation k of a generated set: the real ones first, then synthetic ones with
 * deterministic keys, so any `recommendations: n` up to the maximum works.
 */
export function generatedRecommendation(k: number): Recommendation {
  if (k < GENERATABLE.length) return GENERATABLE[k];
  const kinds = Object.keys(KINDS) as Array<keyof typeof KINDS>;
  const sev: Severity[] = ['Low', 'Medium', 'High'];
  return {
    name: `5a0d0000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`,
    displayName: `Sandbox recommendation ${k}`,
    description: `Synthetic recommendation number ${k}.`,
    remediationDescription: 'Follow the sandbox remediation steps.',
    severity: sev[k % sev.length],
    categories: ['Compute'],
    userImpact: 'Low',
    implementationEffort: 'Low',
    threats: [],
    kind: kinds[k % kinds.length],
  };
}

export function findRecommendation(name: string): Recommendation | undefined {
  const known = BY_NAME.get(name.toLowerCase());
  if (known) return known;
  const m = /^5a0d0000-0000-4000-8000-([0-9a-f]{12})$/i.exec(name);
  if (!m) return undefined;
  const k = parseInt(m[1], 16);
  return k >= GENERATABLE.length && k < MAX_GENERATED_RECOMMENDATIONS ? generatedRecommendation(k) : undefined;
}

/** `SecurityAssessmentMetadataProperties` for an api-version (Critical only exists from 2025-05-04). */
export function metadataProperties(r: Recommendation, apiVersion: string) {
  const severity = r.severity === 'Critical' && apiVersion < '2025-05-04' ? 'High' : r.severity;
  return {
    displayName: r.displayName,
    ...(r.policyDefinitionId ? { policyDefinitionId: r.policyDefinitionId } : {}),
    description: r.description,
    remediationDescription: r.remediationDescription,
    categories: r.categories,
    severity,
    userImpact: r.userImpact,
    implementationEffort: r.implementationEffort,
    threats: r.threats,
    preview: false,
    assessmentType: 'BuiltIn',
  };
}

export function metadataResource(r: Recommendation, apiVersion: string, subscriptionId?: string) {
  const prefix = subscriptionId ? `/subscriptions/${subscriptionId}` : '';
  return {
    id: `${prefix}/providers/Microsoft.Security/assessmentMetadata/${r.name}`,
    name: r.name,
    type: 'Microsoft.Security/assessmentMetadata',
    properties: metadataProperties(r, apiVersion),
  };
}
