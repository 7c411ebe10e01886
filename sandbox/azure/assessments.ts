import { ArmError } from './arm.ts';
import {
  KINDS,
  findRecommendation,
  generatedRecommendation,
  metadataProperties,
  type Recommendation,
  type Severity,
} from './catalog.ts';
import type { Hierarchy } from './hierarchy.ts';
import { assessmentId, type AzureStore, type Generation, type Override, type StoredAssessment } from './store.ts';

/**
 * Assessments as ARM returns them, for stored and generated ones alike. A generated set of N
 * assessments is never materialised: item i is computed from (seed, i) and only status flips are
 * stored, so a page costs O(page size) however large the set is.
 */

export const DEFAULT_PAGE_SIZE = 1000;
export const MAX_PAGE_SIZE = 5000;
const DAY_MS = 86_400_000;

/** A small integer hash (xorshift-multiply); deterministic across runs and platforms. */
export function hash32(seed: number, i: number): number {
  let h = (Math.imul(i ^ 0x5bd1e995, 0x9e3779b1) ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

interface GeneratedItem {
  resourceId: string;
  name: string;
  code: StoredAssessment['code'];
  cause?: string;
  firstEvaluationDate: string;
  statusChangeDate: string;
}

export function generatedResourceId(g: Generation, i: number): string {
  const r = Math.floor(i / g.recommendations);
  const kind = generatedRecommendation(i % g.recommendations).kind as keyof typeof KINDS;
  const { type, prefix } = KINDS[kind];
  return `/subscriptions/${g.subscriptionId}/resourceGroups/rg-gen-${String(r % 100).padStart(2, '0')}/providers/${type}/${prefix}${r}`;
}

/** The resource groups a generated set's resources fall into (resource r is in `rg-gen-{r % 100}`). */
export function generatedResourceGroups(g: Generation): string[] {
  const resources = Math.ceil(g.count / g.recommendations);
  return Array.from({ length: Math.min(100, resources) }, (_, r) => `rg-gen-${String(r).padStart(2, '0')}`);
}

export function generatedItem(g: Generation, i: number, o?: Override): GeneratedItem {
  const h = hash32(g.seed, i);
  const first = new Date(Date.parse(g.createdAt) - (h % 30) * DAY_MS).toISOString();
  const unhealthy = h / 2 ** 32 < g.unhealthyRatio;
  return {
    resourceId: generatedResourceId(g, i),
    name: generatedRecommendation(i % g.recommendations).name,
    code: o?.code ?? (unhealthy ? 'Unhealthy' : 'Healthy'),
    cause: o ? (o.cause ?? undefined) : undefined,
    firstEvaluationDate: first,
    statusChangeDate: o?.changedAt ?? first,
  };
}

/** The index of a generated assessment from its resource id + assessment name, if it is one. */
export function generatedIndex(g: Generation, resourceId: string, name: string): number | undefined {
  const m = /\/resourceGroups\/rg-gen-\d+\/providers\/[^/]+\/[^/]+\/[a-z-]*?(\d+)$/i.exec(resourceId);
  if (!m) return undefined;
  const r = Number(m[1]);
  for (let k = 0; k < g.recommendations; k++) {
    if (generatedRecommendation(k).name.toLowerCase() !== name.toLowerCase()) continue;
    const i = r * g.recommendations + k;
    if (i < g.count && generatedResourceId(g, i).toLowerCase() === resourceId.toLowerCase()) return i;
  }
  return undefined;
}

export interface RenderOptions {
  apiVersion: string;
  expandMetadata: boolean;
}

const RISK: Record<Severity, 'Low' | 'Medium' | 'High' | 'Critical'> = {
  Low: 'Low',
  Medium: 'Medium',
  High: 'High',
  Critical: 'Critical',
};

// Metadata objects are shared by every item of a recommendation: build each one once.
const metadataCache = new Map<string, ReturnType<typeof metadataProperties>>();
function cachedMetadata(r: Recommendation, apiVersion: string) {
  const key = `${r.name}|${apiVersion}`;
  let m = metadataCache.get(key);
  if (!m) metadataCache.set(key, (m = metadataProperties(r, apiVersion)));
  return m;
}

/** One item exactly as `SecurityAssessmentResponse`; newer fields only for the api-version that has them. */
export function render(
  a: {
    resourceId: string;
    name: string;
    code: string;
    cause?: string;
    description?: string;
    firstEvaluationDate: string;
    statusChangeDate: string;
  },
  resourceDetails: Record<string, unknown>,
  additionalData: Record<string, string> | undefined,
  o: RenderOptions,
) {
  const r = findRecommendation(a.name);
  const status: Record<string, string> = { code: a.code };
  if (a.cause) status.cause = a.cause;
  if (a.description) status.description = a.description;
  status.firstEvaluationDate = a.firstEvaluationDate;
  status.statusChangeDate = a.statusChangeDate;
  const properties: Record<string, unknown> = {
    resourceDetails,
    displayName: r?.displayName ?? a.name,
    status,
  };
  if (additionalData) properties.additionalData = additionalData;
  properties.links = {
    azurePortalUri: `https://portal.azure.com/#view/Microsoft_Azure_Security/GenericRecommendationDetailsBlade/assessmentKey/${a.name}`,
  };
  if (o.expandMetadata && r) properties.metadata = cachedMetadata(r, o.apiVersion);
  if (o.apiVersion >= '2025-05-04' && a.code === 'Unhealthy') {
    properties.risk = {
      level: RISK[r?.severity ?? 'Medium'],
      riskFactors: r?.severity === 'High' || r?.severity === 'Critical' ? ['Internet exposure'] : [],
      attackPathsReferences: [],
      isContextualRisk: false,
    };
  }
  return { id: assessmentId(a.resourceId, a.name), name: a.name, type: 'Microsoft.Security/assessments', properties };
}

export function renderStored(a: StoredAssessment, o: RenderOptions) {
  return render(a, a.resourceDetails, a.additionalData, o);
}

export function renderGenerated(item: GeneratedItem, o: RenderOptions) {
  return render(item, { source: 'Azure', id: item.resourceId }, undefined, o);
}

// --- scopes and paging ---------------------------------------------------------------------------

/** A list scope is walked as segments: per subscription its stored assessments, then its generated set. */
type Segment = { kind: 'stored'; subscriptionId?: string; connectorId?: string } | { kind: 'generated'; g: Generation };

export function resolveScope(store: AzureStore, hierarchy: Hierarchy, scope: string): Segment[] {
  const sub = /^\/subscriptions\/([^/]+)$/i.exec(scope);
  const mg = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i.exec(scope);
  const conn =
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Security\/securityConnectors\/[^/]+$/i.exec(
      scope,
    );
  let subs: string[];
  if (sub) {
    if (!store.subscription(sub[1]))
      throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub[1]}' could not be found.`);
    subs = [sub[1]];
  } else if (mg) {
    const group = store.managementGroup(mg[1]);
    if (!group) throw new ArmError(404, 'NotFound', `Management group '${mg[1]}' was not found.`);
    subs = hierarchy.descendantSubscriptions(group);
  } else if (conn) {
    const c = store.connector(scope);
    if (!c)
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Security/securityConnectors/${scope.split('/').pop()}' was not found.`,
      );
    // A master connector's scope also covers its member accounts / projects.
    const members =
      c.organizationMembershipType === 'Organization'
        ? store
            .connectors()
            .filter(
              (m) =>
                m.organizationMembershipType === 'Member' &&
                m.environment === c.environment &&
                m.parentHierarchyId === c.hierarchyIdentifier,
            )
        : [];
    return [c, ...members].map((m) => ({ kind: 'stored', connectorId: m.id }));
  } else {
    throw new ArmError(
      400,
      'InvalidScope',
      `The scope '${scope}' is not valid for listing assessments. Use a subscription, management group or security connector.`,
    );
  }
  const segments: Segment[] = [];
  for (const s of subs) {
    segments.push({ kind: 'stored', subscriptionId: s });
    const g = store.generation(s);
    if (g && g.count > 0) segments.push({ kind: 'generated', g });
  }
  return segments;
}

/** Continuation: segment number + position inside it (last seq, or next generated index). */
export function encodeToken(seg: number, pos: number): string {
  return Buffer.from(`${seg}.${pos}`).toString('base64url');
}
function decodeToken(t: string | undefined): { seg: number; pos: number } {
  if (!t) return { seg: 0, pos: 0 };
  const m = /^(\d+)\.(\d+)$/.exec(Buffer.from(t, 'base64url').toString());
  if (!m) throw new ArmError(400, 'InvalidSkipToken', 'The $skipToken is not valid.');
  return { seg: Number(m[1]), pos: Number(m[2]) };
}

export function listPage(
  store: AzureStore,
  hierarchy: Hierarchy,
  scope: string,
  skipToken: string | undefined,
  top: number,
  o: RenderOptions,
) {
  const segments = resolveScope(store, hierarchy, scope);
  let { seg, pos } = decodeToken(skipToken);
  const value: unknown[] = [];
  while (seg < segments.length && value.length < top) {
    const s = segments[seg];
    const want = top - value.length;
    if (s.kind === 'stored') {
      // One extra row tells whether this segment is exhausted without another query.
      const rows = store.assessmentPage(s, pos, want + 1);
      for (const r of rows.slice(0, want)) value.push(renderStored(r.a, o));
      if (rows.length > want) {
        pos = rows[want - 1].seq;
        break;
      }
    } else {
      const end = Math.min(s.g.count, pos + want);
      const flips = store.overrides(s.g.subscriptionId, pos, end);
      for (let i = pos; i < end; i++) value.push(renderGenerated(generatedItem(s.g, i, flips.get(i)), o));
      if (end < s.g.count) {
        pos = end;
        break;
      }
    }
    seg++;
    pos = 0;
  }
  return { value, next: seg < segments.length ? encodeToken(seg, pos) : undefined };
}

/** One assessment by resource id + name, stored or generated. */
export function getAssessment(store: AzureStore, resourceId: string, name: string, o: RenderOptions) {
  const stored = store.assessment(assessmentId(resourceId, name));
  if (stored) return renderStored(stored, o);
  const loc = locateGenerated(store, resourceId, name);
  if (loc)
    return renderGenerated(
      generatedItem(loc.g, loc.index, store.overrides(loc.g.subscriptionId, loc.index, loc.index + 1).get(loc.index)),
      o,
    );
  return undefined;
}

export function locateGenerated(store: AzureStore, resourceId: string, name: string) {
  const sub = /^\/subscriptions\/([^/]+)\//i.exec(resourceId);
  const g = sub ? store.generation(sub[1]) : undefined;
  const index = g ? generatedIndex(g, resourceId, name) : undefined;
  return g && index !== undefined ? { g, index } : undefined;
}
