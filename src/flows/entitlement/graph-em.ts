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

  // ---- setup (demo, tests) ----------------------------------------------------------------------

  listCatalogs(filter?: string) {
    return this.graph.listAll<Obj>(this.em('/catalogs'), { $filter: filter });
  }
  createCatalog(body: { displayName: string; description?: string; isExternallyVisible?: boolean }) {
    return this.graph.post<Obj>(this.em('/catalogs'), body);
  }
  listCustomWorkflowExtensions(catalogId: string) {
    return this.graph.listAll<Obj>(this.em(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`));
  }
  /** A request-stage extension that calls `url` with a bearer token for `resourceId`, waiting up to `timeout`. */
  createCustomWorkflowExtension(
    catalogId: string,
    o: {
      displayName: string;
      description?: string;
      url: string;
      resourceId: string;
      timeout?: string;
      logicApp?: { subscriptionId: string; resourceGroupName: string; logicAppWorkflowName: string };
    },
  ) {
    return this.graph.post<Obj>(this.em(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`), {
      '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
      displayName: o.displayName,
      description: o.description ?? o.displayName,
      endpointConfiguration: {
        '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration',
        ...(o.logicApp ?? {}),
        url: o.url,
      },
      authenticationConfiguration: {
        '@odata.type': '#microsoft.graph.azureAdTokenAuthentication',
        resourceId: o.resourceId,
      },
      callbackConfiguration: {
        '@odata.type': '#microsoft.graph.customExtensionCallbackConfiguration',
        timeoutDuration: o.timeout ?? 'P14D',
      },
    });
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
  createAssignmentRequest(body: { requestType: string; assignment: Obj; justification?: string; answers?: unknown[] }) {
    return this.graph.post<Obj>(this.em('/assignmentRequests'), body);
  }
}
