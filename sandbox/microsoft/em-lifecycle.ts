import { randomUUID } from 'node:crypto';
import type { DocStore } from '../shared/persist.ts';
import { EM_SP_OBJECT_ID } from './constants.ts';
import {
  C,
  type AccessPackage,
  type Assignment,
  type AssignmentRequest,
  type DirectoryUser,
  type NotificationRecord,
} from './em-model.ts';
import { findDocs } from './em-http.ts';
import { parseDuration } from './graph-http.ts';

/**
 * What happens to assignments and requesters outside the request pipeline: an assignment ends on its
 * schedule (the sandbox clock), which starts a system removal request; and the target user is
 * notified when a request ends (delivered, failed, denied, canceled), as Entra emails them.
 */

/** Who asks for a removal when an assignment expires: entitlement management itself. */
export const SYSTEM_REQUESTOR = {
  id: EM_SP_OBJECT_ID,
  objectId: EM_SP_OBJECT_ID,
  displayName: 'Azure AD Identity Governance - Entitlement Management',
  subjectType: 'servicePrincipal',
};

interface Expiration {
  type?: string;
  endDateTime?: string | null;
  duration?: string | null;
}

/**
 * When an assignment ends (ms), from the request's schedule or else the policy's `expiration`
 * (Graph's expirationPattern: noExpiration | afterDateTime | afterDuration); undefined = never.
 */
export function assignmentEndsAt(schedule: unknown, policyExpiration: unknown, startMs: number): number | undefined {
  const own = (schedule as { expiration?: Expiration } | null)?.expiration;
  const e = own && own.type !== 'notSpecified' ? own : (policyExpiration as Expiration | null);
  if (!e || e.type === 'noExpiration') return undefined;
  if (e.endDateTime && e.type !== 'afterDuration') {
    const at = Date.parse(e.endDateTime);
    return Number.isNaN(at) ? undefined : at;
  }
  const ms = parseDuration(e.duration ?? undefined);
  return ms === undefined ? undefined : startMs + ms;
}

/** Assignments whose end has passed (an expression index keeps this cheap with many assignments). */
const indexed = new WeakSet<DocStore>();

export function dueAssignments(store: DocStore, now: number): Assignment[] {
  if (!indexed.has(store)) {
    store.db.exec(`CREATE INDEX IF NOT EXISTS docs_by_endsAt ON docs (coll, json_extract(body, '$._endsAt'))`);
    indexed.add(store);
  }
  const rows = store.db
    .prepare(`SELECT body FROM docs WHERE coll = ? AND json_extract(body, '$._endsAt') <= ?`)
    .all(C.assignments, now) as { body: string }[];
  return rows.map((r) => JSON.parse(r.body) as Assignment);
}

/**
 * Expire one assignment: in one transaction it becomes `expired` and a `systemRemove` request is
 * stored, so a restart neither loses the removal nor starts it twice. Returns the request, or
 * undefined when there is nothing to do (already expired, or a removal is already under way).
 */
export function expireAssignment(store: DocStore, id: string, nowIso: string): AssignmentRequest | undefined {
  return store.transaction(() => {
    const a = store.get<Assignment>(C.assignments, id);
    if (!a?._endsAt || a.state !== 'delivered') return undefined;
    const open = findDocs<AssignmentRequest>(store, C.requests, { _assignmentId: id }).some(
      (r) => !r.completedDateTime,
    );
    if (open) return undefined; // an admin's removal (or an update) is in flight: it ends the assignment
    const expiredDateTime = new Date(a._endsAt).toISOString();
    store.put<Assignment>(C.assignments, id, {
      ...a,
      state: 'expired',
      status: 'Expired',
      expiredDateTime,
      _endsAt: undefined,
    });
    const r: AssignmentRequest = {
      id: randomUUID(),
      requestType: 'systemRemove',
      state: 'submitted',
      status: 'Accepted',
      createdDateTime: nowIso,
      completedDateTime: null,
      schedule: null,
      answers: [],
      justification: null,
      customExtensionCalloutInstances: [],
      _accessPackageId: a._accessPackageId,
      _policyId: a._policyId,
      _targetId: a._targetId,
      _assignmentId: a.id,
      _requestor: SYSTEM_REQUESTOR,
      _phase: 'remove',
      _expiredDateTime: expiredDateTime,
    };
    store.put(C.requests, r.id, r);
    return r;
  });
}

const SUBJECT: Record<NotificationRecord['template'], string> = {
  requestDelivered: 'You now have access to',
  requestFailed: 'Your request could not be completed for',
  requestDenied: 'Your request was denied for',
  requestCanceled: 'Your request was canceled for',
  assignmentExpired: 'Your access has expired to',
  assignmentRemoved: 'Your access was removed from',
};

/** The template Entra uses when a request ends in `state`. */
export function templateFor(r: AssignmentRequest): NotificationRecord['template'] {
  const removal = r.requestType.endsWith('Remove');
  if (r.state === 'delivered')
    return removal
      ? r.requestType === 'systemRemove'
        ? 'assignmentExpired'
        : 'assignmentRemoved'
      : 'requestDelivered';
  if (r.state === 'denied') return 'requestDenied';
  if (r.state === 'canceled') return 'requestCanceled';
  return 'requestFailed';
}

/** Record the email Entra sends the assignment's target (for a self-service request: the requester). */
export function notifyRequester(store: DocStore, r: AssignmentRequest, sentAt: string): void {
  const user = store.get<DirectoryUser>(C.users, r._targetId);
  const pkg = store.get<AccessPackage>(C.packages, r._accessPackageId);
  const template = templateFor(r);
  const last = r.customExtensionCalloutInstances.at(-1);
  store.put<NotificationRecord>(C.notifications, `${r.id}:${template}`, {
    id: `${r.id}:${template}`,
    sentAt,
    requestId: r.id,
    requestType: r.requestType,
    template,
    state: r.state,
    status: r.status,
    recipient: { id: r._targetId, displayName: user?.displayName ?? null, mail: user?.mail ?? null },
    accessPackage: { id: r._accessPackageId, displayName: pkg?.displayName ?? null },
    subject: `${SUBJECT[template]} ${pkg?.displayName ?? 'an access package'}`,
    detail: last?.detail ?? null,
  });
}
