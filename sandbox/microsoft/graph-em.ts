import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import type { OffsetClock } from '../shared/clock.ts';
import type { Entra } from './entra.ts';
import { EM_READ, EM_READWRITE } from './constants.ts';
import { extensionTarget, STATUS, type EmEngine } from './callouts.ts';
import {
  ALL_STAGES,
  C,
  publicShape,
  subjectOf,
  type AccessPackage,
  type Assignment,
  type AssignmentRequest,
  type Catalog,
  type DirectoryUser,
  type Extension,
  type Policy,
} from './em-model.ts';
import { authorizeGraph, badRequest, notFound, page, parseDuration, type GraphCaller } from './graph-http.ts';

/**
 * Graph entitlement management resources under `/v1.0|beta/identityGovernance/entitlementManagement`:
 * catalogs, custom workflow extensions, access packages, assignment policies, assignment requests
 * and assignments. The request pipeline itself lives in callouts.ts, resume in resume.ts.
 */

export interface EmDeps {
  store: DocStore;
  entra: Entra;
  engine: EmEngine;
  clock: OffsetClock;
}

export const READ = [EM_READ, EM_READWRITE];
export const WRITE = [EM_READWRITE];
export const EM_PREFIXES = [
  '/v1.0/identityGovernance/entitlementManagement',
  '/beta/identityGovernance/entitlementManagement',
];

type Handler = (req: FastifyRequest, caller: GraphCaller) => unknown;
type Body = Record<string, any>;

/** The fields findDocs looks up by: each gets an expression index, or every lookup scans the collection. */
function indexLookupFields(store: DocStore): void {
  for (const k of ['_targetId', '_assignmentId', 'requestId'])
    store.db.exec(`CREATE INDEX IF NOT EXISTS docs_by${k} ON docs (coll, json_extract(body, '$.${k}'))`);
}

/** Documents whose top-level fields equal the given values (matched inside SQLite, no full parse). */
export function findDocs<T>(store: DocStore, coll: string, where: Record<string, string>): T[] {
  const keys = Object.keys(where);
  // Sorted here, not by ORDER BY: that would make SQLite walk the (coll, seq) index instead.
  const sql = `SELECT body, seq FROM docs WHERE coll = ? ${keys.map((k) => `AND json_extract(body, '$.${k}') = ?`).join(' ')}`;
  const rows = store.db.prepare(sql).all(coll, ...keys.map((k) => where[k])) as { body: string; seq: number }[];
  return rows.sort((a, b) => a.seq - b.seq).map((r) => JSON.parse(r.body) as T);
}

/** Minimal `$filter`: `a eq 'x'` (also `accessPackage/id eq 'x'`) joined by `and`. */
function applyFilter<T extends Record<string, any>>(
  items: T[],
  filter: string | undefined,
  nav: (it: T) => Record<string, any>,
): T[] {
  if (!filter) return items;
  const terms = filter.split(/\s+and\s+/i).map((t) => /^\s*([\w/]+)\s+eq\s+'([^']*)'\s*$/i.exec(t));
  if (terms.some((t) => !t)) throw badRequest(`Unsupported $filter expression in the sandbox: ${filter}`, 'BadRequest');
  return items.filter((it) =>
    terms.every((t) => {
      const v = t![1].split('/').reduce<any>((o, k) => (o == null ? undefined : o[k]), { ...nav(it), ...it });
      return String(v ?? '').toLowerCase() === t![2].toLowerCase();
    }),
  );
}

export function registerGraphEm(app: FastifyInstance, d: EmDeps, baseUrl: () => string): void {
  const { store, engine } = d;
  indexLookupFields(store);
  const now = () => new Date(d.clock.now()).toISOString();
  const expand = (req: FastifyRequest) => String((req.query as Body).$expand ?? '').toLowerCase();

  const route = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', sub: string, roles: string[], h: Handler, status = 200) => {
    for (const prefix of EM_PREFIXES) {
      app.route({
        method,
        url: prefix + sub,
        handler: async (req, reply) => {
          const caller = await authorizeGraph(d.entra, req, roles);
          const out = await h(req, caller);
          if (out === undefined) return reply.code(204).send();
          return reply.code(status).send(out);
        },
      });
    }
  };
  // Navigation ids (accessPackage/id, target/objectId) are visible to $filter but stay out of bodies.
  const navOf = new WeakMap<object, Body>();
  const withNav = <T extends object>(shape: T, nav: Body): T => (navOf.set(shape, nav), shape);
  const list = <T extends Record<string, unknown>>(req: FastifyRequest, context: string, items: T[]) =>
    page(
      req,
      baseUrl(),
      context,
      applyFilter(items, (req.query as Body).$filter, (it) => navOf.get(it) ?? {}),
    );
  const get = <T>(coll: string, what: string, id: string): T => {
    const doc = store.get<T>(coll, id);
    if (!doc) throw notFound(what, id);
    return doc;
  };
  const withContext = (req: FastifyRequest, context: string, doc: Record<string, unknown>) => ({
    '@odata.context': `${baseUrl()}/${req.url.startsWith('/beta/') ? 'beta' : 'v1.0'}/$metadata#${context}/$entity`,
    ...doc,
  });
  const text = (b: Body, k: string, required = true): string => {
    const v = b[k];
    if (typeof v === 'string' && v.trim()) return v;
    if (required) throw badRequest(`The property '${k}' is required.`, 'InvalidRequest');
    return '';
  };
  const ctx = 'identityGovernance/entitlementManagement';

  // ---- catalogs & custom workflow extensions ----------------------------------------------------

  route('GET', '/catalogs', READ, (req) =>
    list(req, `${ctx}/catalogs`, store.list<Catalog>(C.catalogs).map(publicShape)),
  );
  route('GET', '/catalogs/:id', READ, (req) =>
    withContext(req, `${ctx}/catalogs`, publicShape(get<Catalog>(C.catalogs, 'Catalog', (req.params as Body).id))),
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
      return withContext(req, `${ctx}/catalogs`, publicShape(store.put(C.catalogs, c.id, c)));
    },
    201,
  );

  const extPath = '/catalogs/:id/customWorkflowExtensions';
  route('GET', extPath, READ, (req) => {
    const catalogId = get<Catalog>(C.catalogs, 'Catalog', (req.params as Body).id).id;
    return list(
      req,
      `${ctx}/catalogs('${catalogId}')/customWorkflowExtensions`,
      store
        .list<Extension>(C.extensions)
        .filter((e) => e._catalogId === catalogId)
        .map(publicShape),
    );
  });
  route('GET', `${extPath}/:extId`, READ, (req) => {
    const p = req.params as Body;
    const e = get<Extension>(C.extensions, 'Custom extension', p.extId);
    if (e._catalogId !== p.id) throw notFound('Custom extension', p.extId);
    return withContext(req, `${ctx}/catalogs('${p.id}')/customWorkflowExtensions`, publicShape(e));
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
      return withContext(req, `${ctx}/catalogs('${catalogId}')/customWorkflowExtensions`, publicShape(e));
    },
    201,
  );
  // v1.0 updates with PUT, and "properties not in the request body keep their previous values".
  route('PUT', `${extPath}/:extId`, WRITE, (req, caller) => {
    const p = req.params as Body;
    const existing = get<Extension>(C.extensions, 'Custom extension', p.extId);
    if (existing._catalogId !== p.id) throw notFound('Custom extension', p.extId);
    const e = writeExtension({ ...publicShape(existing), ...((req.body ?? {}) as Body) }, p.id, caller, existing);
    return withContext(req, `${ctx}/catalogs('${p.id}')/customWorkflowExtensions`, publicShape(e));
  });

  // ---- access packages & policies ---------------------------------------------------------------

  const packageShape = (p: AccessPackage, req: FastifyRequest) => ({
    ...publicShape(p),
    ...(expand(req).includes('catalog')
      ? { catalog: publicShape(get<Catalog>(C.catalogs, 'Catalog', p._catalogId)) }
      : {}),
  });
  route('GET', '/accessPackages', READ, (req) =>
    list(
      req,
      `${ctx}/accessPackages`,
      store
        .list<AccessPackage>(C.packages)
        .map((p) => withNav(packageShape(p, req), { catalog: { id: p._catalogId } })),
    ),
  );
  route('GET', '/accessPackages/:id', READ, (req) =>
    withContext(
      req,
      `${ctx}/accessPackages`,
      packageShape(get<AccessPackage>(C.packages, 'Access package', (req.params as Body).id), req),
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
      return withContext(req, `${ctx}/accessPackages`, packageShape(store.put(C.packages, p.id, p), req));
    },
    201,
  );

  const policyShape = (p: Policy, req: FastifyRequest) => ({
    ...publicShape(p),
    ...(expand(req).includes('accesspackage')
      ? { accessPackage: publicShape(get<AccessPackage>(C.packages, 'Access package', p._accessPackageId)) }
      : {}),
  });
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
    list(
      req,
      `${ctx}/assignmentPolicies`,
      store
        .list<Policy>(C.policies)
        .map((p) => withNav(policyShape(p, req), { accessPackage: { id: p._accessPackageId } })),
    ),
  );
  route('GET', '/assignmentPolicies/:id', READ, (req) =>
    withContext(
      req,
      `${ctx}/assignmentPolicies`,
      policyShape(get<Policy>(C.policies, 'Assignment policy', (req.params as Body).id), req),
    ),
  );
  route(
    'POST',
    '/assignmentPolicies',
    WRITE,
    (req) => withContext(req, `${ctx}/assignmentPolicies`, policyShape(writePolicy((req.body ?? {}) as Body), req)),
    201,
  );
  route('PUT', '/assignmentPolicies/:id', WRITE, (req) =>
    withContext(
      req,
      `${ctx}/assignmentPolicies`,
      policyShape(
        writePolicy((req.body ?? {}) as Body, get<Policy>(C.policies, 'Assignment policy', (req.params as Body).id)),
        req,
      ),
    ),
  );

  // ---- assignment requests & assignments --------------------------------------------------------

  const requestShape = (r: AssignmentRequest, req: FastifyRequest) => {
    const x = expand(req);
    const user = store.get<DirectoryUser>(C.users, r._targetId);
    const a = store.get<Assignment>(C.assignments, r._assignmentId);
    return {
      ...publicShape(r),
      ...(x.includes('accesspackage')
        ? { accessPackage: publicShape(get<AccessPackage>(C.packages, 'Access package', r._accessPackageId)) }
        : {}),
      ...(x.includes('assignment')
        ? { assignment: a ? assignmentShape(a, req) : { id: r._assignmentId, state: null, status: null } }
        : {}),
      ...(x.includes('requestor') ? { requestor: r._requestor } : {}),
      ...(x.includes('target') && user ? { target: subjectOf(user) } : {}),
    };
  };
  const assignmentShape = (a: Assignment, req: FastifyRequest) => {
    const x = expand(req);
    const user = store.get<DirectoryUser>(C.users, a._targetId);
    return {
      ...publicShape(a),
      customExtensionCalloutInstances: [],
      ...(x.includes('target') && user ? { target: subjectOf(user) } : {}),
      ...(x.includes('accesspackage')
        ? { accessPackage: publicShape(get<AccessPackage>(C.packages, 'Access package', a._accessPackageId)) }
        : {}),
      ...(x.includes('assignmentpolicy')
        ? { assignmentPolicy: publicShape(get<Policy>(C.policies, 'Assignment policy', a._policyId)) }
        : {}),
    };
  };

  route('GET', '/assignmentRequests', READ, (req) =>
    list(
      req,
      `${ctx}/assignmentRequests`,
      store.list<AssignmentRequest>(C.requests).map((r) =>
        withNav(requestShape(r, req), {
          accessPackage: { id: r._accessPackageId },
          target: { objectId: r._targetId, id: r._targetId },
        }),
      ),
    ),
  );
  route('GET', '/assignmentRequests/:id', READ, (req) =>
    withContext(
      req,
      `${ctx}/assignmentRequests`,
      requestShape(
        get<AssignmentRequest>(C.requests, 'Access package assignment request', (req.params as Body).id),
        req,
      ),
    ),
  );
  route('GET', '/assignments', READ, (req) =>
    list(
      req,
      `${ctx}/assignments`,
      store.list<Assignment>(C.assignments).map((a) =>
        withNav(assignmentShape(a, req), {
          accessPackage: { id: a._accessPackageId },
          target: { objectId: a._targetId, id: a._targetId },
          assignmentPolicy: { id: a._policyId },
        }),
      ),
    ),
  );
  route('GET', '/assignments/:id', READ, (req) =>
    withContext(
      req,
      `${ctx}/assignments`,
      assignmentShape(get<Assignment>(C.assignments, 'Access package assignment', (req.params as Body).id), req),
    ),
  );

  route(
    'POST',
    '/assignmentRequests',
    WRITE,
    (req, caller) => {
      const b = (req.body ?? {}) as Body;
      const type = String(b.requestType ?? '');
      if (!['userAdd', 'adminAdd', 'userRemove', 'adminRemove'].includes(type)) {
        throw badRequest(
          `requestType '${type}' is not supported (userAdd, adminAdd, userRemove, adminRemove).`,
          'InvalidRequest',
        );
      }
      const asg = (b.assignment ?? {}) as Body;
      let pkgId: string, policyId: string, targetId: string, assignmentId: string;
      const open = (r: AssignmentRequest) => !r.completedDateTime;
      if (type.endsWith('Add')) {
        targetId = asg.targetId ?? asg.target?.objectId;
        pkgId = asg.accessPackageId;
        policyId = asg.assignmentPolicyId;
        if (!targetId || !pkgId || !policyId)
          throw badRequest(
            'assignment.targetId, assignment.accessPackageId and assignment.assignmentPolicyId are required.',
            'InvalidRequest',
          );
        const policy = get<Policy>(C.policies, 'Assignment policy', policyId);
        if (policy._accessPackageId !== pkgId)
          throw badRequest('The assignment policy does not belong to the access package.', 'InvalidRequest');
        if (!store.get(C.users, targetId))
          throw badRequest(`Target '${targetId}' was not found in the directory.`, 'InvalidRequest');
        if (findDocs(store, C.assignments, { _targetId: targetId, _accessPackageId: pkgId }).length) {
          throw badRequest(
            'The target already has an active assignment for this access package.',
            'ExistingAssignment',
          );
        }
        if (
          findDocs<AssignmentRequest>(store, C.requests, { _targetId: targetId, _accessPackageId: pkgId }).some(open)
        ) {
          throw badRequest(
            'There is already an open request for this target and access package.',
            'PendingRequestExists',
          );
        }
        assignmentId = randomUUID();
      } else {
        const a = asg.id
          ? store.get<Assignment>(C.assignments, asg.id)
          : findDocs<Assignment>(store, C.assignments, {
              _targetId: String(asg.targetId ?? ''),
              _accessPackageId: String(asg.accessPackageId ?? ''),
            })[0];
        if (!a) throw badRequest(`Access package assignment '${asg.id ?? ''}' was not found.`, 'InvalidRequest');
        if (findDocs<AssignmentRequest>(store, C.requests, { _assignmentId: a.id }).some(open)) {
          throw badRequest('There is already an open request for this assignment.', 'PendingRequestExists');
        }
        ({ _accessPackageId: pkgId, _policyId: policyId, _targetId: targetId, id: assignmentId } = a);
      }
      const user = store.get<DirectoryUser>(C.users, targetId)!;
      const app = d.entra.getApp(caller.appId);
      const r: AssignmentRequest = {
        id: randomUUID(),
        requestType: type,
        state: 'submitted',
        status: STATUS.accepted,
        createdDateTime: now(),
        completedDateTime: null,
        schedule: b.schedule ?? null,
        answers: Array.isArray(b.answers) ? b.answers : [],
        justification: b.justification ?? null,
        customExtensionCalloutInstances: [],
        _accessPackageId: pkgId,
        _policyId: policyId,
        _targetId: targetId,
        _assignmentId: assignmentId,
        // Self-service requests come from the user; admin requests from the calling app.
        _requestor: type.startsWith('user')
          ? { id: user.id, objectId: user.id, displayName: user.displayName, subjectType: 'user' }
          : {
              id: caller.oid,
              objectId: caller.oid,
              displayName: app?.displayName ?? caller.appId,
              subjectType: 'servicePrincipal',
            },
        _phase: type.endsWith('Add') ? 'created' : 'remove',
      };
      store.put(C.requests, r.id, r);
      engine.schedule(r.id);
      return withContext(req, `${ctx}/assignmentRequests`, requestShape(r, req));
    },
    201,
  );
}
