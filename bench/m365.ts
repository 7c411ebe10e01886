/**
 * Matching incidents to Microsoft 365 health issues: quality on the labeled set in bench/m365/
 * (tuning half and held-out half reported apart), beside two baselines (time window only; word
 * overlap + time window), and the cost (p99 per incident with 500 active issues; 100,000 incidents).
 * Each method's threshold is calibrated on the tuning half only, then applied to the held-out half.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_THRESHOLD,
  GRACE_AFTER_END_MS,
  GRACE_BEFORE_START_MS,
  Matcher,
  parseServiceNowTime,
  type HealthIssue,
  type Incident,
} from '../src/flows/m365/match/matcher.ts';
import { percentile, saveResult, type Metric } from './lib.ts';

type Labeled = Incident & { expected: string | null; split: 'tune' | 'heldout' };
const dir = join(import.meta.dirname, 'm365');
const issues = (JSON.parse(readFileSync(join(dir, 'issues.json'), 'utf8')) as { value: HealthIssue[] }).value;
const incidents = (JSON.parse(readFileSync(join(dir, 'incidents.json'), 'utf8')) as { result: Labeled[] }).result;

/** A ranker: for an incident, candidate issues with a score (higher is better), best first. */
type Ranker = (i: Incident) => { issue: string; score: number }[];

function inWindow(issue: HealthIssue, opened: number): boolean {
  const start = Date.parse(issue.startDateTime);
  const end = issue.isResolved && issue.endDateTime ? Date.parse(issue.endDateTime) : undefined;
  return opened >= start - GRACE_BEFORE_START_MS && (end === undefined || opened <= end + GRACE_AFTER_END_MS);
}

/** Baseline 1: every issue in the window, the most recently started first, all scored 1. */
const timeOnly: Ranker = (i) => {
  const opened = parseServiceNowTime(i.opened_at);
  return issues
    .filter((x) => inWindow(x, opened))
    .sort((a, b) => Date.parse(b.startDateTime) - Date.parse(a.startDateTime))
    .map((x) => ({ issue: x.id, score: 1 }));
};

/** Baseline 2: share of the incident's words (3+ letters) found in the issue's title + impact + service. */
const wordsOf = (s: string) => new Set(s.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []);
const wordOverlap: Ranker = (i) => {
  const opened = parseServiceNowTime(i.opened_at);
  const w = wordsOf(`${i.short_description} ${i.description ?? ''}`);
  return issues
    .filter((x) => inWindow(x, opened))
    .map((x) => {
      const iw = wordsOf(`${x.title} ${x.impactDescription ?? ''} ${x.service}`);
      const both = [...w].filter((t) => iw.has(t)).length;
      return { issue: x.id, score: w.size ? both / w.size : 0 };
    })
    .sort((a, b) => b.score - a.score);
};

const matcher = new Matcher(issues);
const ours: Ranker = (i) => matcher.match(i, { threshold: 0 });

interface Quality {
  precision: number;
  recall: number;
  falseMatches: number;
  answered: number;
}

function quality(rank: Ranker, set: Labeled[], threshold: number): Quality {
  let answered = 0;
  let right = 0;
  let withAnswer = 0;
  let noAnswer = 0;
  let falseOnNone = 0;
  for (const i of set) {
    const top = rank(i).filter((m) => m.score >= threshold)[0];
    if (i.expected) withAnswer++;
    else noAnswer++;
    if (!top) continue;
    answered++;
    if (top.issue === i.expected) right++;
    if (!i.expected) falseOnNone++;
  }
  return {
    precision: answered ? right / answered : 1,
    recall: withAnswer ? right / withAnswer : 1,
    falseMatches: noAnswer ? falseOnNone / noAnswer : 0,
    answered,
  };
}

/** The threshold (on a 0.01 grid) that gives the most right top matches minus wrong ones on `set`. */
function calibrate(rank: Ranker, set: Labeled[]): number {
  let best = { t: 0, gain: -Infinity };
  for (let t = 0; t <= 1.0001; t += 0.01) {
    const q = quality(rank, set, t);
    const right = q.recall * set.filter((i) => i.expected).length;
    const gain = right - (q.answered - right);
    if (gain > best.gain) best = { t: Math.round(t * 100) / 100, gain };
  }
  return best.t;
}

const tune = incidents.filter((i) => i.split === 'tune');
const heldout = incidents.filter((i) => i.split === 'heldout');
const results: Metric[] = [];
const r2 = (n: number) => Math.round(n * 1000) / 1000;
const methods: [string, Ranker, number][] = [
  ['matcher', ours, DEFAULT_THRESHOLD],
  ['time window only', timeOnly, calibrate(timeOnly, tune)],
  ['word overlap + time', wordOverlap, calibrate(wordOverlap, tune)],
];
const calibrated = calibrate(ours, tune);
if (calibrated !== DEFAULT_THRESHOLD)
  console.error(`note: DEFAULT_THRESHOLD is ${DEFAULT_THRESHOLD}, the tuning half now calibrates to ${calibrated}`);
for (const [name, rank, threshold] of methods) {
  for (const [half, set] of [
    ['held-out', heldout],
    ['tuning', tune],
  ] as const) {
    const q = quality(rank, set, threshold);
    const main = name === 'matcher';
    const note = `${half} half (${set.length} incidents, ${set.filter((i) => !i.expected).length} with no answer); threshold ${threshold}`;
    results.push(
      {
        metric: `${name}: top-match precision, ${half}`,
        value: r2(q.precision),
        unit: '',
        ...(main ? { target: '>= 0.90', met: q.precision >= 0.9 } : {}),
        note,
      },
      {
        metric: `${name}: recall, ${half}`,
        value: r2(q.recall),
        unit: '',
        ...(main ? { target: '>= 0.85', met: q.recall >= 0.85 } : {}),
      },
      {
        metric: `${name}: false matches on no-answer, ${half}`,
        value: r2(q.falseMatches),
        unit: '',
        ...(main ? { target: '<= 0.10', met: q.falseMatches <= 0.1 } : {}),
      },
    );
    console.error(name, half, q);
  }
}

// Cost: 500 issues active at once (the real ones cloned onto one day), the labeled texts as incidents.
const day = '2026-03-12';
const active: HealthIssue[] = Array.from({ length: 500 }, (_, n) => {
  const base = issues[n % issues.length];
  const start = `${day}T${String(n % 8).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00Z`;
  return {
    ...base,
    id: `${base.id}-${n}`,
    status: 'serviceDegradation',
    isResolved: false,
    startDateTime: start,
    endDateTime: null,
  };
});
const big = new Matcher(active);
const probe = (n: number): Incident => {
  const i = incidents[n % incidents.length];
  return {
    ...i,
    sys_id: `s${n}`,
    opened_at: `${day} ${String(8 + (n % 10)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00`,
  };
};
for (let n = 0; n < 500; n++) big.match(probe(n)); // warm up
const times: number[] = [];
for (let n = 0; n < 5000; n++) {
  const inc = probe(n);
  const t0 = performance.now();
  big.match(inc);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const p99 = percentile(times, 99);
const t0 = performance.now();
for (let n = 0; n < 100_000; n++) big.match(probe(n));
const total = (performance.now() - t0) / 1000;
results.push(
  {
    metric: 'latency per incident, 500 active issues, p99',
    value: r2(p99),
    unit: 'ms',
    target: '<= 5',
    met: p99 <= 5,
    note: `p50 ${r2(percentile(times, 50))} ms over 5,000 incidents`,
  },
  {
    metric: '100,000 incidents against 500 active issues',
    value: r2(total),
    unit: 's',
    target: '<= 60',
    met: total <= 60,
    note: 'one process, no workers',
  },
);

saveResult({
  name: 'm365',
  results,
  notes: [
    'Labeled set: bench/m365/ (37 real Microsoft 365 health issues on a re-based timeline, 169 incident texts written for it, 67 with no right answer; see bench/m365/README.md); each label was written before the matcher saw the row. False matches on the held-out half are 2 of 23, close to the 10 % line.',
    'Precision: of the incidents given a match, the share whose top match is the labeled issue. Recall: of the incidents with a right answer, the share whose top match is it. False matches: the share of no-answer incidents given any match.',
    `Each method's threshold is calibrated on the tuning half (most right minus wrong top matches); the matcher's DEFAULT_THRESHOLD ${DEFAULT_THRESHOLD} is that value (the tuning half calibrates to ${calibrated} on this run).`,
    'The held-out rows were never inspected one by one; their totals were looked at twice before this run: first 0.886 precision, 0.975 recall, 0.217 false matches (threshold 0.5), then, after 42 more tuning incidents (batch b) and the "same failure" rule, 0.929 / 0.975 / 0.13. So the held-out half is slightly used; a fresh set is the real test.',
  ],
});
