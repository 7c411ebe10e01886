import type { DocStore } from '../shared/persist.ts';
import {
  C,
  type AccessPackage,
  type Assignment,
  type AssignmentRequest,
  type Catalog,
  type DirectoryUser,
  type Extension,
  type Policy,
} from './em-model.ts';

/** The callout body Entra POSTs: flat, PascalCase (§2.3). */
export function calloutPayload(
  store: DocStore,
  r: AssignmentRequest,
  stage: string,
  instanceId: string,
  ext: Extension,
): Record<string, unknown> {
  const pkg = store.get<AccessPackage>(C.packages, r._accessPackageId);
  const cat = pkg && store.get<Catalog>(C.catalogs, pkg._catalogId);
  const policy = store.get<Policy>(C.policies, r._policyId);
  const user = store.get<DirectoryUser>(C.users, r._targetId);
  const assignment = store.get<Assignment>(C.assignments, r._assignmentId);
  return {
    AccessPackageAssignmentRequestId: r.id,
    CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${r.id}/resume`,
    CustomExtensionStageInstanceId: instanceId,
    Stage: stage,
    RequestType: r.requestType,
    State: r.state,
    Status: r.status,
    Answers: r.answers.map((a) => ({
      AnsweredQuestion: { Id: a.answeredQuestion?.id ?? null, TextString: a.answeredQuestion?.text ?? null },
      Value: a.value ?? null,
    })),
    CallbackConfiguration: { DurationBeforeTimeout: ext.callbackConfiguration?.timeoutDuration ?? 'P14D' },
    AccessPackage: { Id: pkg?.id, DisplayName: pkg?.displayName, Description: pkg?.description },
    AccessPackageCatalog: { Id: cat?.id, DisplayName: cat?.displayName, Description: cat?.description },
    Assignment: {
      Id: r._assignmentId,
      // A removed assignment is gone by the removed stage: it was delivered, or it expired.
      State:
        assignment?.state ?? (r.requestType.endsWith('Remove') ? (r._expiredDateTime ? 'expired' : 'delivered') : null),
      Status: assignment?.status ?? null,
      ...(r._expiredDateTime ? { ExpiredDateTime: r._expiredDateTime } : {}),
      AssignmentPolicy: { Id: policy?.id, DisplayName: policy?.displayName },
      Target: {
        Id: user?.id ?? r._targetId,
        ObjectId: r._targetId,
        DisplayName: user?.displayName,
        Email: user?.mail,
        PrincipalName: user?.userPrincipalName,
        ConnectedOrganization: null,
      },
    },
    Requestor: { Id: r._requestor.id, ObjectId: r._requestor.objectId, DisplayName: r._requestor.displayName },
  };
}
