import type { GraphClient, GraphList } from './graph.ts';

/**
 * Microsoft 365 service communications over Graph v1.0 (wire-format.md §4, m365-support.md §2.1):
 * service-health issues, health overviews and message-center posts, read whole (Graph documents no
 * dependable `$filter`, so callers diff locally), plus an issue's post-incident report. Enum values are
 * parsed without regard to case — the docs' samples say "ServiceRestored" where the CSDL says
 * serviceRestored — into the CSDL's camelCase; a value the CSDL does not know is kept as `unknownFutureValue`
 * with the raw text beside it. Failures are the GraphClient's HttpErrors (429 and Retry-After included).
 */

export const SERVICE_HEALTH_STATUSES = [
  'serviceOperational',
  'investigating',
  'restoringService',
  'verifyingService',
  'serviceRestored',
  'postIncidentReviewPublished',
  'serviceDegradation',
  'serviceInterruption',
  'extendedRecovery',
  'falsePositive',
  'investigationSuspended',
  'resolved',
  'mitigatedExternal',
  'mitigated',
  'resolvedExternal',
  'confirmed',
  'reported',
  'unknownFutureValue',
] as const;
export type ServiceHealthStatus = (typeof SERVICE_HEALTH_STATUSES)[number];
export const CLASSIFICATIONS = ['advisory', 'incident', 'unknownFutureValue'] as const;
export const ORIGINS = ['microsoft', 'thirdParty', 'customer', 'unknownFutureValue'] as const;
export const POST_TYPES = ['regular', 'quick', 'strategic', 'unknownFutureValue'] as const;
export const MESSAGE_CATEGORIES = ['preventOrFixIssue', 'planForChange', 'stayInformed', 'unknownFutureValue'] as const;
export const MESSAGE_SEVERITIES = ['normal', 'high', 'critical', 'unknownFutureValue'] as const;

/** An enum member by name, ignoring case; anything else is the CSDL's `unknownFutureValue`. */
export function parseEnum<const M extends readonly string[]>(members: M, raw: unknown): M[number] {
  const text = typeof raw === 'string' ? raw.toLowerCase() : '';
  return members.find((m) => m.toLowerCase() === text) ?? 'unknownFutureValue';
}

// ---- wire shapes (as Graph sends them) --------------------------------------------------------------------------

export interface WireItemBody {
  contentType?: string | null;
  content?: string | null;
}
export interface WireIssuePost {
  createdDateTime: string;
  postType?: string | null;
  description?: WireItemBody | null;
}
export interface WireIssue {
  id: string;
  title: string;
  service: string;
  feature?: string | null;
  featureGroup?: string | null;
  classification: string;
  origin: string;
  status: string;
  impactDescription: string;
  isResolved: boolean;
  startDateTime: string;
  endDateTime?: string | null;
  lastModifiedDateTime: string;
  details?: { name: string; value?: string | null }[] | null;
  posts?: WireIssuePost[] | null;
}
export interface WireServiceHealth {
  id: string;
  service: string;
  status: string;
  issues?: WireIssue[];
}
export interface WireMessage {
  id: string;
  title: string;
  startDateTime: string;
  endDateTime?: string | null;
  lastModifiedDateTime: string;
  actionRequiredByDateTime?: string | null;
  body?: WireItemBody | null;
  category: string;
  severity: string;
  services?: string[] | null;
  tags?: string[] | null;
  isMajorChange?: boolean | null;
  hasAttachments?: boolean;
  details?: { name: string; value?: string | null }[] | null;
}

// ---- the typed model ---------------------------------------------------------------------------------------------

export interface HealthPost {
  createdDateTime: string;
  postType: (typeof POST_TYPES)[number];
  contentType: 'html' | 'text';
  content: string;
}
export interface HealthIssue {
  id: string;
  title: string;
  service: string;
  feature: string | null;
  featureGroup: string | null;
  classification: (typeof CLASSIFICATIONS)[number];
  origin: (typeof ORIGINS)[number];
  status: ServiceHealthStatus;
  /** The status as Graph wrote it (kept when it is a value the CSDL does not know). */
  statusText: string;
  impactDescription: string;
  isResolved: boolean;
  startDateTime: string;
  endDateTime: string | null;
  lastModifiedDateTime: string;
  details: { name: string; value: string | null }[];
  /** Oldest first. */
  posts: HealthPost[];
}
export interface ServiceHealthOverview {
  id: string;
  service: string;
  status: ServiceHealthStatus;
  issues?: HealthIssue[];
}
export interface HealthMessage {
  id: string;
  title: string;
  startDateTime: string;
  endDateTime: string | null;
  lastModifiedDateTime: string;
  actionRequiredByDateTime: string | null;
  contentType: 'html' | 'text';
  content: string;
  category: (typeof MESSAGE_CATEGORIES)[number];
  severity: (typeof MESSAGE_SEVERITIES)[number];
  services: string[];
  tags: string[];
  isMajorChange: boolean;
}
export interface IncidentReport {
  bytes: Buffer;
  contentType: string;
}

const bodyType = (b: WireItemBody | null | undefined): 'html' | 'text' =>
  (b?.contentType ?? '').toLowerCase() === 'html' ? 'html' : 'text';
const pairs = (d: WireIssue['details']) => (d ?? []).map((p) => ({ name: p.name, value: p.value ?? null }));

export function toIssue(w: WireIssue): HealthIssue {
  const posts = (w.posts ?? []).map((p) => ({
    createdDateTime: p.createdDateTime,
    postType: parseEnum(POST_TYPES, p.postType),
    contentType: bodyType(p.description),
    content: p.description?.content ?? '',
  }));
  posts.sort((a, b) => Date.parse(a.createdDateTime) - Date.parse(b.createdDateTime));
  return {
    id: w.id,
    title: w.title,
    service: w.service,
    feature: w.feature ?? null,
    featureGroup: w.featureGroup ?? null,
    classification: parseEnum(CLASSIFICATIONS, w.classification),
    origin: parseEnum(ORIGINS, w.origin),
    status: parseEnum(SERVICE_HEALTH_STATUSES, w.status),
    statusText: w.status,
    impactDescription: w.impactDescription ?? '',
    isResolved: w.isResolved === true,
    startDateTime: w.startDateTime,
    endDateTime: w.endDateTime ?? null,
    lastModifiedDateTime: w.lastModifiedDateTime,
    details: pairs(w.details),
    posts,
  };
}

export function toMessage(w: WireMessage): HealthMessage {
  return {
    id: w.id,
    title: w.title,
    startDateTime: w.startDateTime,
    endDateTime: w.endDateTime ?? null,
    lastModifiedDateTime: w.lastModifiedDateTime,
    actionRequiredByDateTime: w.actionRequiredByDateTime ?? null,
    contentType: bodyType(w.body),
    content: w.body?.content ?? '',
    category: parseEnum(MESSAGE_CATEGORIES, w.category),
    severity: parseEnum(MESSAGE_SEVERITIES, w.severity),
    services: w.services ?? [],
    tags: w.tags ?? [],
    isMajorChange: w.isMajorChange === true,
  };
}

const ROOT = '/admin/serviceAnnouncement';
/** The largest page the API serves (its default is 100). */
export const MAX_PAGE_SIZE = 1000;
const PREFER = { prefer: `odata.maxpagesize=${MAX_PAGE_SIZE}` };

/** A full read of one collection: the items and how many pages (GET requests) it took. */
export interface Listing<T> {
  items: T[];
  pages: number;
}

export class ServiceHealthClient {
  constructor(private readonly graph: GraphClient) {}

  private async readAll<W, T>(path: string, map: (w: W) => T, query?: Record<string, string>): Promise<Listing<T>> {
    const items: T[] = [];
    let pages = 0;
    for await (const page of this.graph.pages<W>(path, query, PREFER)) {
      pages++;
      items.push(...(page as GraphList<W>).value.map(map));
    }
    return { items, pages };
  }

  /** Every service-health issue Graph still lists (resolved ones too), with their posts. */
  listIssues(): Promise<Listing<HealthIssue>> {
    return this.readAll(`${ROOT}/issues`, toIssue);
  }

  async getIssue(id: string): Promise<HealthIssue> {
    return toIssue(await this.graph.get<WireIssue>(`${ROOT}/issues/${encodeURIComponent(id)}`));
  }

  /** One status per service; with `expandIssues`, each service's issues as well. */
  listHealthOverviews(o: { expandIssues?: boolean } = {}): Promise<Listing<ServiceHealthOverview>> {
    const toOverview = (w: WireServiceHealth): ServiceHealthOverview => ({
      id: w.id,
      service: w.service,
      status: parseEnum(SERVICE_HEALTH_STATUSES, w.status),
      ...(w.issues ? { issues: w.issues.map(toIssue) } : {}),
    });
    return this.readAll(`${ROOT}/healthOverviews`, toOverview, o.expandIssues ? { $expand: 'issues' } : undefined);
  }

  /** Message-center posts (needs ServiceMessage.Read.All, not ServiceHealth.Read.All). */
  listMessages(): Promise<Listing<HealthMessage>> {
    return this.readAll(`${ROOT}/messages`, toMessage);
  }

  /**
   * The post-incident report's bytes and Content-Type, as sent (its format is undocumented). Graph has
   * one only while the issue is postIncidentReviewPublished; otherwise the HttpError of its answer.
   */
  async incidentReport(issueId: string): Promise<IncidentReport> {
    const r = await this.graph.request({
      method: 'GET',
      path: this.graph.path(`${ROOT}/issues/${encodeURIComponent(issueId)}/incidentReport`),
      headers: { accept: '*/*' },
      binary: true,
    });
    const type = r.headers['content-type'];
    return {
      bytes: r.bytes ?? Buffer.alloc(0),
      contentType: (Array.isArray(type) ? type[0] : type) ?? 'application/octet-stream',
    };
  }
}
