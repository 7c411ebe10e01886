import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import type { Entra } from './entra.ts';
import { SERVICE_COMMUNICATIONS_READ, SERVICE_HEALTH_READ, SERVICE_MESSAGE_READ, TICKETLOOP_APP } from './constants.ts';
import { GraphFailure, authenticateGraph, badRequest, notFound } from './graph-http.ts';
import { matches, parseFilter, readPath, type Expr } from './odata-filter.ts';
import {
  C,
  seedIssues,
  seedMessages,
  type IssueDoc,
  type MessageDoc,
  type ServiceHealthDeps,
} from './service-health-seed.ts';
import { HealthThrottle } from './service-health-throttle.ts';
import { registerServiceHealthControl } from './service-health-control.ts';

/**
 * Graph service communications (api-reference/v1.0/resources/service-communications-api-overview.md):
 * `/admin/serviceAnnouncement/issues[/{id}]`, `…/issues/{id}/incidentReport`,
 * `…/healthOverviews[/{service}][?$expand=issues]` (ServiceHealth.Read.All) and `…/messages[/{id}]`
 * (ServiceMessage.Read.All). Pages of 100, or `Prefer: odata.maxpagesize=N` up to 1000 (answered with
 * `Preference-Applied`), `@odata.nextLink` with `$skip`; `$filter` as elsewhere in the twin. Throttled
 * at 240 requests a minute and 800 an hour per app and tenant (concepts/throttling.md).
 */

const ROOT = '/v1.0/admin/serviceAnnouncement';
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** The workload ids Graph's healthOverviews use for the services in the records; others lose their spaces. */
const SERVICE_IDS: Record<string, string> = {
  'Exchange Online': 'Exchange',
  'Microsoft Teams': 'microsoftteams',
  'Microsoft 365 suite': 'OSDPPlatform',
  'SharePoint Online': 'SharePoint',
  'OneDrive for Business': 'OneDriveForBusiness',
  'Skype for Business': 'Lync',
  'Microsoft Intune': 'Intune',
  'Microsoft Forms': 'Forms',
  'Microsoft Entra': 'OrgLiveID',
};
export const serviceId = (service: string) => SERVICE_IDS[service] ?? service.replace(/[^A-Za-z0-9]/g, '');

/**
 * Seed once per data directory: the first start fixes the times (they are real dates from then on). A
 * data directory made before this twin existed also gets the permissions for the Ticketloop app then —
 * once, so a test that removes one later keeps it removed across restarts.
 */
export function seedServiceHealth(store: DocStore, entra: Entra, now: number): void {
  if (store.get(C.meta, 'seeded')) return;
  const app = entra.getApp(TICKETLOOP_APP.clientId);
  if (app && !SERVICE_COMMUNICATIONS_READ.every((r) => app.roles.includes(r)))
    entra.registerApp({ clientId: app.clientId, roles: [...new Set([...app.roles, ...SERVICE_COMMUNICATIONS_READ])] });
  store.transaction(() => {
    for (const i of seedIssues(now)) store.put(C.issues, i.id, i);
    for (const m of seedMessages(now)) store.put(C.messages, m.id, m);
    store.put(C.meta, 'seeded', { at: new Date(now).toISOString() });
  });
}

const ciEquals = (a: string | undefined, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();

/** Sent only while the issue is postIncidentReviewPublished: the report's bytes. */
export function incidentReportBytes(issue: IssueDoc): Buffer {
  // A tiny PDF-looking file with bytes above 0x7f, so a client that decodes it as text is caught.
  const text = `%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\nPost-incident report ${issue.id}: ${issue.title}\n%%EOF\n`;
  return Buffer.from(text, 'latin1');
}

export function registerGraphServiceHealth(app: FastifyInstance, d: ServiceHealthDeps, baseUrl: () => string): void {
  seedServiceHealth(d.store, d.entra, d.clock.now());
  const throttle = new HealthThrottle(d.clock);

  /** Token, then the app's quota, then the permission (a refused call still counts against the quota). */
  const caller = async (req: FastifyRequest, reply: FastifyReply, permission: string) => {
    const who = await authenticateGraph(d.entra, req);
    const waitSeconds = throttle.take(`${who.appId}|${d.entra.tenantId}`);
    if (waitSeconds !== undefined) {
      reply.header('retry-after', String(waitSeconds));
      throw new GraphFailure(429, 'TooManyRequests', 'Please retry again later.');
    }
    if (!who.roles.includes(permission))
      throw new GraphFailure(
        403,
        'Forbidden',
        `Insufficient privileges to complete the operation. The application needs the permission ${permission}.`,
      );
  };

  const context = (path: string) => `${baseUrl()}/v1.0/$metadata#admin/serviceAnnouncement/${path}`;

  /** One page of `docs` as Graph lists them, with the page size asked for in `Prefer`. */
  const page = <D>(
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
    docs: D[],
    render = (x: D): unknown => x,
  ) => {
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    let filter: Expr | undefined;
    if (q.$filter?.trim()) filter = parseFilter(q.$filter);
    const items = filter ? docs.filter((doc) => matches(filter, (segs) => readPath(doc, segs))) : docs;
    const prefer = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(String(req.headers.prefer ?? ''));
    let size = DEFAULT_PAGE;
    if (prefer) {
      size = Math.min(Math.max(Number(prefer[1]), 1), MAX_PAGE);
      reply.header('preference-applied', `odata.maxpagesize=${size}`);
    }
    const top = q.$top === undefined ? undefined : Number(q.$top);
    if (top !== undefined && (!Number.isInteger(top) || top < 0))
      throw badRequest(`Invalid value '${q.$top}' for $top query option found.`);
    const skip = q.$skip === undefined ? 0 : Number(q.$skip);
    if (!Number.isInteger(skip) || skip < 0)
      throw badRequest(`Invalid value '${q.$skip}' for $skip query option found.`);
    const end = Math.min(items.length, top === undefined ? Infinity : top, skip + size);
    const out: Record<string, unknown> = { '@odata.context': context(path) };
    if (end < Math.min(items.length, top ?? Infinity)) {
      // Graph writes the option names unescaped (`?$skip=100`).
      const url = new URL(req.url, baseUrl());
      url.searchParams.set('$skip', String(end));
      const query = [...url.searchParams].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      out['@odata.nextLink'] = `${url.origin}${url.pathname}?${query}`;
    }
    out.value = items.slice(skip, end).map(render);
    return out;
  };

  const newestFirst = <T extends { startDateTime: string }>(docs: T[]) =>
    docs.sort((a, b) => b.startDateTime.localeCompare(a.startDateTime));
  const issues = () => newestFirst(d.store.list<IssueDoc>(C.issues));
  const issue = (id: string) => {
    const found = d.store.get<IssueDoc>(C.issues, id) ?? issues().find((i) => ciEquals(i.id, id));
    if (!found) throw notFound('serviceHealthIssue', id);
    return found;
  };
  const expandOnly = (req: FastifyRequest, allowed: string[]) => {
    const expand = ((req.query ?? {}) as Record<string, string | undefined>).$expand;
    for (const name of (expand ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      if (!allowed.some((a) => ciEquals(name, a)))
        throw badRequest(`Could not find a property named '${name}' on type 'microsoft.graph.serviceHealth'.`);
    return Boolean(expand?.trim());
  };

  // ---- issues ----------------------------------------------------------------------------------------------------
  app.get(`${ROOT}/issues`, async (req, reply) => {
    await caller(req, reply, SERVICE_HEALTH_READ);
    return page(req, reply, 'issues', issues());
  });
  app.get<{ Params: { id: string } }>(`${ROOT}/issues/:id`, async (req, reply) => {
    await caller(req, reply, SERVICE_HEALTH_READ);
    return { '@odata.context': `${context('issues')}/$entity`, ...issue(req.params.id) };
  });
  app.get<{ Params: { id: string } }>(`${ROOT}/issues/:id/incidentReport`, async (req, reply) => {
    await caller(req, reply, SERVICE_HEALTH_READ);
    const found = issue(req.params.id);
    // The docs: the report exists only while the issue is postIncidentReviewPublished; the error is not documented.
    if (!ciEquals(found.status, 'postIncidentReviewPublished'))
      throw new GraphFailure(
        404,
        'NotFound',
        `The incident report of issue '${found.id}' is not available: its status is ${found.status}.`,
      );
    return reply.header('content-type', 'application/octet-stream').send(incidentReportBytes(found));
  });

  // ---- healthOverviews -------------------------------------------------------------------------------------------
  /** One serviceHealth per service: the status of its newest open issue, or serviceOperational. */
  const overviews = (withIssues: boolean) => {
    const byService = new Map<string, IssueDoc[]>();
    for (const i of issues()) byService.set(i.service, [...(byService.get(i.service) ?? []), i]);
    return [...byService.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([service, list]) => ({
        service,
        status: list.find((i) => !i.isResolved)?.status ?? 'serviceOperational',
        id: serviceId(service),
        ...(withIssues ? { issues: list } : {}),
      }));
  };
  app.get(`${ROOT}/healthOverviews`, async (req, reply) => {
    await caller(req, reply, SERVICE_HEALTH_READ);
    const expand = expandOnly(req, ['issues']);
    return page(req, reply, expand ? 'healthOverviews(issues())' : 'healthOverviews', overviews(expand));
  });
  app.get<{ Params: { service: string } }>(`${ROOT}/healthOverviews/:service`, async (req, reply) => {
    await caller(req, reply, SERVICE_HEALTH_READ);
    const expand = expandOnly(req, ['issues']);
    const key = req.params.service;
    const found = overviews(expand).find((o) => ciEquals(o.id, key) || ciEquals(o.service, key));
    if (!found) throw notFound('serviceHealth', key);
    return {
      '@odata.context': `${context(expand ? 'healthOverviews(issues())' : 'healthOverviews')}/$entity`,
      ...found,
    };
  });

  // ---- messages --------------------------------------------------------------------------------------------------
  const messages = () => newestFirst(d.store.list<MessageDoc>(C.messages));
  app.get(`${ROOT}/messages`, async (req, reply) => {
    await caller(req, reply, SERVICE_MESSAGE_READ);
    return page(req, reply, 'messages', messages());
  });
  app.get<{ Params: { id: string } }>(`${ROOT}/messages/:id`, async (req, reply) => {
    await caller(req, reply, SERVICE_MESSAGE_READ);
    const found = d.store.get<MessageDoc>(C.messages, req.params.id);
    if (!found) throw notFound('serviceUpdateMessage', req.params.id);
    return { '@odata.context': `${context('messages')}/$entity`, ...found };
  });

  registerServiceHealthControl(app, d);
}
