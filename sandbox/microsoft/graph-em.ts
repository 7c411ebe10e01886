import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { extensionTarget } from './callouts.ts';
import {
  ALL_STAGES,
  C,
  publicShape,
  type AccessPackage,
  type Catalog,
  type Extension,
  type Policy,
} from './em-model.ts';
import { badRequest, notFound, parseDuration, type GraphCaller } from './graph-http.ts';
import { READ, WRITE, emRouter, type Body, type EmDeps } from './em-http.ts';
import { registerEmRequests } from './graph-em-requests.ts';

/**
 * Graph entitlement management resources under `/v1.0|beta/identityGovernance/entitlementManagement`:
 * catalogs, custom workflow extensions, access packages and assignment policies here; assignment
 * requests and assignments in graph-em-requests.ts. The request pipeline itself lives in
 * callouts.ts, resume in resume.ts, query options ($select, $expand, $filter) in odata.ts.
 */

export function registerGraphEm(app: FastifyInstance, d: EmDeps, baseUrl: () => string): void {
  const { store, engine } = d;
  const em = emRouter(app, d, baseUrl);
  const { route, get, now, text, kinds } = em;

  // ---- catalogs & custom workflow extensions ----------------------------------------------------

  route('GET', '/catalogs', READ, (req) => em.list(req, 'catalogs', kinds.catalog, store.list<Catalog>(C.catalogs)));
  route('GET', '/catalogs/:id', READ, (req) =>
    em.entity(req, 'catalogs', kinds.catalog, get<Catalog>(C.catalogs, 'Catalog', (req.params as Body).id)),
  );
  route(
    'POST',
    '/catalogs',
    WRITE,
    (req) => {
      const b = (req.body ?? {}) as Body;
      const c: Catalog = {
        id: randomUUID(),
        displayName: text(b, 'displayName'),
        description: b.description ?? null,
        catalogType: 'userManaged',
        state: b.state ?? 'published',
        isExternallyVisible: Boolean(b.isExternallyVisible),
        createdDateTime: now(),
        modifiedDateTime: now(),
      };
      return em.entity(req, 'catalogs', kinds.catalog, store.put(C.catalogs, c.id, c));
    },
    201,
  );

  const extPath = '/catalogs/:id/customWorkflowExtensions';
  const extContext = (catalogId: string) => `catalogs('${catalogId}')/customWorkflowExtensions`;
  route('GET', extPath, READ, (req) => {
    const catalogId = get<Catalog>(C.catalogs, 'Catalog', (req.params as Body).id).id;
    const extensions = store.list<Extension>(C.extensions).filter((e) => e._catalogId === catalogId);
    return em.list(req, extContext(catalogId), kinds.extension, extensions);
  });
  route('GET', `${extPath}/:extId`, READ, (req) => {
    const p = req.params as Body;
    const e = get<Extension>(C.extensions, 'Custom extension', p.extId);
    if (e._catalogId !== p.id) throw notFound('Custom extension', p.extId);
    return em.entity(req, extContext(p.id), kinds.extension, e);
  });
  route('DELETE', `${extPath}/:extId`, WRITE, (req) => {
    const p = req.params as Body;
    get<Extension>(C.extensions, 'Custom extension', p.extId);
    store.delete(C.extensions, p.extId);
    return undefined;
  });
  /** Validate an extension body (POST, or PUT merged over the stored one) and store it. */
  const writeExtension = (b: Body, catalogId: string, caller: GraphCaller, existing?: Extension): Extension => {
    const type = String(b['@odata.type'] ?? '').replace(/^#?/, '#');
    if (
      type !== '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension' &&
      type !== '#microsoft.graph.accessPackageAssignmentWorkflowExtension'
    ) {
      throw badRequest(
        "'@odata.type' must be #microsoft.graph.accessPackageAssignmentRequestWorkflowExtension or #microsoft.graph.accessPackageAssignmentWorkflowExtension.",
        'InvalidRequest',
      );
    }
    const endpoint = (b.endpointConfiguration ?? {}) as Body;
    const target = extensionTarget({ endpointConfiguration: endpoint } as Extension);
    if (!target || !/^https?:\/\//.test(target)) {
      throw badRequest(
        'endpointConfiguration needs the callout target: logicAppTriggerEndpointConfiguration.url (or httpRequestEndpoint.targetUrl) in the sandbox.',
        'InvalidRequest',
      );
    }
    const cb = (b.callbackConfiguration ?? null) as Body | null;
    // The schema property is timeoutDuration; Microsoft's own example sends durationBeforeTimeout.
    const timeout = cb ? (cb.timeoutDuration ?? cb.durationBeforeTimeout) : undefined;
    const timeoutMs = parseDuration(timeout);
    if (timeout !== undefined && (timeoutMs === undefined || timeoutMs < 5 * 60_000 || timeoutMs > 14 * 86_400_000)) {
      throw badRequest(
        `callbackConfiguration.timeoutDuration '${timeout}' must be an ISO 8601 duration between 5 minutes and 14 days.`,
        'InvalidRequest',
      );
    }
    const by = caller.appId;
    const e: Extension = {
      '@odata.type': type,
      id: existing?.id ?? randomUUID(),
      displayName: text(b, 'displayName'),
      description: b.description ?? null,
      endpointConfiguration: endpoint,
      authenticationConfiguration: b.authenticationConfiguration ?? {
        '@odata.type': '#microsoft.graph.azureAdPopTokenAuthentication',
      },
      clientConfiguration: b.clientConfiguration ?? { maximumRetries: 1, timeoutInMilliseconds: 10_000 },
      callbackConfiguration: timeout
        ? { '@odata.type': '#microsoft.graph.customExtensionCallbackConfiguration', timeoutDuration: timeout }
        : null,
      createdBy: existing?.createdBy ?? by,
      createdDateTime: existing?.createdDateTime ?? now(),
      lastModifiedBy: by,
      lastModifiedDateTime: now(),
      _catalogId: catalogId,
    };
    store.put(C.extensions, e.id, e);
    return e;
  };
  route(
    'POST',
    extPath,
    WRITE,
    (req, caller) => {
      const catalogId = get<Catalog>(C.catalogs, 'Catalog', (req.params as Body).id).id;
      const e = writeExtension((req.body ?? {}) as Body, catalogId, caller);
      engine.connectionTest(e);
      return em.entity(req, extContext(catalogId), kinds.extension, e);
    },
    201,
  );
  // v1.0 updates with PUT, and "properties not in the request body keep their previous values".
  route('PUT', `${extPath}/:extId`, WRITE, (req, caller) => {
    const p = req.params as Body;
    const existing = get<Extension>(C.extensions, 'Custom extension', p.extId);
    if (existing._catalogId !== p.id) throw notFound('Custom extension', p.extId);
    const e = writeExtension({ ...publicShape(existing), ...((req.body ?? {}) as Body) }, p.id, caller, existing);
    return em.entity(req, extContext(p.id), kinds.extension, e);
  });

  // ---- access packages & policies ---------------------------------------------------------------

  route('GET', '/accessPackages', READ, (req) =>
    em.list(req, 'accessPackages', kinds.accessPackage, store.list<AccessPackage>(C.packages)),
  );
  route('GET', '/accessPackages/:id', READ, (req) =>
    em.entity(
      req,
      'accessPackages',
      kinds.accessPackage,
      get<AccessPackage>(C.packages, 'Access package', (req.params as Body).id),
    ),
  );
  route(
    'POST',
    '/accessPackages',
    WRITE,
    (req) => {
      const b = (req.body ?? {}) as Body;
      const catalogId = b.catalog?.id ?? b.catalogId;
      if (!catalogId) throw badRequest("The property 'catalog' is required.", 'InvalidRequest');
      get<Catalog>(C.catalogs, 'Catalog', catalogId);
      const p: AccessPackage = {
        id: randomUUID(),
        displayName: text(b, 'displayName'),
        description: b.description ?? null,
        isHidden: Boolean(b.isHidden),
        createdDateTime: now(),
        modifiedDateTime: now(),
        _catalogId: catalogId,
      };
      return em.entity(req, 'accessPackages', kinds.accessPackage, store.put(C.packages, p.id, p));
    },
    201,
  );

  const stageSettings = (b: Body, catalogId: string) =>
    ((b.customExtensionStageSettings ?? []) as Body[]).map((s) => {
      if (!ALL_STAGES.includes(s.stage))
        throw badRequest(`Unknown customExtensionStageSettings stage '${s.stage}'.`, 'InvalidRequest');
      const id = s.customExtension?.id;
      const e = id && store.get<Extension>(C.extensions, id);
      if (!e || e._catalogId !== catalogId)
        throw badRequest(`Custom extension '${id}' was not found in the access package's catalog.`, 'InvalidRequest');
      return { id: s.id ?? randomUUID(), stage: s.stage, customExtension: { id } };
    });
  const writePolicy = (b: Body, existing?: Policy): Policy => {
    const pkgId = b.accessPackage?.id ?? b.accessPackageId ?? existing?._accessPackageId;
    if (!pkgId) throw badRequest("The property 'accessPackage' is required.", 'InvalidRequest');
    const pkg = get<AccessPackage>(C.packages, 'Access package', pkgId);
    const p: Policy = {
      id: existing?.id ?? randomUUID(),
      displayName: text(b, 'displayName'),
      description: b.description ?? null,
      allowedTargetScope: b.allowedTargetScope ?? 'allMemberUsers',
      specificAllowedTargets: b.specificAllowedTargets ?? [],
      expiration: b.expiration ?? { type: 'noExpiration', endDateTime: null, duration: null },
      requestorSettings: b.requestorSettings ?? {
        enableTargetsToSelfAddAccess: true,
        enableTargetsToSelfRemoveAccess: true,
        allowCustomAssignmentSchedule: false,
      },
      requestApprovalSettings: b.requestApprovalSettings ?? {
        isApprovalRequiredForAdd: false,
        isApprovalRequiredForUpdate: false,
        stages: [],
      },
      reviewSettings: b.reviewSettings ?? null,
      automaticRequestSettings: b.automaticRequestSettings ?? null,
      questions: b.questions ?? [],
      customExtensionStageSettings: stageSettings(b, pkg._catalogId),
      createdDateTime: existing?.createdDateTime ?? now(),
      modifiedDateTime: now(),
      _accessPackageId: pkg.id,
    };
    return store.put(C.policies, p.id, p);
  };
  route('GET', '/assignmentPolicies', READ, (req) =>
    em.list(req, 'assignmentPolicies', kinds.policy, store.list<Policy>(C.policies)),
  );
  route('GET', '/assignmentPolicies/:id', READ, (req) =>
    em.entity(
      req,
      'assignmentPolicies',
      kinds.policy,
      get<Policy>(C.policies, 'Assignment policy', (req.params as Body).id),
    ),
  );
  route(
    'POST',
    '/assignmentPolicies',
    WRITE,
    (req) => em.entity(req, 'assignmentPolicies', kinds.policy, writePolicy((req.body ?? {}) as Body)),
    201,
  );
  route('PUT', '/assignmentPolicies/:id', WRITE, (req) => {
    const existing = get<Policy>(C.policies, 'Assignment policy', (req.params as Body).id);
    return em.entity(req, 'assignmentPolicies', kinds.policy, writePolicy((req.body ?? {}) as Body, existing));
  });

  registerEmRequests(em, d);
}
