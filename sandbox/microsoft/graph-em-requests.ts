import { randomUUID } from 'node:crypto';
import { STATUS } from './callouts.ts';
import { C, type Assignment, type AssignmentRequest, type DirectoryUser, type Policy } from './em-model.ts';
import { badRequest } from './graph-http.ts';
import { READ, WRITE, findDocs, type Body, type EmDeps, type EmRouter } from './em-http.ts';

/**
 * Graph entitlement management's assignment requests (list, get, create: the pipeline runs in
 * callouts.ts) and assignments. Rules as in Entra: one open request per (target, package), no add
 * when an assignment exists.
 */

export function registerEmRequests(em: EmRouter, d: EmDeps): void {
  const { store, engine } = d;
  const { route, get, now, kinds } = em;

  route('GET', '/assignmentRequests', READ, (req) =>
    em.list(req, 'assignmentRequests', kinds.request, store.list<AssignmentRequest>(C.requests)),
  );
  route('GET', '/assignmentRequests/:id', READ, (req) =>
    em.entity(
      req,
      'assignmentRequests',
      kinds.request,
      get<AssignmentRequest>(C.requests, 'Access package assignment request', (req.params as Body).id),
    ),
  );
  route('GET', '/assignments', READ, (req) =>
    em.list(req, 'assignments', kinds.assignment, store.list<Assignment>(C.assignments)),
  );
  route('GET', '/assignments/:id', READ, (req) =>
    em.entity(
      req,
      'assignments',
      kinds.assignment,
      get<Assignment>(C.assignments, 'Access package assignment', (req.params as Body).id),
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
      return em.entity(req, 'assignmentRequests', kinds.request, r);
    },
    201,
  );
}
