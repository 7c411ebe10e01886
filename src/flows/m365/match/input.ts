import { z } from 'zod';
import type { StoredIssue } from '../health/store.ts';
import { InvalidInputError, parseServiceNowTime, type HealthIssue, type Incident, type Verdict } from './matcher.ts';

/**
 * The matcher's inputs as the systems send them: a Graph list response of serviceHealthIssue
 * (`{"value": [...]}`) and a ServiceNow Table API response of incidents (`{"result": [...]}`).
 * Errors name the source and the field path, e.g. `issues.json: value[2].startDateTime: …`.
 */

const isoDateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), {
  message: 'not an ISO 8601 date-time',
});
const text = z.string().nullish();

const serviceHealthIssue = z.object({
  id: z.string().min(1),
  title: z.string(),
  service: z.string(),
  feature: text,
  featureGroup: text,
  classification: text,
  status: text,
  isResolved: z.boolean().nullish(),
  impactDescription: text,
  startDateTime: isoDateTime,
  endDateTime: isoDateTime.nullish(),
  posts: z.array(z.object({ description: z.object({ content: text }).nullish() })).nullish(),
});

/** A Table API field read with sysparm_display_value=all is `{value, display_value}`: take the value. */
const snField = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => (v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v), inner);

const incident = z.object({
  sys_id: snField(z.string().min(1)),
  number: snField(z.string().optional()),
  short_description: snField(z.string()),
  description: snField(z.string().nullish()),
  opened_at: snField(
    z.string().refine((s) => !Number.isNaN(parseServiceNowTime(s)), {
      message: 'not a time in ServiceNow\'s "YYYY-MM-DD HH:mm:ss" (UTC) form',
    }),
  ),
});

const verdict = z.object({
  incident: z.string().min(1),
  issue: z.string().min(1),
  verdict: z.enum(['confirmed', 'rejected']),
  text: z.string().optional(),
});

function parse<T>(schema: z.ZodType<T>, json: unknown, source: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const path = first.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
  throw new InvalidInputError(`${source}: ${path || '(top level)'}: ${first.message}`);
}

export function parseIssues(json: unknown, source = 'issues'): HealthIssue[] {
  return parse(z.object({ value: z.array(serviceHealthIssue) }), json, source).value;
}

export function parseIncidents(json: unknown, source = 'incidents'): Incident[] {
  return parse(z.object({ result: z.array(incident) }), json, source).result;
}

/** Feedback file: `{"feedback": [{"incident", "issue", "verdict": "confirmed"|"rejected", "text"?}]}`. */
export function parseFeedback(json: unknown, source = 'feedback'): Verdict[] {
  return parse(z.object({ feedback: z.array(verdict) }), json, source).feedback;
}

/** A stored issue as the matcher reads it: the Graph shape, posts as `description.content`. */
export const toMatchIssue = (s: StoredIssue): HealthIssue => ({
  ...s.issue,
  posts: s.issue.posts.map((p) => ({ description: { content: p.content } })),
});
