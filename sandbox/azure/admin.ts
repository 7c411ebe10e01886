import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, sendArmError } from './arm.ts';
import { generatedItem, getAssessment, locateGenerated, renderGenerated } from './assessments.ts';
import { MAX_GENERATED_RECOMMENDATIONS } from './catalog.ts';
import { DEMO, addMulticloud } from './seed.ts';
import { assessmentId, type AzureStore, type StoredAssessment } from './store.ts';

/**
 * Control endpoints under `/_sandbox/azure` (no bearer token, like every sandbox admin route):
 * set up management groups / subscriptions / connectors, add assessments, generate large sets,
 * flip statuses. Errors use the ARM envelope too.
 */

interface Ctx {
  store: AzureStore;
  clock: OffsetClock;
}

type Body = Record<string, any>;
const STATUS = ['Healthy', 'Unhealthy', 'NotApplicable'] as const;
type Status = (typeof STATUS)[number];

const need = (cond: unknown, message: string) => {
  if (!cond) throw new ArmError(400, 'InvalidInput', message);
};

function ensureSubscription(ctx: Ctx, subscriptionId: string, displayName?: string) {
  const existing = ctx.store.subscription(subscriptionId);
  if (existing && !displayName) return existing;
  return ctx.store.putSubscription({
    subscriptionId: existing?.subscriptionId ?? subscriptionId,
    displayName: displayName ?? existing?.displayName ?? subscriptionId,
  });
}

function addToGroup(ctx: Ctx, name: string, subscriptionIds: string[], displayName?: string) {
  const mg = ctx.store.managementGroup(name) ?? { name, displayName: displayName ?? name, subscriptions: [] };
  for (const s of subscriptionIds) {
    ensureSubscription(ctx, s);
    if (!mg.subscriptions.some((x) => x.toLowerCase() === s.toLowerCase())) mg.subscriptions.push(s);
  }
  if (displayName) mg.displayName = displayName;
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
    managementGroups: ctx.store.managementGroups(),
    subscriptions: ctx.store.subscriptions(),
    securityConnectors: ctx.store.connectors(),
    generations: ctx.store.subscriptions().flatMap((s) => ctx.store.generation(s.subscriptionId) ?? []),
  }));

  route('/managementGroups', (b) => {
    need(typeof b.name === 'string' && b.name, "'name' is required");
    return addToGroup(ctx, b.name, Array.isArray(b.subscriptions) ? b.subscriptions : [], b.displayName);
  });

  route('/subscriptions', (b) => {
    need(typeof b.subscriptionId === 'string' && b.subscriptionId, "'subscriptionId' is required");
    const s = ensureSubscription(ctx, b.subscriptionId, b.displayName);
    if (typeof b.managementGroup === 'string') addToGroup(ctx, b.managementGroup, [s.subscriptionId]);
    return s;
  });

  route('/securityConnectors', (b) => {
    need(b.environment === 'AWS' || b.environment === 'GCP', "'environment' must be AWS or GCP");
    need(b.subscriptionId && b.resourceGroup && b.name, "'subscriptionId', 'resourceGroup' and 'name' are required");
    const sub = ensureSubscription(ctx, b.subscriptionId);
    const id = `/subscriptions/${sub.subscriptionId}/resourceGroups/${b.resourceGroup}/providers/Microsoft.Security/securityConnectors/${b.name}`;
    return ctx.store.putConnector({
      id,
      subscriptionId: sub.subscriptionId,
      resourceGroup: b.resourceGroup,
      name: b.name,
      environment: b.environment,
      hierarchyIdentifier: String(
        b.hierarchyIdentifier ?? (b.environment === 'AWS' ? '000000000000' : 'sandbox-project'),
      ),
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
