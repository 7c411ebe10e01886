import { HttpClient, HttpError, type AuthProvider, type OutboundRecorder } from '../http.ts';
import { PermanentError } from '../../engine/errors.ts';

/**
 * Thin Microsoft Graph client for entitlement management: the resume call the flow depends on,
 * the request lookup, and the list/create calls a demo needs to set up an access package with a
 * custom extension. Retries, Retry-After and the call record come from HttpClient.
 */

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const EM = '/identityGovernance/entitlementManagement';

export type ApiVersion = 'v1.0' | 'beta';

export interface GraphClientOptions {
  /** `https://graph.microsoft.com`, or the sandbox's graphUrl. No version segment. */
  graphUrl: string;
  auth: AuthProvider;
  apiVersion?: ApiVersion;
  ca?: string | Buffer;
  recorder?: OutboundRecorder;
  timeoutMs?: number;
  maxRetries?: number;
}

/**
 * Graph refused the resume because the request is no longer waiting for this callback (already
 * resumed, timed out, denied, or gone). Retrying cannot help: the flow ends the item.
 */
export class ResumeNotWaiting extends PermanentError {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'ResumeNotWaiting';
  }
}

export type AccessPackageStage = 'assignmentRequestCreated' | 'assignmentRequestApproved' | 'assignmentRequestGranted' | 'assignmentRequestRemoved';

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
export function buildResumeBody(o: { stage: AccessPackageStage; customExtensionStageInstanceId: string; detail?: string; state?: 'denied' | 'canceled'; source?: string }): ResumeBody {
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

const CALLBACK_PATH = /^(?:\/(?:v1\.0|beta))?\/identityGovernance\/entitlementManagement\/(assignmentRequests|accessPackageAssignmentRequests)\/([0-9a-fA-F-]{36})\/resume$/;

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
    if (m[2].toLowerCase() !== requestId.toLowerCase()) throw new PermanentError('CallbackUriPath names another request');
    if (m[1] === 'accessPackageAssignmentRequests' && apiVersion === 'beta') collection = m[1];
  }
  return `/${apiVersion}${EM}/${collection}/${requestId}/resume`;
}

export interface GraphList<T> {
  value: T[];
  '@odata.nextLink'?: string;
}

type Obj = Record<string, any>;

export class GraphClient {
  readonly http: HttpClient;
  readonly apiVersion: ApiVersion;

  constructor(o: GraphClientOptions) {
    this.apiVersion = o.apiVersion ?? 'v1.0';
    // Only defined options: HttpClient's defaults are spread under them, so `undefined` would win.
    const optional = Object.fromEntries(
      Object.entries({ ca: o.ca, recorder: o.recorder, timeoutMs: o.timeoutMs, maxRetries: o.maxRetries }).filter(([, v]) => v !== undefined),
    );
    this.http = new HttpClient({ upstream: 'graph', baseUrl: o.graphUrl, auth: o.auth, ...optional });
  }

  private em(path: string, v = this.apiVersion): string {
    return `/${v}${EM}${path}`;
  }

  /**
   * Resume a request waiting on a custom-extension callout. Resolves on 204. Throws
   * ResumeNotWaiting when Graph says the request isn't waiting (400) or doesn't exist (404);
   * 429/5xx/network come back as the engine's RetryableError, other failures as PermanentError.
   */
  async resumeAssignmentRequest(requestId: string, body: ResumeBody, o: { callbackUriPath?: string; apiVersion?: ApiVersion } = {}): Promise<void> {
    const path = resumePath(requestId, o.apiVersion ?? this.apiVersion, o.callbackUriPath);
    try {
      await this.http.request({ method: 'POST', path, json: body });
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      const err = (e.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (e.status === 404 || (e.status === 400 && /not waiting|waitingforcallback|no.*callback/i.test(err?.message ?? ''))) {
        throw new ResumeNotWaiting(`resume of ${requestId} refused: ${err?.code ?? e.status} ${err?.message ?? ''}`.trim(), e.status, err?.code ?? '');
      }
      throw e.toJobError();
    }
  }

  /** One assignment request (with its customExtensionCalloutInstances); errors as engine errors. */
  async getAssignmentRequest(id: string, o: { expand?: string } = {}): Promise<Obj> {
    try {
      return (await this.http.request<Obj>({ method: 'GET', path: this.em(`/assignmentRequests/${encodeURIComponent(id)}`), query: { $expand: o.expand } })).body;
    } catch (e) {
      throw e instanceof HttpError ? e.toJobError() : e;
    }
  }

  // ---- setup (demo, tests): these throw HttpError as is -----------------------------------------

  /** Every item of a collection, following `@odata.nextLink`. */
  async listAll<T = Obj>(path: string, query?: Record<string, string | undefined>): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = path;
    let q = query;
    while (next) {
      const page: GraphList<T> = (await this.http.request<GraphList<T>>({ method: 'GET', path: next, query: q })).body;
      out.push(...page.value);
      next = page['@odata.nextLink'];
      q = undefined; // the next link carries its own query
    }
    return out;
  }

  private async create<T = Obj>(path: string, body: unknown): Promise<T> {
    // Creation is not idempotent: no retry on 5xx here; callers look up by displayName instead.
    return (await this.http.request<T>({ method: 'POST', path: this.em(path), json: body })).body;
  }

  listCatalogs(filter?: string) {
    return this.listAll(this.em('/catalogs'), { $filter: filter });
  }
  createCatalog(body: { displayName: string; description?: string; isExternallyVisible?: boolean }) {
    return this.create('/catalogs', body);
  }
  listCustomWorkflowExtensions(catalogId: string) {
    return this.listAll(this.em(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`));
  }
  /** A request-stage extension that calls `url` with a bearer token for `resourceId`, waiting up to `timeout`. */
  createCustomWorkflowExtension(catalogId: string, o: { displayName: string; description?: string; url: string; resourceId: string; timeout?: string; logicApp?: { subscriptionId: string; resourceGroupName: string; logicAppWorkflowName: string } }) {
    return this.create(`/catalogs/${encodeURIComponent(catalogId)}/customWorkflowExtensions`, {
      '@odata.type': '#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension',
      displayName: o.displayName,
      description: o.description ?? o.displayName,
      endpointConfiguration: { '@odata.type': '#microsoft.graph.logicAppTriggerEndpointConfiguration', ...(o.logicApp ?? {}), url: o.url },
      authenticationConfiguration: { '@odata.type': '#microsoft.graph.azureAdTokenAuthentication', resourceId: o.resourceId },
      callbackConfiguration: { '@odata.type': '#microsoft.graph.customExtensionCallbackConfiguration', timeoutDuration: o.timeout ?? 'P14D' },
    });
  }
  listAccessPackages(filter?: string) {
    return this.listAll(this.em('/accessPackages'), { $filter: filter });
  }
  createAccessPackage(body: { displayName: string; description?: string; catalog: { id: string } }) {
    return this.create('/accessPackages', body);
  }
  listAssignmentPolicies(filter?: string) {
    return this.listAll(this.em('/assignmentPolicies'), { $filter: filter });
  }
  createAssignmentPolicy(body: Obj) {
    return this.create('/assignmentPolicies', body);
  }
  async updateAssignmentPolicy(id: string, body: Obj): Promise<Obj> {
    return (await this.http.request<Obj>({ method: 'PUT', path: this.em(`/assignmentPolicies/${encodeURIComponent(id)}`), json: body })).body;
  }
  createAssignmentRequest(body: { requestType: string; assignment: Obj; justification?: string; answers?: unknown[] }) {
    return this.create('/assignmentRequests', body);
  }
  listAssignmentRequests(filter?: string) {
    return this.listAll(this.em('/assignmentRequests'), { $filter: filter });
  }
  listAssignments(filter?: string) {
    return this.listAll(this.em('/assignments'), { $filter: filter });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
