/**
 * Entitlement-management documents as the sandbox stores them, and their Graph (camelCase) shapes.
 * Fields starting with `_` are sandbox bookkeeping and never leave the sandbox.
 */

export const C = {
  catalogs: 'em-catalogs',
  packages: 'em-packages',
  policies: 'em-policies',
  extensions: 'em-extensions',
  requests: 'em-requests',
  assignments: 'em-assignments',
  resumes: 'em-resumes',
  callouts: 'em-callouts',
  notifications: 'em-notifications',
  users: 'entra-users',
} as const;

export const REQUEST_STAGES = [
  'assignmentRequestCreated',
  'assignmentRequestApproved',
  'assignmentRequestGranted',
  'assignmentRequestRemoved',
] as const;
export type RequestStage = (typeof REQUEST_STAGES)[number];
export const ALL_STAGES = [
  ...REQUEST_STAGES,
  'assignmentFourteenDaysBeforeExpiration',
  'assignmentOneDayBeforeExpiration',
];

export interface Catalog {
  id: string;
  displayName: string;
  description: string | null;
  catalogType: string;
  state: string;
  isExternallyVisible: boolean;
  createdDateTime: string;
  modifiedDateTime: string;
}

export interface AccessPackage {
  id: string;
  displayName: string;
  description: string | null;
  isHidden: boolean;
  createdDateTime: string;
  modifiedDateTime: string;
  _catalogId: string;
}

export interface StageSetting {
  id: string;
  stage: string;
  customExtension: { id: string };
}

export interface Policy {
  id: string;
  displayName: string;
  description: string | null;
  allowedTargetScope: string;
  specificAllowedTargets: unknown[];
  expiration: unknown;
  requestorSettings: unknown;
  requestApprovalSettings: {
    isApprovalRequiredForAdd?: boolean;
    isApprovalRequiredForUpdate?: boolean;
    stages?: unknown[];
  } | null;
  reviewSettings: unknown;
  automaticRequestSettings: unknown;
  questions: unknown[];
  customExtensionStageSettings: StageSetting[];
  createdDateTime: string;
  modifiedDateTime: string;
  _accessPackageId: string;
}

export interface Extension {
  '@odata.type': string;
  id: string;
  displayName: string;
  description: string | null;
  endpointConfiguration: Record<string, unknown>;
  authenticationConfiguration: Record<string, unknown> | null;
  clientConfiguration: { maximumRetries?: number; timeoutInMilliseconds?: number } | null;
  callbackConfiguration: { '@odata.type'?: string; timeoutDuration: string } | null;
  createdBy: string;
  createdDateTime: string;
  lastModifiedBy: string;
  lastModifiedDateTime: string;
  _catalogId: string;
}

export interface CalloutInstance {
  id: string;
  customExtensionId: string;
  detail: string | null;
  externalCorrelationId: string | null;
  status: 'calloutSent' | 'callbackReceived' | 'calloutFailed' | 'callbackTimedOut' | 'waitingForCallback';
}

/** Where a request is in its pipeline, and what it is waiting for. */
export type Phase = 'created' | 'approval' | 'approved' | 'deliver' | 'granted' | 'remove' | 'removed' | 'done';
export const ADD_PIPELINE: Phase[] = ['created', 'approval', 'approved', 'deliver', 'granted', 'done'];
export const REMOVE_PIPELINE: Phase[] = ['remove', 'removed', 'done'];

export interface Wait {
  phase: Phase;
  stage?: RequestStage;
  instanceId?: string;
  extensionId?: string;
  /** Sandbox-clock ms when the callback times out. */
  deadline?: number;
}

export interface AssignmentRequest {
  id: string;
  requestType: string;
  state: string;
  status: string;
  createdDateTime: string;
  completedDateTime: string | null;
  schedule: unknown;
  answers: {
    '@odata.type'?: string;
    value?: string;
    displayValue?: string;
    answeredQuestion?: { id?: string; text?: string };
  }[];
  justification: string | null;
  customExtensionCalloutInstances: CalloutInstance[];
  _accessPackageId: string;
  _policyId: string;
  _targetId: string;
  _assignmentId: string;
  _requestor: { id: string; objectId: string; displayName: string; subjectType: string };
  _phase: Phase;
  _wait?: Wait;
  /** systemRemove requests: when the assignment's schedule ended. */
  _expiredDateTime?: string;
}

export interface Assignment {
  id: string;
  state: string;
  status: string;
  expiredDateTime: string | null;
  schedule: unknown;
  _accessPackageId: string;
  _policyId: string;
  _targetId: string;
  _catalogId: string;
  /** Sandbox-clock ms when the schedule ends and the assignment expires (absent: no expiration, or done). */
  _endsAt?: number;
}

export interface DirectoryUser {
  id: string;
  displayName: string;
  mail: string;
  userPrincipalName: string;
}

export interface ResumeRecord {
  id: string;
  receivedAt: string;
  requestId: string;
  path: string;
  apiVersion: string;
  httpStatus: number;
  accepted: boolean;
  error?: string;
  callerAppId?: string;
  /** What let the caller resume: the application permission or a catalog role. */
  authorizedBy?: 'application permission' | 'catalog role';
  source?: string;
  type?: string;
  stage?: string;
  customExtensionStageInstanceId?: string;
  state?: string;
  detail?: string;
}

/** An email Entra sent (`GET /_sandbox/graph/notifications`): one per request outcome. */
export interface NotificationRecord {
  id: string;
  sentAt: string;
  requestId: string;
  requestType: string;
  template:
    | 'requestDelivered'
    | 'requestFailed'
    | 'requestDenied'
    | 'requestCanceled'
    | 'assignmentExpired'
    | 'assignmentRemoved';
  state: string;
  status: string;
  recipient: { id: string; displayName: string | null; mail: string | null };
  accessPackage: { id: string; displayName: string | null };
  subject: string;
  /** The last stage instance detail (what the ticket said), when there was one. */
  detail: string | null;
}

export interface CalloutRecord {
  id: string;
  sentAt: string;
  url: string;
  stage: string;
  requestId: string | null;
  extensionId: string;
  customExtensionStageInstanceId: string;
  outcome: 'delivered' | 'failed' | 'dropped';
  attempts: number;
  lastStatus: number;
  payload: Record<string, unknown>;
}

/** Public Graph shape: drop the sandbox's `_` fields. */
export function publicShape<T extends object>(doc: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}

export function subjectOf(u: DirectoryUser) {
  return {
    id: u.id,
    objectId: u.id,
    displayName: u.displayName,
    email: u.mail,
    principalName: u.userPrincipalName,
    subjectType: 'user',
    subjectLifecycle: 'governed',
    onPremisesSecurityIdentifier: null,
    connectedOrganization: null,
  };
}
