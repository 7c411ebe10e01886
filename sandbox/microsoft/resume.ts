import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { STATUS } from './callouts.ts';
import {
  C,
  REQUEST_STAGES,
  type AssignmentRequest,
  type CalloutRecord,
  type DirectoryUser,
  type NotificationRecord,
  type ResumeRecord,
} from './em-model.ts';
import { EM_PREFIXES, WRITE, findDocs, type EmDeps } from './em-http.ts';
import { authorizeEm, catalogOfRequest } from './graph-em-roles.ts';
import { GraphFailure, badRequest, notFound, sendGraphFailure } from './graph-http.ts';

/**
 * The resume action (the endpoint's answer to a launch-and-wait callout) and the sandbox's
 * admin endpoints for approvals, recorded resumes/callouts and directory users.
 *
 * Resume answers 204 only while the request is WaitingForCallback on the very stage instance the
 * callout named (the caller holds EntitlementManagement.ReadWrite.All, or a catalog role on the
 * request's catalog: graph-em-roles.ts); anything else is a 400 saying the request is not waiting for a callback. Every
 * resume received, accepted or not, is recorded for `GET /_sandbox/graph/resumes`.
 */

type Body = Record<string, any>;

const notWaiting = (r: AssignmentRequest, why: string) =>
  badRequest(
    `The access package assignment request '${r.id}' is not waiting for a callback${why}. Current status: ${r.status}.`,
    'InvalidRequest',
  );

export function registerResume(app: FastifyInstance, d: EmDeps): void {
  const { store, engine, clock } = d;

  async function resume(req: FastifyRequest<{ Params: { id: string } }>) {
    const rec: ResumeRecord = {
      id: randomUUID(),
      receivedAt: new Date(clock.now()).toISOString(),
      requestId: req.params.id,
      path: req.url.split('?')[0],
      apiVersion: req.url.startsWith('/beta/') ? 'beta' : 'v1.0',
      httpStatus: 204,
      accepted: false,
    };
    try {
      const auth = await authorizeEm(d, req, WRITE);
      rec.callerAppId = auth.caller.appId;
      rec.authorizedBy = auth.by;
      const b = (req.body ?? {}) as Body;
      const data = (b.data ?? {}) as Body;
      Object.assign(rec, {
        source: b.source,
        type: b.type,
        stage: data.stage,
        customExtensionStageInstanceId: data.customExtensionStageInstanceId,
        state: data.state,
        detail: data.customExtensionStageInstanceDetail,
      });
      // Synchronous from here on: read, check and write the request without yielding.
      const r = store.get<AssignmentRequest>(C.requests, req.params.id);
      if (!r) throw notFound('Access package assignment request', req.params.id);
      auth.allowedOn(catalogOfRequest(store, r)); // a catalog role counts on its own catalog only
      if (typeof data.customExtensionStageInstanceId !== 'string') {
        throw badRequest('data.customExtensionStageInstanceId is required.', 'InvalidRequest');
      }
      if (
        b.type !== undefined &&
        !REQUEST_STAGES.some(
          (s) =>
            String(b.type).toLowerCase() === `microsoft.graph.accesspackagecustomextensionstage.${s.toLowerCase()}`,
        )
      ) {
        throw badRequest(`type '${b.type}' is not a valid resume type.`, 'InvalidRequest');
      }
      const wait = r._wait;
      if (r.status !== STATUS.waiting || !wait?.instanceId) throw notWaiting(r, '');
      if (wait.instanceId !== data.customExtensionStageInstanceId)
        throw notWaiting(r, ` with customExtensionStageInstanceId '${data.customExtensionStageInstanceId}'`);
      if (data.stage !== undefined && String(data.stage).toLowerCase() !== wait.stage!.toLowerCase()) {
        throw badRequest(
          `data.stage '${data.stage}' does not match the waiting stage '${wait.stage}'.`,
          'InvalidRequest',
        );
      }
      let state: 'denied' | 'canceled' | undefined;
      if (data.state !== undefined && data.state !== null) {
        const s = String(data.state).toLowerCase();
        if (s !== 'denied' && s !== 'canceled')
          throw badRequest(`data.state '${data.state}' is not supported (denied, canceled).`, 'InvalidRequest');
        // Documented for the created and approved stages only (§2.5 notes the docs disagree).
        if (wait.stage !== 'assignmentRequestCreated' && wait.stage !== 'assignmentRequestApproved') {
          throw badRequest(`A request cannot be ${s} at the ${wait.stage} stage.`, 'InvalidRequest');
        }
        state = s;
      }
      engine.completeStage(r, data.customExtensionStageInstanceDetail ?? null, state);
      rec.accepted = true;
      return rec;
    } catch (e) {
      if (e instanceof GraphFailure) {
        rec.httpStatus = e.status;
        rec.error = `${e.code}: ${e.message}`;
      } else {
        rec.httpStatus = 500;
        rec.error = String(e);
      }
      throw e;
    } finally {
      store.put(C.resumes, rec.id, rec);
    }
  }

  const paths = [
    ...EM_PREFIXES.map((p) => `${p}/assignmentRequests/:id/resume`),
    // Beta legacy collection ("will be retired soon").
    '/beta/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/:id/resume',
  ];
  for (const url of paths) {
    app.post<{ Params: { id: string } }>(url, async (req, reply) => {
      try {
        await resume(req);
        return reply.code(204).send();
      } catch (e) {
        if (e instanceof GraphFailure) return sendGraphFailure(reply, clock.now(), req, e);
        throw e;
      }
    });
  }

  // ---- admin ---------------------------------------------------------------------------------

  for (const action of ['approve', 'deny'] as const) {
    app.post<{ Params: { id: string } }>(`/_sandbox/graph/assignmentRequests/:id/${action}`, async (req, reply) => {
      const r = store.get<AssignmentRequest>(C.requests, req.params.id);
      if (!r) return reply.code(404).send({ error: 'request not found' });
      if (r._wait?.phase !== 'approval')
        return reply
          .code(409)
          .send({ error: `request is not pending approval (state ${r.state}, status ${r.status})` });
      engine.decide(r, action === 'approve');
      return { id: r.id, state: r.state, status: r.status };
    });
  }

  const byRequest = <T extends { requestId: string | null }>(coll: string, req: FastifyRequest) => {
    const q = req.query as { requestId?: string };
    return q.requestId ? findDocs<T>(store, coll, { requestId: q.requestId }) : store.list<T>(coll);
  };
  app.get('/_sandbox/graph/resumes', async (req) => {
    const all = byRequest<ResumeRecord>(C.resumes, req);
    return {
      accepted: all.filter((r) => r.accepted).length,
      rejected: all.filter((r) => !r.accepted).length,
      value: all,
    };
  });
  // The emails Entra sent requesters (target users) when their requests ended; `?requestId=` filters.
  app.get('/_sandbox/graph/notifications', async (req) => ({
    value: byRequest<NotificationRecord>(C.notifications, req),
  }));
  app.get('/_sandbox/graph/callouts', async (req) => ({ value: byRequest<CalloutRecord>(C.callouts, req) }));

  app.get('/_sandbox/entra/users', async () => ({ value: store.list<DirectoryUser>(C.users) }));
  // `{users:[{id?, displayName?, mail?}]}` or `{count: n}`: more assignment targets (benchmarks).
  app.post('/_sandbox/entra/users', async (req, reply) => {
    const b = (req.body ?? {}) as { users?: Partial<DirectoryUser>[]; count?: number };
    const wanted =
      b.users ?? Array.from({ length: Math.min(Number(b.count) || 1, 100_000) }, (): Partial<DirectoryUser> => ({}));
    const created = store.transaction(() =>
      wanted.map((u) => {
        const id = u.id ?? randomUUID();
        const name = u.displayName ?? `Sandbox User ${id.slice(0, 8)}`;
        const mail = u.mail ?? `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@ticketloopsandbox.onmicrosoft.com`;
        return store.put<DirectoryUser>(C.users, id, {
          id,
          displayName: name,
          mail,
          userPrincipalName: u.userPrincipalName ?? mail,
        });
      }),
    );
    return reply.code(201).send({ value: created });
  });
}
