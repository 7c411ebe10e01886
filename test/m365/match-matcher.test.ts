import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  Matcher,
  matchAll,
  userImpactFromPosts,
  type HealthIssue,
  type Incident,
} from '../../src/flows/m365/match/matcher.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'm365');
const issues = (JSON.parse(readFileSync(join(fixtures, 'issues.json'), 'utf8')) as { value: HealthIssue[] }).value;

const incident = (short_description: string, opened_at: string, description = '', sys_id = 'i1'): Incident => ({
  sys_id,
  number: 'INC0010001',
  short_description,
  description,
  opened_at,
});

test('a user-typed outlook ticket during the Exchange outage: top match with the reasons', () => {
  const [m, ...rest] = new Matcher(issues).match(incident('outlook not sending since 9', '2026-03-12 09:00:00'));
  assert.equal(m.issue, 'EX512238');
  assert.ok(m.score > 0.5 && m.score <= 1, `score ${m.score}`);
  assert.equal(m.why, "mentions 'outlook', 'sending'; opened 20 min after EX512238 began; Exchange Online degraded");
  assert.ok(rest.every((r) => r.score <= m.score));
});

test('at most three matches, best first, all within 0..1', () => {
  const many: HealthIssue[] = Array.from({ length: 6 }, (_, n) => ({ ...issues[0], id: `EX${n}` }));
  const ms = new Matcher(many).match(incident('cant send email', '2026-03-12 09:00:00'), { threshold: 0 });
  assert.equal(ms.length, 3);
  for (let n = 1; n < ms.length; n++) assert.ok(ms[n - 1].score >= ms[n].score);
  assert.ok(ms.every((m) => m.score >= 0 && m.score <= 1));
});

test('time window: too early, just before the post (grace), during, after the end, false positive', () => {
  const m = new Matcher(issues);
  const ids = (t: string, text = 'cant send email') => m.match(incident(text, t), { threshold: 0 }).map((x) => x.issue);
  assert.ok(!ids('2026-03-12 06:00:00').includes('EX512238'), 'opened 2 h 40 min before it began');
  const early = m.match(incident('cant send email', '2026-03-12 08:00:00'))[0];
  assert.equal(early.issue, 'EX512238');
  assert.match(early.why, /opened 40 min before EX512238 began/);
  assert.ok(ids('2026-03-12 07:00:00', 'sharepoint down').includes('SP1070801'), 'during');
  assert.ok(ids('2026-03-12 08:10:00', 'sharepoint down').includes('SP1070801'), 'within the grace after its end');
  assert.ok(!ids('2026-03-12 10:00:00', 'sharepoint down').includes('SP1070801'), 'resolved before it was opened');
  assert.ok(!ids('2026-03-12 10:00:00', 'cant sign in to teams').includes('TM151953'), 'a false positive');
  assert.match(
    m.match(incident('sharepoint down', '2026-03-12 07:00:00'))[0].why,
    /SharePoint Online affected until 08:00 UTC, restored/,
  );
});

test('lexicon: nicknames name the service', () => {
  const m = new Matcher(issues);
  const top = (text: string, t = '2026-03-12 09:30:00') => m.match(incident(text, t))[0]?.issue;
  assert.equal(top('owa wont send'), 'EX512238');
  assert.equal(top('intranet wont load', '2026-03-12 07:00:00'), 'SP1070801');
  assert.equal(top('sfb calls failing'), 'LY172954');
  assert.equal(top('lync cant make calls'), 'LY172954');
  assert.equal(top('mdi report link in email broken'), 'DZ861648');
  assert.equal(top('meeting keeps dropping, cant join'), 'TM1288323');
});

test('none: requests and unrelated faults get no match, even inside an outage window', () => {
  const m = new Matcher(issues);
  for (const text of [
    'please create a shared mailbox for the support team',
    'outlook keeps asking for password',
    'printer on 3rd floor not printing',
    'teams camera shows black screen',
  ])
    assert.deepEqual(m.match(incident(text, '2026-03-12 09:30:00')), [], text);
  assert.deepEqual(new Matcher([]).match(incident('outlook not sending', '2026-03-12 09:30:00')), []);
});

test('threshold: a higher one drops the weaker matches', () => {
  const m = new Matcher(issues);
  const i = incident('outlook not sending since 9', '2026-03-12 09:00:00');
  const score = m.match(i)[0].score;
  assert.equal(m.match(i, { threshold: score }).length, 1);
  assert.deepEqual(m.match(i, { threshold: Math.min(1, score + 0.001) }), []);
});

test('feedback: a rejected pair never comes back; a confirmation boosts similar texts', () => {
  const i = incident('outlook not sending since 9', '2026-03-12 09:00:00', '', 'inc-a');
  const rejected = new Matcher(issues, [{ incident: 'inc-a', issue: 'EX512238', verdict: 'rejected' }]);
  assert.ok(!rejected.match(i, { threshold: 0 }).some((m) => m.issue === 'EX512238'));
  // The rejection is for that incident only.
  assert.equal(rejected.match({ ...i, sys_id: 'inc-b' })[0].issue, 'EX512238');

  // "calendar invites failing" names no symptom of the outage: below the threshold until an agent
  // confirms a ticket with the same words for it.
  const vague = incident('calendar invites failing', '2026-03-12 09:30:00', '', 'inc-c');
  const before = new Matcher(issues).match(vague, { threshold: 0 }).find((m) => m.issue === 'EX512238');
  const confirmed = new Matcher(issues, [
    { incident: 'inc-x', issue: 'EX512238', verdict: 'confirmed', text: 'calendar invites failing to go out' },
  ]);
  const after = confirmed.match(vague, { threshold: 0 }).find((m) => m.issue === 'EX512238');
  assert.ok(before && after && after.score > before.score, `${before?.score} -> ${after?.score}`);
  assert.match(after.why, /like an incident an agent confirmed for it/);
  // learn() adds verdicts to a live matcher too.
  confirmed.learn([{ incident: 'inc-c', issue: 'EX512238', verdict: 'rejected' }]);
  assert.ok(!confirmed.match(vague, { threshold: 0 }).some((m) => m.issue === 'EX512238'));
});

test('matchAll: one result per incident, in order, by sys_id', () => {
  const r = matchAll(issues, [
    incident('outlook not sending', '2026-03-12 09:00:00', '', 'x1'),
    incident('new laptop please', '2026-03-12 09:00:00', '', 'x2'),
  ]);
  assert.deepEqual(
    r.map((x) => [x.incident, x.matches.map((m) => m.issue)]),
    [
      ['x1', ['EX512238']],
      ['x2', []],
    ],
  );
});

test('enums are read case-insensitively', () => {
  const upper = issues.map((i) => ({
    ...i,
    status: i.status?.toUpperCase(),
    classification: i.classification?.toUpperCase(),
  }));
  const i = incident('sharepoint down, cant sign in to teams', '2026-03-12 08:05:00', '', 'z');
  const a = new Matcher(issues).match(i, { threshold: 0 });
  const b = new Matcher(upper).match(i, { threshold: 0 });
  assert.equal(a[0].issue, 'SP1070801');
  assert.match(b[0].why, /restored/);
  assert.deepEqual(b, a);
  assert.ok(!b.some((m) => m.issue === 'TM151953'), 'FALSEPOSITIVE is still a false positive');
});

test("posts: the 'User impact:' section adds words; the other sections do not", () => {
  const post = (content: string) => ({ description: { content } });
  const base: HealthIssue = {
    ...issues[0],
    id: 'EX9',
    title: 'Some users may be unable to access their mailboxes',
    impactDescription: 'Users may be unable to access their mailboxes.',
    posts: [
      post(
        '<p>Title: mailboxes</p><p>User impact: Users may be unable to open shared calendars in Outlook.</p><p>Root cause: a printer configuration change.</p>',
      ),
    ],
  };
  assert.deepEqual(userImpactFromPosts(base.posts), ['Users may be unable to open shared calendars in Outlook.']);
  const m = new Matcher([base]);
  const calendar = m.match(incident('shared calendar wont open', '2026-03-12 09:30:00'), { threshold: 0 })[0];
  assert.match(calendar.why, /'calendar'/);
  const printer = m.match(incident('printer configuration', '2026-03-12 09:30:00'), { threshold: 0 })[0];
  assert.match(printer.why, /names nothing specific to it/);
});
