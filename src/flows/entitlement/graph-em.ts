import { HttpError, PermanentError } from '../../engine/errors.ts';
import type { ApiVersion, GraphClient } from '../../connectors/microsoft/graph.ts';

/**
 * The entitlement-management part of Graph this flow uses (wire-format §2): the resume call, the
 * request lookup, and the list/create calls the demo needs to set up an access package with a
 * custom extension.
 */

const EM = '/identityGovernance/entitlementManagement';

/**
 * Graph refused the resume because the request is no longer waiting for this callback (already
 * resumed, timed out, denied, or gone). Retrying cannot help: the flow ends the item.
 */
export class ResumeNotWaiting extends PermanentError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ResumeNotWaiting';
  }
}

export type AccessPackageStage =
  'assignmentRequestCreated' | 'assignmentRequestApproved' | 'assignmentRequestGranted' | 'assignmentRequestRemoved';

export interface ResumeBody {
  source: string;
  type: string;
  data: {
    '@odata.type': string;
    stage: string;
    customExtensionStageInstanceId: string;
    customExtensionStageInstanceDetail?: string;
    state?: 'denied' | 'canceled';
  };
}

/** The resume body for a stage callout (§2.5). `state` ends the request (created/approved stages). */
export function buildResumeBody(o: {
  stage: AccessPackageStage;
  customExtensionStageInstanceId: string;
  detail?: string;
  state?: 'denied' | 'canceled';
  source?: string;
}): ResumeBody {
  return {
    source: o.source ?? 'Ticketloop',
    type: `microsoft.graph.accessPackageCustomExtensionStage.${o.stage}`,
    data: {
      '@odata.type': 'microsoft.graph.accessPackageAssignmentRequestCallbackData',
      stage: o.stage,
      customExtensionStageInstanceId: o.customExtensionStageInstanceId,
      ...(o.detail !== undefined ? { customExtensionStageInstanceDetail: o.detail.slice(0, 1000) } : {}),
      ...(o.state ? { state: o.state } : {}),
    },
  };
}

const CALLBACK_PATH =
  /^(?:\/(?:v1\.0|beta))?\/identityGovernance\/entitlementManagement\/(assignmentRequests|accessPackageAssignmentRequests)\/([0-9a-fA-F-]{36})\/resume$/;

/**
 * The resume path for a request. A callout's CallbackUriPath is honoured only in its known shape and
 * for the same request id (it arrives from outside); v1.0 has no `accessPackageAssignmentRequests`
 * collection, so that beta-only form is rewritten for v1.0 (a mix-up seen in Microsoft's tutorial).
 */
export function resumePath(requestId: string, apiVersion: ApiVersion, callbackUriPath?: string): string {
  if (!/^[0-9a-fA-F-]{36}$/.test(requestId)) throw new PermanentError(`not an assignment request id: ${requestId}`);
  let collection = 'assignmentRequests';
  if (callbackUriPath) {
    const m = CALLBACK_PATH.exec(callbackUriPath);
    if (!m) throw new PermanentError(`unexpected CallbackUriPath: ${callbackUriPath.slice(0, 200)}`);
    if (m[2].toLowerCase() !== requestId.toLowerCase())
      throw new PermanentError('CallbackUriPath names another request');
    if (m[1] === 'accessPackageAssignmentRequests' && apiVersion === 'beta') collection = m[1];
  }
  return `/${apiVersion}${EM}/${collection}/${requestId}/resume`;
}

type Obj = Record<string, any>;

export interface ExtensionOptions {
  displayName?: string;
  /** Where Entra calls: Ticketloop's callout URL, or a Logic App that forwards to Ticketloop. */
  target:
    { url: string } | { logicApp: { subscriptionId: string; resourceGroupName: string; logicAppWorkflowName: string } };
  /** The token audience for direct calls (Ticketloop's app id). */
  resourceId: string;
  /** How long Entra waits for the callback (ISO 8601, 5 minutes to 14 days). */
  timeout: string;
}

/**
 * A request-stage custom extension (§2.1). Called directly, Entra sends a bearer token for
 * `resourceId`; a Logic App gets the default proof-of-possession token and validates it itself.
 */
export function extensionBody(o: ExtensionOptions): Obj {
  const direct = 'url' in o.target;
  return {
    '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
    displayName: o.displayName ?? 'Ticketloop',
    description: 'Opens an ITSM ticket for the request; closing the ticket resumes it (Ticketloop).',
    endpointConfiguration: {
      '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
      ...('url' in o.target ? { url: o.target.url } : o.target.logicApp),
    },
    authenticationConfiguration: direct
      ? { '@odata.type': '#microsoft.graph.azureAdTokenAuthentication', resourceId: o.resourceId }
      : { '@odata.type': '#microsoft.graph.azureAdPopTokenAuthentication' },
    callbackConfiguration: {
      '@odata.type': '#microsoft.graph.customExtensionCallbackConfiguration',
      timeoutDuration: o.timeout,
    },
  };
}

export class EntitlementGraph {
  constructor(readonly graph: GraphClient) {}

  private em(path: string): string {
    return `${EM}${path}`;
  }

  /**
   * Resume a request waiting on a custom-extension callout. Resolves on 204. Throws
   * ResumeNotWaiting when Graph says the request isn't waiting (400) or doesn't exist (404).
   */
  async resumeAssignmentRequest(
    requestId: string,
    body: ResumeBody,
    o: { callbackUriPath?: string; apiVersion?: ApiVersion } = {},
  ): Promise<void> {
    const path = resumePath(requestId, o.apiVersion ?? this.graph.apiVersion, o.callbackUriPath);
    try {
      await this.graph.request({ method: 'POST', path, json: body });
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      const err = (e.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (
        e.status === 404 ||
        (e.status === 400 && /not waiting|waitingforcallback|no.*callback/i.test(err?.message ?? ''))
      ) {
        throw new ResumeNotWaiting(
          `resume of ${requestId} refused: ${err?.code ?? e.status} ${err?.message ?? ''}`.trim(),
          e.status,
          err?.code ?? '',
        );
      }
      throw e;
    }
  }

  /** One assignment request (with its customExtensionCalloutInstances). */
  getAssignmentRequest(id: string, o: { expand?: string } = {}): Promise<Obj> {
    return this.graph.get<Obj>(this.em(`/assignmentRequests/${encodeURIComponent(id)}`), { $expand: o.expand });
  }

  /** The first `top` assignment requests (doctor's read probe). */
  async listAssignmentRequests(o: { top: number }): Promise<Obj[]> {
    return (await this.graph.get<{ value: Obj[] }>(this.em('/assignmentRequests'), { $top: String(o.top) })).value;
  }

  /** A principal's entitlement-management role assignments (catalog roles; `appScopeId` = /AccessPackageCatalog/{id}). */
  async listRoleAssignments(principalId: string): Promise<Obj[]> {
    return this.graph.listAll<Obj>('/roleManagement/entitlementManagement/roleAssignments', {
      $filter: `principalId eq '${principalId.replace(/'/g, "''")}'`,
    });
  }

  // ---- setup (ticketloop setup, demo, tests) ----------------------------------------------------------------------

  listCatalogs(filter?: string) {
    return this.graph.listAll<Obj>(this.em('/catalogs'), { $filter: filter });
  }
  createCatalog(body: { displayName: string; description?: string; isExternallyVisible?: boolean }) {
    return this.graph.post<Obj>(this.em('/catalogs'), body);
  }
  listCustomWorkflowExtensions(catalogId: string) {
    return this.graph.listAll<Obj>(this.em(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`));
  }
  /** A request-stage extension (see extensionBody). */
  createCustomWorkflowExtension(catalogId: string, o: ExtensionOptions) {
    return this.graph.post<Obj>(this.catalogExtensions(catalogId), extensionBody(o));
  }
  /** v1.0 updates an extension with PUT, and only the properties sent change (200 with the extension). */
  updateCustomWorkflowExtension(catalogId: string, id: string, o: ExtensionOptions) {
    const path = this.graph.path(`${this.catalogExtensions(catalogId)}/${encodeURIComponent(id)}`);
    return this.graph.request({ method: 'PUT', path, json: extensionBody(o) });
  }
  private catalogExtensions(catalogId: string) {
    return this.em(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`);
  }
  listAccessPackages(filter?: string) {
    return this.graph.listAll<Obj>(this.em('/accessPackages'), { $filter: filter });
  }
  createAccessPackage(body: { displayName: string; description?: string; catalog: { id: string } }) {
    return this.graph.post<Obj>(this.em('/accessPackages'), body);
  }
  createAssignmentPolicy(body: Obj) {
    return this.graph.post<Obj>(this.em('/assignmentPolicies'), body);
  }
  /** An access package's policies with their custom-extension stage settings. */
  listAssignmentPolicies(accessPackageId: string) {
    return this.graph.listAll<Obj>(this.em('/assignmentPolicies'), {
      $filter: `accessPackage/id eq '${accessPackageId}'`,
      $expand: 'customExtensionStageSettings($expand=customExtension)',
    });
  }
  /** PUT replaces the whole policy: send it back complete. */
  replaceAssignmentPolicy(id: string, body: Obj) {
    const path = this.graph.path(this.em(`/assignmentPolicies/${encodeURIComponent(id)}`));
    return this.graph.request({ method: 'PUT', path, json: body });
  }
  createAssignmentRequest(body: { requestType: string; assignment: Obj; justification?: string; answers?: unknown[] }) {
    return this.graph.post<Obj>(this.em('/assignmentRequests'), body);
  }
}
