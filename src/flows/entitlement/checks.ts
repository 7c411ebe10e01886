import type { Ticketloop } from '../../app/build.ts';
import type { CheckResult } from '../../app/checks.ts';
import type { CheckContext } from '../../app/doctor.ts';
import { diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import { HttpError } from '../../engine/errors.ts';
import type { EntitlementIntegration } from './config.ts';
import { buildResumeBody, EntitlementGraph, ResumeNotWaiting } from './graph-em.ts';
import { CALLOUT_PATH } from './routes.ts';
import { EM_PERMISSION, resumeGrantCheck } from './grant.ts';

/**
 * "Test setup" for ticketed provisioning: Graph lets the app read assignment requests and resume
 * them, which grant does it (grant.ts: the catalog role, recommended, or EntitlementManagement.ReadWrite.All), and — when server.publicUrl says where Ticketloop
 * is — a custom extension in the integration's catalogs calls it.
 */

/** No request has this id: resuming it is refused with 404 when allowed, with 403 when not. */
const NO_REQUEST = '00000000-0000-0000-0000-000000000000';

export async function entitlementChecks(app: Ticketloop, ctx: CheckContext): Promise<CheckResult[]> {
  const list = app.integrations<EntitlementIntegration>('entitlement').filter((i) => i.enabled);
  if (!list.length || !ctx.microsoftSignedIn) return [];
  const ms = app.connections.microsoft();
  const graph = new EntitlementGraph(ms.graph);
  const target = 'Microsoft Graph';
  const needs = { graphPermission: EM_PERMISSION };
  const out: CheckResult[] = [];

  try {
    await graph.listAssignmentRequests({ top: 1 });
    out.push({ target, check: 'read assignment requests', ok: true, detail: 'allowed' });
  } catch (e) {
    out.push({ target, check: 'read assignment requests', ok: false, ...diagnoseMicrosoft(e, ms.config, needs) });
  }
  try {
    const body = buildResumeBody({ stage: 'assignmentRequestApproved', customExtensionStageInstanceId: NO_REQUEST });
    await graph.resumeAssignmentRequest(NO_REQUEST, body);
    out.push({ target, check: 'resume requests', ok: true, detail: 'allowed' });
  } catch (e) {
    out.push(
      // Permission is checked before the request is looked up: a refusal of the request itself means allowed.
      e instanceof ResumeNotWaiting || (e instanceof HttpError && (e.status === 400 || e.status === 404))
        ? { target, check: 'resume requests', ok: true, detail: 'allowed (probed with a request that does not exist)' }
        : { target, check: 'resume requests', ok: false, ...diagnoseMicrosoft(e, ms.config, needs) },
    );
  }

  try {
    out.push(await resumeGrantCheck(ms, graph, list));
  } catch (e) {
    out.push({ target, check: 'resume grant', ok: false, ...diagnoseMicrosoft(e, ms.config, needs) });
  }

  const publicUrl = app.config.server.publicUrl;
  if (!publicUrl) {
    out.push({
      target,
      check: 'custom extension',
      ok: true,
      detail: 'not checked: set server.publicUrl to where Entra reaches Ticketloop',
    });
    return out;
  }
  const callout = `${publicUrl}${CALLOUT_PATH}`;
  try {
    const found = await findExtensions(graph, list, callout);
    out.push(
      found.length
        ? {
            target,
            check: 'custom extension',
            ok: true,
            detail: `${found.length} custom extension(s) call ${callout} (${found.join(', ')})`,
          }
        : {
            target,
            check: 'custom extension',
            ok: false,
            detail: `no custom extension in the integration's catalogs calls ${callout}`,
            fix: 'run `ticketloop setup entitlement --catalog <catalog> --access-package <package>`',
          },
    );
  } catch (e) {
    out.push({ target, check: 'custom extension', ok: false, ...diagnoseMicrosoft(e, ms.config, needs) });
  }
  return out;
}

/** Catalog display names with an extension that calls `callout`. */
async function findExtensions(graph: EntitlementGraph, list: EntitlementIntegration[], callout: string) {
  const wanted = new Set(list.flatMap((i) => i.catalogs));
  const catalogs = (await graph.listCatalogs()).filter((c) => wanted.has('*') || wanted.has(c.id));
  const found: string[] = [];
  for (const c of catalogs) {
    const exts = await graph.listCustomWorkflowExtensions(c.id);
    if (exts.some((x) => x.endpointConfiguration?.url === callout)) found.push(String(c.displayName));
  }
  return found;
}
