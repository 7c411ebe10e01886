import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, sendArmError } from './arm.ts';
import { generatedItem, getAssessment, locateGenerated, renderGenerated } from './assessments.ts';
import { MAX_GENERATED_RECOMMENDATIONS } from './catalog.ts';
import type { Hierarchy } from './hierarchy.ts';
import type { Rbac } from './rbac.ts';
import { DEMO, addMulticloud } from './seed.ts';
import { assessmentId, type AzureStore, type StoredAssessment } from './store.ts';

/**
 * Control endpoints under `/_sandbox/azure` (no bearer token, like every sandbox admin route):
 * set up management groups / subscriptions / connectors, add assessments, generate large sets,
 * flip statuses, deny principals (RBAC). Errors use the ARM envelope too.
 */

interface Ctx {
  store: AzureStore;
  clock: OffsetClock;
  hierarchy: Hierarchy;
  rbac: Rbac;
}

type Body = Record<string, any>;
const STATUS = ['Healthy', 'Unhealthy', 'NotApplicable'] as const;
type Status = (typeof STATUS)[number];

const need = (cond: unknown, message: string) => {
  if (!cond) throw new ArmError(400, 'InvalidInput', message);
};

function ensureSubscription(ctx: Ctx, subscriptionId: string, displayName?: string, extra: Body = {}) {
  const existing = ctx.store.subscription(subscriptionId);
  if (existing && !displayName && extra.state === undefined && extra.tags === undefined) return existing;
  return ctx.store.putSubscription({
    subscriptionId: existing?.subscriptionId ?? subscriptionId,
    displayName: displayName ?? existing?.displayName ?? subscriptionId,
    ...((extra.state ?? existing?.state) ? { state: extra.state ?? existing?.state } : {}),
    ...((extra.tags ?? existing?.tags) ? { tags: extra.tags ?? existing?.tags } : {}),
  });
}

/** The resource group of a resource id, created (in eastus) the first time something lives in it. */
function ensureResourceGroupOf(ctx: Ctx, resourceId: string) {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)/i.exec(resourceId);
  if (m && !ctx.store.resourceGroup(m[1], m[2]))
    ctx.store.putResourceGroup({ subscriptionId: m[1], name: m[2], location: 'eastus' });
}

/** Put subscriptions into a group (creating it); a subscription has one parent, so it leaves any other. */
function addToGroup(ctx: Ctx, name: string, subscriptionIds: string[], displayName?: string, parent?: string) {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  for (const other of ctx.store.managementGroups()) {
    if (same(other.name, name)) continue;
    const kept = other.subscriptions.filter((s) => !subscriptionIds.some((x) => same(x, s)));
    if (kept.length !== other.subscriptions.length) ctx.store.putManagementGroup({ ...other, subscriptions: kept });
  }
  const now = new Date(ctx.clock.now()).toISOString();
  const mg = ctx.store.managementGroup(name) ?? {
    name,
    displayName: displayName ?? name,
    subscriptions: [],
    updatedTime: now,
  };
  for (const s of subscriptionIds) {
    ensureSubscription(ctx, s);
    if (!mg.subscriptions.some((x) => same(x, s))) mg.subscriptions.push(s);
  }
  if (displayName) mg.displayName = displayName;
  if (parent !== undefined) {
    need(ctx.store.managementGroup(parent), `unknown parent management group '${parent}'`);
    need(!same(parent, name), 'a management group cannot be its own parent');
    mg.parent = parent;
  }
  mg.updatedTime = now;
  return ctx.store.putManagementGroup(mg);
}

export function registerAdmin(app: FastifyInstance, ctx: Ctx): void {
  const route = (path: string, fn: (b: Body) => unknown) =>
    app.post(`/_sandbox/azure${path}`, async (req, reply: FastifyReply) => {
      try {
        return await fn((req.body ?? {}) as Body);
      } catch (e) {
        if (e instanceof ArmError) return sendArmError(reply, e);
        throw e;
      }
    });

  app.get('/_sandbox/azure/state', async () => ({
    demo: DEMO,
    tenant: ctx.hierarchy.tenant,
    managementGroups: ctx.store.managementGroups(),
    subscriptions: ctx.store.subscriptions(),
    securityConnectors: ctx.store.connectors(),
    generations: ctx.store.subscriptions().flatMap((s) => ctx.store.generation(s.subscriptionId) ?? []),
    rbac: { deny: ctx.rbac.rules() },
  }));

  route('/managementGroups', (b) => {
    need(typeof b.name === 'string' && b.name, "'name' is required");
    need(b.parent === undefined || typeof b.parent === 'string', "'parent' must be a management group name");
    return addToGroup(ctx, b.name, Array.isArray(b.subscriptions) ? b.subscriptions : [], b.displayName, b.parent);
  });

  route('/subscriptions', (b) => {
    need(typeof b.subscriptionId === 'string' && b.subscriptionId, "'subscriptionId' is required");
    need(
      b.state === undefined || ['Enabled', 'Warned', 'PastDue', 'Disabled', 'Deleted'].includes(b.state),
      "'state' must be Enabled, Warned, PastDue, Disabled or Deleted",
    );
    const s = ensureSubscription(ctx, b.subscriptionId, b.displayName, b);
    if (typeof b.managementGroup === 'string') addToGroup(ctx, b.managementGroup, [s.subscriptionId]);
    return s;
  });

  route('/resourceGroups', (b) => {
    need(
      typeof b.subscriptionId === 'string' && typeof b.name === 'string',
      "'subscriptionId' and 'name' are required",
    );
    const s = ensureSubscription(ctx, b.subscriptionId);
    return ctx.store.putResourceGroup({
      subscriptionId: s.subscriptionId,
      name: b.name,
      location: typeof b.location === 'string' ? b.location : 'eastus',
      ...(b.tags ? { tags: b.tags } : {}),
    });
  });

  // RBAC: deny a principal (token oid or app id) actions (default every read) at and below a scope.
  route('/rbac/deny', (b) => {
    need(typeof b.principalId === 'string' && b.principalId, "'principalId' (object id or app id) is required");
    need(
      typeof b.scope === 'string' && b.scope.startsWith('/'),
      "'scope' must be an ARM scope such as /subscriptions/{id}",
    );
    need(
      b.actions === undefined || (Array.isArray(b.actions) && b.actions.every((a: unknown) => typeof a === 'string')),
      "'actions' must be a list of action patterns",
    );
    return ctx.rbac.deny({ principalId: b.principalId, scope: b.scope, actions: b.actions });
  });
  route('/rbac/clear', (b) => ({
    removed: ctx.rbac.clear(typeof b.principalId === 'string' ? b.principalId : undefined),
  }));

  route('/securityConnectors', (b) => {
    need(b.environment === 'AWS' || b.environment === 'GCP', "'environment' must be AWS or GCP");
    need(b.subscriptionId && b.resourceGroup && b.name, "'subscriptionId', 'resourceGroup' and 'name' are required");
    const membership = b.organizationMembershipType;
    need(
      membership === undefined || membership === 'Organization' || membership === 'Member',
      "'organizationMembershipType' must be Organization or Member",
    );
    need(membership !== 'Member' || typeof b.parentHierarchyId === 'string', "a Member needs 'parentHierarchyId'");
    const sub = ensureSubscription(ctx, b.subscriptionId);
    const id = `/subscriptions/${sub.subscriptionId}/resourceGroups/${b.resourceGroup}/providers/Microsoft.Security/securityConnectors/${b.name}`;
    ensureResourceGroupOf(ctx, id);
    return ctx.store.putConnector({
      id,
      subscriptionId: sub.subscriptionId,
      resourceGroup: b.resourceGroup,
      name: b.name,
      environment: b.environment,
      hierarchyIdentifier: String(
        b.hierarchyIdentifier ?? (b.environment === 'AWS' ? '000000000000' : 'sandbox-project'),
      ),
      ...(membership ? { organizationMembershipType: membership } : {}),
      ...(membership === 'Member' ? { parentHierarchyId: String(b.parentHierarchyId) } : {}),
    });
  });

  // Add one stored assessment: Azure (`resourceId`) or multicloud (`connectorId` + `entity`).
  route('/assessments', (b) => {
    need(typeof b.assessmentName === 'string', "'assessmentName' is required");
    need(STATUS.includes(b.status), "'status' must be Healthy, Unhealthy or NotApplicable");
    const now = new Date(ctx.clock.now()).toISOString();
    if (b.connectorId) {
      const c = ctx.store.connector(b.connectorId);
      need(c, `unknown security connector '${b.connectorId}'`);
      addMulticloud(
        ctx.store,
        c!.id,
        c!.environment === 'AWS' ? 'Aws' : 'Gcp',
        String(b.entity ?? 'entity'),
        b.assessmentName,
        b.status,
        now,
      );
      return getAssessment(ctx.store, `${c!.id}/securityentitydata/${b.entity ?? 'entity'}`, b.assessmentName, {
        apiVersion: '2025-05-04',
        expandMetadata: true,
      });
    }
    const sub = /^\/subscriptions\/([^/]+)/i.exec(String(b.resourceId ?? ''));
    need(sub, "'resourceId' must start with /subscriptions/{id}");
    const s = ensureSubscription(ctx, sub![1]);
    ensureResourceGroupOf(ctx, b.resourceId);
    const a: StoredAssessment = {
      resourceId: b.resourceId,
      name: b.assessmentName,
      resourceDetails: { source: 'Azure', id: b.resourceId },
      code: b.status,
      cause: b.cause,
      description: b.description,
      firstEvaluationDate: now,
      statusChangeDate: now,
      additionalData: b.additionalData,
    };
    ctx.store.putAssessment(s.subscriptionId, a);
    return getAssessment(ctx.store, a.resourceId, a.name, { apiVersion: '2025-05-04', expandMetadata: true });
  });

  route('/generate', (b) => {
    const started = performance.now();
    need(typeof b.subscriptionId === 'string', "'subscriptionId' is required");
    const count = Number(b.count ?? 0);
    need(Number.isInteger(count) && count >= 0 && count <= 50_000_000, "'count' must be an integer 0..50,000,000");
    const recommendations = Number(b.recommendations ?? 5);
    need(
      Number.isInteger(recommendations) && recommendations >= 1 && recommendations <= MAX_GENERATED_RECOMMENDATIONS,
      `'recommendations' must be 1..${MAX_GENERATED_RECOMMENDATIONS}`,
    );
    const unhealthyRatio = Number(b.unhealthyRatio ?? 0.3);
    need(unhealthyRatio >= 0 && unhealthyRatio <= 1, "'unhealthyRatio' must be 0..1");
    const sub = ensureSubscription(ctx, b.subscriptionId);
    if (typeof b.managementGroup === 'string') addToGroup(ctx, b.managementGroup, [sub.subscriptionId]);
    const g = ctx.store.putGeneration({
      subscriptionId: sub.subscriptionId,
      count,
      unhealthyRatio,
      recommendations,
      seed: Number(b.seed ?? 1) | 0,
      createdAt: new Date(ctx.clock.now()).toISOString(),
    });
    return { ...g, elapsedMs: Math.round(performance.now() - started) };
  });

  // Flip one assessment (resourceId + assessmentName, or subscriptionId + index) or a range of
  // generated ones (subscriptionId + index + count).
  route('/assessments/flip', (b) => {
    need(STATUS.includes(b.status), "'status' must be Healthy, Unhealthy or NotApplicable");
    const status = b.status as Status;
    const changedAt = new Date(ctx.clock.now()).toISOString();
    const cause = typeof b.cause === 'string' ? b.cause : null;
    if (typeof b.resourceId === 'string') {
      need(typeof b.assessmentName === 'string', "'assessmentName' is required with 'resourceId'");
      const stored = ctx.store.assessment(assessmentId(b.resourceId, b.assessmentName));
      if (stored) {
        if (stored.code !== status) stored.statusChangeDate = changedAt;
        stored.code = status;
        stored.cause = cause ?? undefined;
        ctx.store.putAssessment(b.resourceId.split('/')[2], stored);
        return {
          flipped: 1,
          assessment: getAssessment(ctx.store, b.resourceId, b.assessmentName, {
            apiVersion: '2025-05-04',
            expandMetadata: false,
          }),
        };
      }
      const loc = locateGenerated(ctx.store, b.resourceId, b.assessmentName);
      if (!loc)
        throw new ArmError(404, 'ResourceNotFound', `No assessment '${b.assessmentName}' on '${b.resourceId}'.`);
      ctx.store.putOverrides(loc.g.subscriptionId, [loc.index], { code: status, cause, changedAt });
      return {
        flipped: 1,
        index: loc.index,
        assessment: renderGenerated(generatedItem(loc.g, loc.index, { code: status, cause, changedAt }), {
          apiVersion: '2025-05-04',
          expandMetadata: false,
        }),
      };
    }
    need(
      typeof b.subscriptionId === 'string' && Number.isInteger(b.index),
      "give 'resourceId' + 'assessmentName', or 'subscriptionId' + 'index'",
    );
    const g = ctx.store.generation(b.subscriptionId);
    need(g, `subscription '${b.subscriptionId}' has no generated assessments`);
    const n = Number(b.count ?? 1);
    need(Number.isInteger(n) && n >= 1 && b.index >= 0 && b.index + n <= g!.count, "'index'/'count' out of range");
    const indexes = Array.from({ length: n }, (_, k) => b.index + k);
    ctx.store.putOverrides(g!.subscriptionId, indexes, { code: status, cause, changedAt });
    const first = renderGenerated(generatedItem(g!, b.index, { code: status, cause, changedAt }), {
      apiVersion: '2025-05-04',
      expandMetadata: false,
    });
    return { flipped: n, assessment: first };
  });
}
