import type { FastifyInstance } from 'fastify';
import {
  C,
  type ServiceHealthDeps,
  ISSUE_STATUSES,
  RESOLVED_STATUSES,
  type IssueDoc,
  type IssuePost,
  type MessageDoc,
} from './service-health-seed.ts';

/**
 * Control endpoints for tests and the demo (not Graph): add a service-health issue, add a post to one
 * (it bumps lastModifiedDateTime, and may change status / isResolved), add a message-center post.
 * Enum values are checked without regard to case and stored as sent, so a test can replay the docs'
 * "ServiceRestored" casing.
 */

class ControlError extends Error {}
const need = (body: Record<string, unknown>, field: string): string => {
  const v = body[field];
  if (typeof v !== 'string' || !v.trim()) throw new ControlError(`'${field}' is required (a non-empty string)`);
  return v;
};
const optional = (body: Record<string, unknown>, field: string): string | undefined => {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlError(`'${field}' must be a string`);
  return v;
};
const oneOf = (field: string, value: string | undefined, members: readonly string[]) => {
  if (value !== undefined && !members.some((m) => m.toLowerCase() === value.toLowerCase()))
    throw new ControlError(`'${field}' must be one of ${members.join(', ')} (any casing); got '${value}'`);
  return value;
};
const time = (field: string, value: string | undefined) => {
  if (value !== undefined && Number.isNaN(Date.parse(value)))
    throw new ControlError(`'${field}' must be an ISO 8601 date-time; got '${value}'`);
  return value;
};
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const resolvedBy = (status: string) => [...RESOLVED_STATUSES].some((s) => s.toLowerCase() === status.toLowerCase());

const PREFIXES: Record<string, string> = {
  'Exchange Online': 'EX',
  'Microsoft Teams': 'TM',
  'SharePoint Online': 'SP',
  'OneDrive for Business': 'OD',
  'Microsoft 365 suite': 'MO',
};

export function registerServiceHealthControl(app: FastifyInstance, d: ServiceHealthDeps): void {
  const body = (raw: unknown) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ControlError('the body must be a JSON object');
    return raw as Record<string, unknown>;
  };
  const guarded =
    <P>(fn: (b: Record<string, unknown>, params: P) => unknown) =>
    async (req: { body: unknown; params: unknown }, reply: { code(n: number): { send(x: unknown): unknown } }) => {
      try {
        return reply.code(201).send(fn(body(req.body), req.params as P));
      } catch (e) {
        if (e instanceof ControlError) return reply.code(400).send({ error: e.message });
        throw e;
      }
    };

  const post = (b: Record<string, unknown>, at: number): IssuePost => ({
    createdDateTime: iso(at),
    postType: oneOf('postType', optional(b, 'postType'), ['regular', 'quick', 'strategic']) ?? 'regular',
    description: { contentType: 'html', content: need(b, 'content') },
  });

  app.post(
    '/_sandbox/m365/issues',
    guarded((b) => {
      const now = d.clock.now();
      const service = need(b, 'service');
      const id = optional(b, 'id') ?? `${PREFIXES[service] ?? 'MO'}${d.store.nextCounter('m365IssueId', 9_000_001)}`;
      if (d.store.get(C.issues, id)) throw new ControlError(`issue '${id}' exists already`);
      const status = oneOf('status', optional(b, 'status'), ISSUE_STATUSES) ?? 'investigating';
      const posts = b.content === undefined ? [] : [post(b, now)];
      const issue: IssueDoc = {
        id,
        title: need(b, 'title'),
        startDateTime: time('startDateTime', optional(b, 'startDateTime')) ?? iso(now),
        endDateTime: time('endDateTime', optional(b, 'endDateTime')) ?? null,
        lastModifiedDateTime: iso(now),
        details: [],
        classification: oneOf('classification', optional(b, 'classification'), ['advisory', 'incident']) ?? 'incident',
        feature: optional(b, 'feature') ?? null,
        featureGroup: optional(b, 'featureGroup') ?? null,
        impactDescription: need(b, 'impactDescription'),
        isResolved: typeof b.isResolved === 'boolean' ? b.isResolved : resolvedBy(status),
        origin: oneOf('origin', optional(b, 'origin'), ['microsoft', 'thirdParty', 'customer']) ?? 'microsoft',
        posts,
        service,
        status,
      };
      return d.store.put(C.issues, id, issue);
    }),
  );

  app.post(
    '/_sandbox/m365/issues/:id/posts',
    guarded<{ id: string }>((b, params) => {
      const issue = d.store.get<IssueDoc>(C.issues, params.id);
      if (!issue) throw new ControlError(`no issue '${params.id}'`);
      // Strictly later than the last change, so a poller comparing lastModifiedDateTime always sees it.
      const now = Math.max(d.clock.now(), Date.parse(issue.lastModifiedDateTime) + 1000);
      const status = oneOf('status', optional(b, 'status'), ISSUE_STATUSES);
      if (b.isResolved !== undefined && typeof b.isResolved !== 'boolean')
        throw new ControlError(`'isResolved' must be a boolean`);
      const isResolved = (b.isResolved as boolean | undefined) ?? (status ? resolvedBy(status) : issue.isResolved);
      const updated: IssueDoc = {
        ...issue,
        posts: [...issue.posts, post(b, now)],
        lastModifiedDateTime: iso(now),
        status: status ?? issue.status,
        isResolved,
        endDateTime: isResolved && !issue.isResolved ? iso(now) : issue.endDateTime,
      };
      return d.store.put(C.issues, issue.id, updated);
    }),
  );

  app.post(
    '/_sandbox/m365/messages',
    guarded((b) => {
      const now = d.clock.now();
      const id = optional(b, 'id') ?? `MC${d.store.nextCounter('m365MessageId', 900_101)}`;
      const services = b.services ?? [];
      if (!Array.isArray(services) || services.some((s) => typeof s !== 'string'))
        throw new ControlError(`'services' must be a list of strings`);
      const message: MessageDoc = {
        id,
        title: need(b, 'title'),
        startDateTime: time('startDateTime', optional(b, 'startDateTime')) ?? iso(now),
        endDateTime: time('endDateTime', optional(b, 'endDateTime')) ?? null,
        lastModifiedDateTime: iso(now),
        details: [],
        actionRequiredByDateTime: time('actionRequiredByDateTime', optional(b, 'actionRequiredByDateTime')) ?? null,
        body: { contentType: 'html', content: need(b, 'content') },
        category:
          oneOf('category', optional(b, 'category'), ['preventOrFixIssue', 'planForChange', 'stayInformed']) ??
          'stayInformed',
        hasAttachments: false,
        isMajorChange: b.isMajorChange === true,
        services: services as string[],
        severity: oneOf('severity', optional(b, 'severity'), ['normal', 'high', 'critical']) ?? 'normal',
        tags: Array.isArray(b.tags) ? (b.tags as string[]) : [],
        viewPoint: null,
      };
      return d.store.put(C.messages, id, message);
    }),
  );
}
