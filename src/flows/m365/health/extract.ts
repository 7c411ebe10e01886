/**
 * What people want from a service-health issue at a glance, read from its posts' text: Graph has no
 * structured field for the current status, scope of impact or next update (m365-support.md §2.1), only
 * Microsoft's post layout — "Title: … User impact: … Current status: … Scope of impact: … Start time: …
 * Next update by: …", "Final status: …" in the last post. Best effort and pure: a label that is missing
 * gives null, never an error.
 */

export interface PostText {
  createdDateTime: string;
  contentType: 'html' | 'text';
  content: string;
}

export interface HealthSummary {
  /** The newest post's "Final status" or "Current status" (an older post's when the newest has neither). */
  currentStatus: string | null;
  /** The newest "User impact" (its tense changes as the incident closes). */
  userImpact: string | null;
  scopeOfImpact: string | null;
  /** As written, and as an ISO time when it parses; null once the final post is out. */
  nextUpdateBy: { text: string; at: string | null } | null;
  rootCause: string | null;
  /** The newest post says this is the final update (a "Final status", or the closing sentence). */
  final: boolean;
}

const LABELS = [
  'Title',
  'User impact',
  'More info',
  'Current status',
  'Final status',
  'Scope of impact',
  'Start time',
  'End time',
  'Preliminary root cause',
  'Root cause',
  'Next steps',
  'Next update by',
  'Next update',
];

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** HTML to plain text with a line break where a block or `<br>` ended. */
export function htmlToText(html: string): string {
  return html
    .replace(/<\s*(script|style)[^>]*>[\s\S]*?<\s*\/\s*\1\s*>/gi, '')
    .replace(/<\s*br\s*\/?\s*>/gi, '\n')
    .replace(/<\s*\/\s*(p|div|li|h[1-6]|tr|ul|ol)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1));
        return Number.isFinite(code) ? String.fromCodePoint(code) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    })
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\u00a0]+/g, ' ');
}

const FINAL_SENTENCE = /this is the final update|final update for the event/i;
const CLOSING = /\s*This is the final update for the event\.?\s*$/i;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// A label starts a line (or the text) and ends with a colon; the longest label wins ("Next update by").
const LABEL_AT = new RegExp(
  `(?:^|\\n)[ \\t]*(${[...LABELS]
    .sort((a, b) => b.length - a.length)
    .map(escape)
    .join('|')})[ \\t]*:`,
  'gi',
);

/** A post's labelled sections, by lower-case label; text between a label and the next one. */
export function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const found = [...text.matchAll(LABEL_AT)];
  found.forEach((m, i) => {
    const start = m.index! + m[0].length;
    const end = i + 1 < found.length ? found[i + 1].index! : text.length;
    // The closing sentence of a final post is no part of the section it follows.
    const value = text.slice(start, end).replace(/\s+/g, ' ').replace(CLOSING, '').trim();
    const label = m[1].toLowerCase();
    if (value && !out.has(label)) out.set(label, value);
  });
  return out;
}

/** "Wednesday, March 1, 2023, at 5:00 PM UTC" (and similar) → ISO time, or null. */
export function parsePostTime(text: string): string | null {
  const cleaned = text
    .replace(/^\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s*/i, '')
    .replace(/,?\s+at\s+/i, ' ')
    .replace(/\s*\(.*\)\s*$/, '')
    .replace(/\.$/, '')
    .replace(/\bUTC\b|\bGMT\b|\bZ$/i, '')
    .trim();
  const ms = Date.parse(`${cleaned} UTC`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The summary of an issue from its posts (any order). */
export function summarizePosts(posts: readonly PostText[]): HealthSummary {
  const newestFirst = [...posts].sort((a, b) => Date.parse(b.createdDateTime) - Date.parse(a.createdDateTime));
  const parsed = newestFirst.map((p) => {
    const text = p.contentType === 'html' ? htmlToText(p.content) : p.content;
    return { text, sections: sections(text) };
  });
  const newest = (...labels: string[]): string | null => {
    for (const p of parsed) for (const l of labels) if (p.sections.has(l)) return p.sections.get(l)!;
    return null;
  };
  const latest = parsed[0];
  const final = latest ? latest.sections.has('final status') || FINAL_SENTENCE.test(latest.text) : false;
  const nextText =
    latest && !final ? (latest.sections.get('next update by') ?? latest.sections.get('next update')) : undefined;
  return {
    currentStatus: newest('final status', 'current status'),
    userImpact: newest('user impact'),
    scopeOfImpact: newest('scope of impact'),
    nextUpdateBy: nextText ? { text: nextText, at: parsePostTime(nextText) } : null,
    rootCause: newest('root cause', 'preliminary root cause'),
    final,
  };
}
