import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ArmError,
  ASSESSMENT_API_VERSIONS,
  GOVERNANCE_API_VERSIONS,
  firstQuery,
  gatewayError,
  nextLink,
  requireApiVersion,
} from './arm.ts';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  getAssessment,
  listPage,
  renderStored,
  type RenderOptions,
} from './assessments.ts';
import {
  CATALOG,
  MAX_GENERATED_RECOMMENDATIONS,
  findRecommendation,
  generatedRecommendation,
  metadataResource,
} from './catalog.ts';
import type { RouteTable } from './dispatch.ts';
import { checkScope, governanceId, resource, validateAssignment } from './governance.ts';
import type { Hierarchy } from './hierarchy.ts';
import { assessmentId, type AzureStore, type StoredAssessment } from './store.ts';
import type { OffsetClock } from '../shared/clock.ts';

/**
 * The Microsoft.Security surface: assessments, assessment metadata and governance assignments,
 * matched on the provider suffix of any scope (`/{scope}/providers/Microsoft.Security/...`).
 */

interface Ctx {
  store: AzureStore;
  clock: OffsetClock;
  hierarchy: Hierarchy;
}

const SEC = '/providers/Microsoft\\.Security';
const RX = {
  tenantMetadata: new RegExp(`^${SEC}/assessmentMetadata(?:/([^/]+))?$`, 'i'),
  subMetadata: new RegExp(`^/subscriptions/([^/]+)${SEC}/assessmentMetadata(?:/([^/]+))?$`, 'i'),
  governance: new RegExp(`^(/.+)${SEC}/assessments/([^/]+)/governanceAssignments(?:/([^/]+))?$`, 'i'),
  assessment: new RegExp(`^(/.+)${SEC}/assessments/([^/]+)$`, 'i'),
  assessments: new RegExp(`^(/.+)${SEC}/assessments$`, 'i'),
};

export function securityRoutes(ctx: Ctx): RouteTable {
  return [
    [RX.tenantMetadata, { GET: (req, _r, m) => metadata(req, m[1]) }],
    [RX.subMetadata, { GET: (req, _r, m) => metadata(req, m[2], subscriptionOf(ctx, m[1])) }],
    [
      RX.governance,
      {
        GET: (req, _r, m) => (m[3] ? getGovernance(ctx, req, m) : listGovernance(ctx, req, m)),
        PUT: (req, reply, m) => putGovernance(ctx, req, reply, m),
        DELETE: (req, reply, m) => deleteGovernance(ctx, req, reply, m),
      },
    ],
    [
      RX.assessment,
      {
        GET: (req, _r, m) => getOne(ctx, req, m),
        PUT: (req, reply, m) => putAssessment(ctx, req, reply, m),
        DELETE: (req, reply, m) => deleteAssessment(ctx, req, reply, m),
      },
    ],
    [RX.assessments, { GET: (req, _r, m) => list(ctx, req, m[1]) }],
  ];
}

const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;

function subscriptionOf(ctx: Ctx, id: string): string {
  const s = ctx.store.subscription(id);
  if (!s) throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${id}' could not be found.`);
  return s.subscriptionId;
}

function pageSize(req: FastifyRequest, dflt: number): number {
  const t = firstQuery(q(req), '$top');
  if (t === undefined) return dflt;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1)
    throw new ArmError(400, 'InvalidQueryParameterValue', `The value '${t}' of query parameter '$top' is not valid.`);
  return Math.min(n, MAX_PAGE_SIZE);
}

function renderOptions(req: FastifyRequest, apiVersion: string): RenderOptions {
  const expand = (firstQuery(q(req), '$expand') ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
  return { apiVersion, expandMetadata: expand.includes('metadata') };
}

const next = (req: FastifyRequest, path: string, token: string) => nextLink(req.headers.host, q(req), path, token);

// --- metadata ------------------------------------------------------------------------------------

function metadata(req: FastifyRequest, name: string | undefined, subscriptionId?: string) {
  const v = requireApiVersion(q(req), ASSESSMENT_API_VERSIONS, 'assessmentMetadata');
  if (name) {
    const r = findRecommendation(name);
    if (!r) throw new ArmError(404, 'NotFound', `Assessment metadata '${name}' was not found.`);
    return metadataResource(r, v, subscriptionId);
  }
  // The catalog plus the synthetic recommendations that generated sets may use.
  const extra = Array.from({ length: MAX_GENERATED_RECOMMENDATIONS }, (_, k) => generatedRecommendation(k)).filter(
    (r) => !CATALOG.includes(r),
  );
  return { value: [...CATALOG, ...extra].map((r) => metadataResource(r, v, subscriptionId)) };
}

// --- assessments ---------------------------------------------------------------------------------

function list(ctx: Ctx, req: FastifyRequest, scope: string) {
  const v = requireApiVersion(q(req), ASSESSMENT_API_VERSIONS, 'assessments');
  const page = listPage(
    ctx.store,
    ctx.hierarchy,
    scope,
    firstQuery(q(req), '$skipToken'),
    pageSize(req, DEFAULT_PAGE_SIZE),
    renderOptions(req, v),
  );
  const path = `${scope}/providers/Microsoft.Security/assessments`;
  return page.next ? { value: page.value, nextLink: next(req, path, page.next) } : { value: page.value };
}

function getOne(ctx: Ctx, req: FastifyRequest, m: RegExpExecArray) {
  const v = requireApiVersion(q(req), ASSESSMENT_API_VERSIONS, 'assessments');
  const found = getAssessment(ctx.store, m[1], m[2], renderOptions(req, v));
  if (!found)
    throw new ArmError(
      404,
      'ResourceNotFound',
      `The Resource 'Microsoft.Security/assessments/${m[2]}' under '${m[1]}' was not found.`,
    );
  return found;
}

const CODES = ['Healthy', 'Unhealthy', 'NotApplicable'];

/** Custom/partner assessments (Assessments_CreateOrUpdate). */
function putAssessment(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
  const v = requireApiVersion(q(req), ASSESSMENT_API_VERSIONS, 'assessments');
  const [resourceId, name] = [m[1], m[2]];
  const sub = /^\/subscriptions\/([^/]+)/i.exec(resourceId);
  const subscriptionId = sub ? subscriptionOf(ctx, sub[1]) : undefined;
  if (!subscriptionId) throw new ArmError(400, 'InvalidScope', `Assessments can only be written under a subscription.`);
  const p = ((req.body ?? {}) as { properties?: Record<string, any> }).properties;
  if (!p?.status || !CODES.includes(p.status.code)) {
    throw new ArmError(
      400,
      'InvalidInput',
      "'properties.status.code' must be Healthy, Unhealthy or NotApplicable.",
      'properties.status.code',
    );
  }
  if (!p.resourceDetails?.source)
    throw new ArmError(400, 'InvalidInput', "'properties.resourceDetails' is required.", 'properties.resourceDetails');
  const now = new Date(ctx.clock.now()).toISOString();
  const prev = ctx.store.assessment(assessmentId(resourceId, name));
  const a: StoredAssessment = {
    resourceId,
    name,
    resourceDetails: p.resourceDetails,
    code: p.status.code,
    cause: p.status.cause,
    description: p.status.description,
    firstEvaluationDate: prev?.firstEvaluationDate ?? now,
    statusChangeDate: prev && prev.code === p.status.code ? prev.statusChangeDate : now,
    additionalData: p.additionalData,
  };
  ctx.store.putAssessment(subscriptionId, a);
  return reply.code(prev ? 200 : 201).send(renderStored(a, { apiVersion: v, expandMetadata: false }));
}

function deleteAssessment(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
  requireApiVersion(q(req), ASSESSMENT_API_VERSIONS, 'assessments');
  return reply.code(ctx.store.deleteAssessment(assessmentId(m[1], m[2])) ? 200 : 204).send();
}

// --- governance assignments ----------------------------------------------------------------------

function getGovernance(ctx: Ctx, req: FastifyRequest, m: RegExpExecArray) {
  requireApiVersion(q(req), GOVERNANCE_API_VERSIONS, 'assessments/governanceAssignments');
  const row = ctx.store.governance(m[1], m[2], m[3]);
  if (!row) throw new ArmError(404, 'NotFound', `Governance assignment '${m[3]}' was not found.`);
  return resource(row.id, row.name, row.properties);
}

function listGovernance(ctx: Ctx, req: FastifyRequest, m: RegExpExecArray) {
  requireApiVersion(q(req), GOVERNANCE_API_VERSIONS, 'assessments/governanceAssignments');
  const top = pageSize(req, 100);
  const token = firstQuery(q(req), '$skipToken');
  const after = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
  if (!Number.isInteger(after)) throw new ArmError(400, 'InvalidSkipToken', 'The $skipToken is not valid.');
  const rows = ctx.store.governancePage(m[1], m[2], after, top + 1);
  const value = rows.slice(0, top).map((r) => resource(r.id, r.name, r.properties));
  if (rows.length <= top) return { value };
  const path = `${m[1]}/providers/Microsoft.Security/assessments/${m[2]}/governanceAssignments`;
  return { value, nextLink: next(req, path, Buffer.from(String(rows[top - 1].seq)).toString('base64url')) };
}

function putGovernance(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
  requireApiVersion(q(req), GOVERNANCE_API_VERSIONS, 'assessments/governanceAssignments');
  const [scope, assessmentName, key] = [m[1], m[2], m[3]];
  if (!/^[-\w._()]+$/.test(assessmentName))
    throw new ArmError(400, 'InvalidInput', `Invalid assessment name '${assessmentName}'.`, 'assessmentName');
  const props = validateAssignment(req.body);
  checkScope(ctx.store, scope, assessmentName);
  const id = governanceId(scope, assessmentName, key);
  const created = ctx.store.putGovernance(scope, assessmentName, key, id, props);
  return reply.code(created ? 201 : 200).send(resource(id, key, props));
}

function deleteGovernance(ctx: Ctx, req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
  requireApiVersion(q(req), GOVERNANCE_API_VERSIONS, 'assessments/governanceAssignments');
  return reply.code(ctx.store.deleteGovernance(m[1], m[2], m[3]) ? 200 : 204).send();
}
