import { analyse, canonicalService, looksLikeRequest, SYMPTOMS, type Analysed } from './text.ts';

/**
 * Ranks Microsoft 365 service-health issues for ITSM incidents. Pure: no I/O, no model. Issues are
 * prepared once (token sets, weights, times); each incident is then scored against the issues whose
 * time window holds its opened_at. Signals: the time window, the incident's words against the issue's
 * title / impact / feature / featureGroup, the service named through a nickname lexicon, the issue's
 * classification and status, and agents' confirmations and rejections. "None" is a valid answer:
 * only matches at or above the threshold are returned.
 */

/** The fields of Graph's serviceHealthIssue the matcher reads. */
export interface HealthIssue {
  id: string;
  title: string;
  service: string;
  feature?: string | null;
  featureGroup?: string | null;
  classification?: string | null;
  status?: string | null;
  isResolved?: boolean | null;
  impactDescription?: string | null;
  startDateTime: string;
  endDateTime?: string | null;
  posts?: { description?: { content?: string | null } | null }[] | null;
}

/** The fields of a ServiceNow incident the matcher reads; opened_at is "YYYY-MM-DD HH:mm:ss" UTC. */
export interface Incident {
  sys_id: string;
  number?: string;
  short_description: string;
  description?: string | null;
  opened_at: string;
}

/** An agent's verdict on a suggested link; `text` is the incident's text (for confirmations). */
export interface Verdict {
  incident: string;
  issue: string;
  verdict: 'confirmed' | 'rejected';
  text?: string;
}

export interface Match {
  issue: string;
  score: number;
  why: string;
}

export interface MatchOptions {
  /** Minimum score for a match to be returned (0..1). */
  threshold?: number;
  /** How many matches per incident at most. */
  top?: number;
  feedback?: Verdict[];
}

/** Calibrated on the tuning half of bench/m365 (most right minus wrong top matches; see bench/m365.ts). */
export const DEFAULT_THRESHOLD = 0.53;
/** Users often notice before Microsoft posts: an issue starting up to this long after opened_at counts. */
export const GRACE_BEFORE_START_MS = 2 * 3600_000;
/** A resolved issue still counts for incidents opened this soon after its end (late tickets). */
export const GRACE_AFTER_END_MS = 15 * 60_000;

const MINUTE = 60_000;

interface Prepared {
  issue: HealthIssue;
  service: string;
  tokens: Set<string>;
  /** The kinds of failure the issue names ("send", "join", "sign"…). */
  symptoms: Set<string>;
  typed: Map<string, string>;
  startMs: number;
  endMs: number | undefined;
  /** 1 for an incident-class issue being worked, lower for advisories and restored ones. */
  impact: number;
  falsePositive: boolean;
  /** An outage (classification incident): "it fails" is its failure, whatever the issue's wording. */
  outage: boolean;
  statusPhrase: string;
}

export class InvalidInputError extends Error {}

/** ServiceNow's "YYYY-MM-DD HH:mm:ss" (UTC), or an ISO 8601 string; NaN when neither. */
export function parseServiceNowTime(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (m) return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  return /\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : NaN;
}

const STATUS_PHRASES: Record<string, string> = {
  investigating: 'under investigation',
  servicedegradation: 'degraded',
  serviceinterruption: 'interrupted',
  restoringservice: 'restoring service',
  extendedrecovery: 'in extended recovery',
  verifyingservice: 'verifying the fix',
  servicerestored: 'restored',
  postincidentreviewpublished: 'restored (review published)',
  investigationsuspended: 'investigation suspended',
  falsepositive: 'false positive',
  resolved: 'resolved',
  resolvedexternal: 'resolved',
  mitigated: 'mitigated',
  mitigatedexternal: 'mitigated',
  serviceoperational: 'operational',
};

const SECTION =
  /(user impact|more info|current status|final status|scope of impact|start time|end time|root cause|preliminary root cause|next steps|next update by|title)\s*:/gi;

/**
 * The "User impact:" sections of the posts (their content is HTML): Microsoft restates the impact
 * there in more words than impactDescription. The other sections (root cause, next steps) would
 * only add words a user never types.
 */
export function userImpactFromPosts(posts: HealthIssue['posts']): string[] {
  const out: string[] = [];
  for (const post of posts ?? []) {
    const plain = (post.description?.content ?? '')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&');
    const parts = plain.split(SECTION);
    // split() with a capturing group alternates [text, name, text, name, text…].
    for (let i = 1; i + 1 < parts.length; i += 2)
      if (parts[i].toLowerCase() === 'user impact') out.push(parts[i + 1].trim());
  }
  return out;
}

function prepare(issue: HealthIssue): Prepared {
  const text = [
    issue.title,
    issue.impactDescription,
    issue.feature,
    issue.featureGroup,
    ...userImpactFromPosts(issue.posts),
  ]
    .filter(Boolean)
    .join(' ');
  const a = analyse(text);
  const service = canonicalService(issue.service);
  // Graph's enums come in either case ("ServiceRestored" in the samples): compare lowercased.
  const status = (issue.status ?? '').toLowerCase();
  const restored =
    issue.isResolved === true ||
    ['servicerestored', 'postincidentreviewpublished', 'resolved', 'resolvedexternal'].includes(status);
  const advisory = (issue.classification ?? '').toLowerCase() === 'advisory';
  const endMs = issue.endDateTime ? Date.parse(issue.endDateTime) : undefined;
  return {
    issue,
    service,
    tokens: a.tokens,
    symptoms: new Set([...a.tokens].filter((t) => SYMPTOMS.has(t))),
    typed: a.typed,
    startMs: Date.parse(issue.startDateTime),
    endMs: restored && endMs !== undefined && !Number.isNaN(endMs) ? endMs : undefined,
    impact: (advisory ? 0.6 : 1) * (restored ? 0.9 : 1),
    falsePositive: status === 'falsepositive',
    outage: !advisory,
    statusPhrase: STATUS_PHRASES[status] ?? (status || 'status unknown'),
  };
}

function ago(ms: number): string {
  const m = Math.round(Math.abs(ms) / MINUTE);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

export class Matcher {
  private readonly issues: Prepared[];
  /** Inverse document frequency of each issue token, so "send" outweighs "access". */
  private readonly idf = new Map<string, number>();
  /** incident sys_id → issue ids an agent rejected for it. */
  private rejected = new Map<string, Set<string>>();
  private confirmed = new Map<string, Set<string>[]>();

  constructor(issues: HealthIssue[], feedback: Verdict[] = []) {
    this.issues = issues.map(prepare);
    const df = new Map<string, number>();
    for (const p of this.issues) for (const t of p.tokens) df.set(t, (df.get(t) ?? 0) + 1);
    const n = Math.max(this.issues.length, 1);
    for (const [t, d] of df) this.idf.set(t, Math.log(1 + n / d));
    this.learn(feedback);
  }

  /** Record agents' verdicts: a rejected pair never comes back; confirmed texts boost similar ones. */
  learn(feedback: Verdict[]): void {
    for (const v of feedback) {
      if (v.verdict === 'rejected') {
        const set = this.rejected.get(v.incident) ?? new Set<string>();
        set.add(v.issue);
        this.rejected.set(v.incident, set);
      } else if (v.text) {
        const list = this.confirmed.get(v.issue) ?? [];
        list.push(analyse(v.text).tokens);
        this.confirmed.set(v.issue, list);
      }
    }
  }

  private weight(t: string): number {
    return this.idf.get(t) ?? Math.log(1 + Math.max(this.issues.length, 1));
  }

  match(incident: Incident, options: MatchOptions = {}): Match[] {
    const threshold = options.threshold ?? DEFAULT_THRESHOLD;
    const top = options.top ?? 3;
    const opened = parseServiceNowTime(incident.opened_at);
    if (Number.isNaN(opened)) throw new InvalidInputError(`opened_at: not a time: ${incident.opened_at}`);
    const short = analyse(incident.short_description);
    const all = analyse(`${incident.short_description} ${incident.description ?? ''}`);
    // The incident's side of the score is the same for every issue: weigh its words once.
    const tokens = [...all.tokens];
    const weights = tokens.map((t) => this.weight(t) * (short.tokens.has(t) ? 1 : 0.5));
    const words: IncidentWords = {
      all,
      tokens,
      weights,
      total: weights.reduce((x, y) => x + y, 0),
      request: looksLikeRequest(incident.short_description),
    };
    const rejected = this.rejected.get(incident.sys_id);
    const scored: { p: Prepared; score: number }[] = [];
    for (const p of this.issues) {
      if (p.falsePositive || opened < p.startMs - GRACE_BEFORE_START_MS) continue;
      if (p.endMs !== undefined && opened > p.endMs + GRACE_AFTER_END_MS) continue;
      if (rejected?.has(p.issue.id)) continue;
      const score = this.score(p, words, opened);
      if (score >= threshold) scored.push({ p, score });
    }
    scored.sort((x, y) => y.score - x.score || x.p.issue.id.localeCompare(y.p.issue.id));
    return scored.slice(0, top).map(({ p, score }) => ({ issue: p.issue.id, score, why: this.why(p, words, opened) }));
  }

  private boost(p: Prepared, w: IncidentWords): number {
    let boost = 0;
    for (const c of this.confirmed.get(p.issue.id) ?? []) boost = Math.max(boost, jaccard(c, w.all.tokens));
    return boost;
  }

  private score(p: Prepared, w: IncidentWords, opened: number): number {
    // Service: named and the issue's (1), the suite's issue and any M365 product named (0.7),
    // nothing named (0.25: vague tickets still can match), another product named (0).
    const named = w.all.services;
    const service = named.has(p.service)
      ? 1
      : p.service === 'Microsoft 365 suite' && named.size > 0
        ? 0.7
        : named.size === 0
          ? 0.25
          : 0;

    // Symptom words: idf-weighted share of the incident's words found in the issue, the short
    // description counting fully and the description half.
    let have = 0;
    let sameFailure = p.symptoms.size === 0 || (p.outage && w.all.tokens.has('error'));
    for (let i = 0; i < w.tokens.length; i++) {
      if (!p.tokens.has(w.tokens[i])) continue;
      have += w.weights[i];
      if (p.symptoms.has(w.tokens[i])) sameFailure = true;
    }
    // No symptom words at all ("email down", "teams not working"): neutral, it is the service's word.
    const text = w.total === 0 ? 0.5 : have / w.total;

    // Time: recent starts fit best; an issue posted after the ticket was opened fits a little less.
    const sinceStart = opened - p.startMs;
    const time = sinceStart < 0 ? 0.8 : sinceStart <= 4 * 3600_000 ? 1 : sinceStart <= 12 * 3600_000 ? 0.8 : 0.6;

    let score = 0.3 * service + 0.5 * text + 0.1 * time + 0.1 * p.impact;
    if (this.confirmed.size > 0) score += 0.3 * this.boost(p, w);
    // The product alone is not a match: "teams camera black" is not the Teams sign-in outage.
    if (w.total > 0 && have === 0) score *= 0.5;
    // Same product and feature but another failure: "teams video background" is not "can't join video meetings".
    else if (w.total > 0 && !sameFailure) score *= 0.7;
    if (service === 0) score *= 0.4;
    if (w.request) score *= 0.6;
    return Math.round(Math.min(1, score) * 1000) / 1000;
  }

  /** The human reason: the words that matched, the timing, the issue's state. */
  private why(p: Prepared, w: IncidentWords, opened: number): string {
    const sinceStart = opened - p.startMs;
    const matched = w.tokens.filter((t) => p.tokens.has(t)).map((t) => w.all.typed.get(t) ?? t);
    const named = w.all.services.has(p.service) ? [w.all.typed.get(`svc:${p.service}`) ?? p.service] : [];
    const mentions = [...new Set([...named, ...matched])];
    const advisory = (p.issue.classification ?? '').toLowerCase() === 'advisory' ? ' (advisory)' : '';
    return [
      mentions.length ? `mentions ${mentions.map((m) => `'${m}'`).join(', ')}` : 'names nothing specific to it',
      `opened ${ago(sinceStart)} ${sinceStart >= 0 ? 'after' : 'before'} ${p.issue.id} began`,
      p.endMs !== undefined
        ? `${p.service} affected until ${new Date(p.endMs).toISOString().slice(11, 16)} UTC, ${p.statusPhrase}${advisory}`
        : `${p.service} ${p.statusPhrase}${advisory}`,
      ...(this.boost(p, w) > 0.3 ? ['like an incident an agent confirmed for it'] : []),
      ...(w.request ? ['reads like a request'] : []),
    ].join('; ');
  }
}

interface IncidentWords {
  all: Analysed;
  tokens: string[];
  weights: number[];
  total: number;
  request: boolean;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let both = 0;
  for (const t of a) if (b.has(t)) both++;
  return both / (a.size + b.size - both);
}

/** Match every incident; the shape the offline CLI prints. */
export function matchAll(
  issues: HealthIssue[],
  incidents: Incident[],
  options: MatchOptions = {},
): { incident: string; matches: Match[] }[] {
  const matcher = new Matcher(issues, options.feedback);
  return incidents.map((i) => ({ incident: i.sys_id, matches: matcher.match(i, options) }));
}
