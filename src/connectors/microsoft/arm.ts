import type { TokenCredential } from '@azure/core-auth';
import { HttpError } from '../../engine/errors.ts';
import { HttpClient, type AuthProvider, type HttpClientOptions } from '../http.ts';

/**
 * Thin Azure Resource Manager client for Defender for Cloud: assessments (recommendations),
 * assessment metadata and governance assignments (wire-format.md §5). Retries, Retry-After on
 * 429 and the call record come from HttpClient; this file only knows ARM paths and shapes.
 */

export const ARM_SCOPE = 'https://management.azure.com/.default';
export const ASSESSMENTS_API_VERSION = '2025-05-04';
export const GOVERNANCE_API_VERSION = '2022-01-01-preview';

export type AssessmentStatusCode = 'Healthy' | 'Unhealthy' | 'NotApplicable';

export interface Assessment {
  id: string;
  name: string;
  type: string;
  properties: {
    resourceDetails: { source: string; id?: string; [k: string]: unknown };
    displayName: string;
    status: {
      code: AssessmentStatusCode;
      cause?: string;
      description?: string;
      firstEvaluationDate?: string;
      statusChangeDate?: string;
    };
    additionalData?: Record<string, string>;
    links?: { azurePortalUri?: string };
    metadata?: AssessmentMetadataProperties;
    risk?: { level?: string; riskFactors?: string[]; attackPathsReferences?: string[]; isContextualRisk?: boolean };
    [k: string]: unknown;
  };
}

export interface AssessmentMetadataProperties {
  displayName: string;
  description?: string;
  remediationDescription?: string;
  severity: 'Low' | 'Medium' | 'High' | 'Critical';
  categories?: string[];
  userImpact?: 'Low' | 'Moderate' | 'High';
  implementationEffort?: 'Low' | 'Moderate' | 'High';
  threats?: string[];
  assessmentType?: string;
  policyDefinitionId?: string;
  preview?: boolean;
  [k: string]: unknown;
}

export interface AssessmentMetadata {
  id: string;
  name: string;
  type: string;
  properties: AssessmentMetadataProperties;
}

export interface GovernanceAssignmentProperties {
  owner?: string;
  /** Required by the API. */
  remediationDueDate: string;
  remediationEta?: { eta: string; justification: string };
  isGracePeriod?: boolean;
  governanceEmailNotification?: { disableManagerEmailNotification?: boolean; disableOwnerEmailNotification?: boolean };
  /** `ticketNumber` is int32 ≥ 0: keep the numeric part of a ServiceNow number, the full one in ticketLink/Status. */
  additionalData?: { ticketNumber?: number; ticketLink?: string; ticketStatus?: string };
}

export interface GovernanceAssignment {
  id: string;
  name: string;
  type: string;
  properties: GovernanceAssignmentProperties;
}

export interface ArmPage<T> {
  value: T[];
  nextLink?: string;
}

export interface ListAssessmentsOptions {
  apiVersion?: string;
  expandMetadata?: boolean;
  /** Sent as `$top`; the server may cap it. */
  pageSize?: number;
}

export interface ArmClientOptions extends Omit<HttpClientOptions, 'upstream' | 'baseUrl' | 'auth'> {
  /** `https://management.azure.com` in production, the sandbox's baseUrl in tests. */
  baseUrl?: string;
  auth: AuthProvider;
}

/** ARM's `{error:{code,message}}`, when an HttpError carries one. */
export function armError(e: unknown): { status: number; code: string; message: string } | undefined {
  if (!(e instanceof HttpError)) return undefined;
  const err = (e.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (!err || typeof err !== 'object') return undefined;
  return { status: e.status, code: String(err.code ?? ''), message: String(err.message ?? '') };
}

/**
 * `subscriptions/x` and `/subscriptions/x/` both become `/subscriptions/x`; segments are URL-encoded.
 * `.`, `..` and empty segments are refused: URL resolution would move the request to another path.
 */
export function normaliseScope(scope: string): string {
  const trimmed = scope.trim().replace(/^\/+|\/+$/g, '');
  if (!trimmed) throw new Error('ARM scope is empty');
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    throw new Error(`ARM scope ${JSON.stringify(scope)} has an empty, "." or ".." segment`);
  return '/' + segments.map(encodeURIComponent).join('/');
}

const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
// Azure names: letters, digits, _ ( ) - . — not ending with a period (1–90 characters).
const NAME = '[\\p{L}\\p{N}_()-](?:[\\p{L}\\p{N}_().-]{0,88}[\\p{L}\\p{N}_()-])?';
const SUBSCRIPTION = `/subscriptions/${GUID}`;
const RESOURCE_GROUP = `${SUBSCRIPTION}/resourceGroups/${NAME}`;
const SCOPE_GRAMMAR = new RegExp(
  `^(?:/providers/Microsoft\\.Management/managementGroups/${NAME}` +
    `|${SUBSCRIPTION}` +
    `|${RESOURCE_GROUP}` +
    `|${RESOURCE_GROUP}/providers/Microsoft\\.Security/securityConnectors/${NAME})$`,
  'iu',
);

export const ARM_SCOPE_FORMS =
  '/subscriptions/{guid}, /subscriptions/{guid}/resourceGroups/{name}, /providers/Microsoft.Management/managementGroups/{id} or /subscriptions/{guid}/resourceGroups/{name}/providers/Microsoft.Security/securityConnectors/{name}';

/**
 * Whether `scope` is one whole ARM scope Defender can be read at (management group, subscription,
 * resource group, security connector). The leading slash may be left out; nothing may follow.
 */
export function isArmScope(scope: string): boolean {
  if (scope.includes('..')) return false;
  return SCOPE_GRAMMAR.test(scope.startsWith('/') ? scope : `/${scope}`);
}

export class ArmClient {
  readonly http: HttpClient;

  constructor(o: ArmClientOptions) {
    this.http = new HttpClient({
      ...o,
      upstream: 'arm',
      baseUrl: o.baseUrl ?? 'https://management.azure.com',
      auth: o.auth,
    });
  }

  /** Assessments at a subscription, management group or security connector scope, one page at a time. */
  async *listAssessments(scope: string, o: ListAssessmentsOptions = {}): AsyncGenerator<ArmPage<Assessment>> {
    const query = {
      'api-version': o.apiVersion ?? ASSESSMENTS_API_VERSION,
      $expand: o.expandMetadata ? 'metadata' : undefined,
      $top: o.pageSize,
    };
    yield* this.pages<Assessment>(`${normaliseScope(scope)}/providers/Microsoft.Security/assessments`, query);
  }

  /** One assessment of a resource; undefined when absent. */
  async getAssessment(
    resourceId: string,
    assessmentName: string,
    o: Omit<ListAssessmentsOptions, 'pageSize'> = {},
  ): Promise<Assessment | undefined> {
    return this.getOrUndefined<Assessment>(
      `${normaliseScope(resourceId)}/providers/Microsoft.Security/assessments/${encodeURIComponent(assessmentName)}`,
      {
        'api-version': o.apiVersion ?? ASSESSMENTS_API_VERSION,
        $expand: o.expandMetadata ? 'metadata' : undefined,
      },
    );
  }

  /** All assessment metadata (a few hundred entries in Azure), tenant-level or for one subscription. */
  async getAssessmentMetadata(o: { apiVersion?: string; subscriptionId?: string } = {}): Promise<AssessmentMetadata[]> {
    const prefix = o.subscriptionId ? `/subscriptions/${encodeURIComponent(o.subscriptionId)}` : '';
    const out: AssessmentMetadata[] = [];
    for await (const page of this.pages<AssessmentMetadata>(
      `${prefix}/providers/Microsoft.Security/assessmentMetadata`,
      {
        'api-version': o.apiVersion ?? ASSESSMENTS_API_VERSION,
      },
    )) {
      out.push(...page.value);
    }
    return out;
  }

  async getAssessmentMetadataByName(
    name: string,
    o: { apiVersion?: string } = {},
  ): Promise<AssessmentMetadata | undefined> {
    return this.getOrUndefined<AssessmentMetadata>(
      `/providers/Microsoft.Security/assessmentMetadata/${encodeURIComponent(name)}`,
      {
        'api-version': o.apiVersion ?? ASSESSMENTS_API_VERSION,
      },
    );
  }

  /** Create or replace; `created` tells 201 from 200. PUT is idempotent, so HttpClient may retry it. */
  async putGovernanceAssignment(
    resourceScope: string,
    assessmentName: string,
    assignmentKey: string,
    properties: GovernanceAssignmentProperties,
  ): Promise<{ created: boolean; assignment: GovernanceAssignment }> {
    const r = await this.http.request<GovernanceAssignment>({
      method: 'PUT',
      path: this.governancePath(resourceScope, assessmentName, assignmentKey),
      query: { 'api-version': GOVERNANCE_API_VERSION },
      json: { properties },
    });
    return { created: r.status === 201, assignment: r.body };
  }

  async getGovernanceAssignment(
    resourceScope: string,
    assessmentName: string,
    assignmentKey: string,
  ): Promise<GovernanceAssignment | undefined> {
    return this.getOrUndefined<GovernanceAssignment>(
      this.governancePath(resourceScope, assessmentName, assignmentKey),
      {
        'api-version': GOVERNANCE_API_VERSION,
      },
    );
  }

  /** True when something was deleted, false when it was already gone (204). */
  async deleteGovernanceAssignment(
    resourceScope: string,
    assessmentName: string,
    assignmentKey: string,
  ): Promise<boolean> {
    const r = await this.http.request({
      method: 'DELETE',
      path: this.governancePath(resourceScope, assessmentName, assignmentKey),
      query: { 'api-version': GOVERNANCE_API_VERSION },
    });
    return r.status === 200;
  }

  async *listGovernanceAssignments(
    resourceScope: string,
    assessmentName: string,
  ): AsyncGenerator<ArmPage<GovernanceAssignment>> {
    yield* this.pages<GovernanceAssignment>(this.governancePath(resourceScope, assessmentName), {
      'api-version': GOVERNANCE_API_VERSION,
    });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private governancePath(scope: string, assessmentName: string, key?: string): string {
    const base = `${normaliseScope(scope)}/providers/Microsoft.Security/assessments/${encodeURIComponent(assessmentName)}/governanceAssignments`;
    return key === undefined ? base : `${base}/${encodeURIComponent(key)}`;
  }

  /** Follow nextLink (absolute, already carrying api-version and $skipToken); only one page is held. */
  private async *pages<T>(
    path: string,
    query: Record<string, string | number | undefined>,
  ): AsyncGenerator<ArmPage<T>> {
    let r = await this.http.request<ArmPage<T>>({ method: 'GET', path, query });
    for (;;) {
      const page = { value: r.body?.value ?? [], nextLink: r.body?.nextLink || undefined };
      yield page;
      if (!page.nextLink) return;
      r = await this.http.request<ArmPage<T>>({ method: 'GET', path: page.nextLink });
    }
  }

  private async getOrUndefined<T>(path: string, query: Record<string, string | undefined>): Promise<T | undefined> {
    try {
      return (await this.http.request<T>({ method: 'GET', path, query })).body;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }
}

/**
 * An AuthProvider over an Azure TokenCredential (e.g. @azure/identity ClientSecretCredential),
 * caching the token until two minutes before it expires.
 */
export function tokenCredentialAuth(
  credential: TokenCredential,
  scope = ARM_SCOPE,
  now: () => number = Date.now,
): AuthProvider {
  let cached: { token: string; expiresOn: number } | undefined;
  return {
    async headers() {
      if (!cached || cached.expiresOn - 120_000 <= now()) {
        const t = await credential.getToken(scope);
        if (!t) throw new Error(`no token for ${scope}`);
        cached = { token: t.token, expiresOn: t.expiresOnTimestamp };
      }
      return { authorization: `Bearer ${cached.token}` };
    },
    invalidate() {
      cached = undefined;
    },
  };
}
