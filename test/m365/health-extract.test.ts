import { test } from 'node:test';
import assert from 'node:assert/strict';
import records from '../../sandbox/microsoft/fixtures/m365-health-issues.json' with { type: 'json' };
import { htmlToText, parsePostTime, summarizePosts, type PostText } from '../../src/flows/m365/health/extract.ts';

/**
 * Reading the posts' text (m365-support.md §2.1: no structured scope or next-update fields). The real
 * records (sandbox/microsoft/fixtures, see SOURCE.md) hold titles and user-impact statements but no post
 * bodies, so each is put in Microsoft's post layout here, in the HTML variants posts come in.
 */

const html = (content: string, createdDateTime = '2026-03-01T10:00:00Z'): PostText => ({
  createdDateTime,
  contentType: 'html',
  content,
});
const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
const norm = (s: string) => s.replace(/\s+/g, ' ').trim();

const real = (records as { id: string | null; title: string | null; impactDescription: string | null }[]).filter(
  (r) => r.id && r.title && r.impactDescription,
);

test('every real record: title, user impact and scope come back from a <br>-separated post', () => {
  assert.ok(real.length >= 90, `${real.length} records with a title and an impact`);
  for (const r of real) {
    const post = html(
      `Title: ${escape(r.title!)}<br><br>User impact: ${escape(r.impactDescription!)}<br><br>` +
        `Current status: We're analyzing service telemetry.<br><br>Scope of impact: Users in North America.<br><br>` +
        `Next update by: Wednesday, March 1, 2023, at 5:00 PM UTC`,
    );
    const s = summarizePosts([post]);
    // An impact statement that itself starts with "User Impact:" (two records) is read from its second label.
    assert.equal(s.userImpact, norm(r.impactDescription!.replace(/^User Impact:\s*/i, '')), r.id!);
    assert.equal(s.scopeOfImpact, 'Users in North America.', r.id!);
    assert.equal(s.currentStatus, "We're analyzing service telemetry.", r.id!);
    assert.equal(s.nextUpdateBy?.at, '2023-03-01T17:00:00.000Z', r.id!);
    assert.equal(s.final, false);
  }
});

test('bold labels in paragraphs, entities, and the newest post winning', () => {
  const first = html(
    '<p><b>Title</b>: Some users can&#39;t send mail</p><p><b>User impact</b>: Users may be unable to send email.</p>' +
      '<p><b>Current status</b>: We&#39;re investigating.</p><p><b>Scope of impact</b>: Some users in Europe.</p>' +
      '<p><b>Next update by</b>: Tuesday, September 5, 2023, at 9:30 AM UTC</p>',
    '2023-09-05T07:00:00Z',
  );
  const second = html(
    '<p><b>Title</b>: Some users can&#39;t send mail</p><p><b>User impact</b>: Users may have been unable to send email.</p>' +
      '<p><b>Current status</b>: We&#39;ve deployed a fix &amp; are monitoring.</p>' +
      '<p><b>Next update by</b>: Tuesday, September 5, 2023, at 1:00 PM UTC</p>',
    '2023-09-05T09:25:00Z',
  );
  const s = summarizePosts([second, first]);
  assert.equal(s.currentStatus, "We've deployed a fix & are monitoring.");
  assert.equal(s.userImpact, 'Users may have been unable to send email.');
  assert.equal(s.scopeOfImpact, 'Some users in Europe.', 'an older post fills what the newest leaves out');
  assert.deepEqual(s.nextUpdateBy, {
    text: 'Tuesday, September 5, 2023, at 1:00 PM UTC',
    at: '2023-09-05T13:00:00.000Z',
  });
});

test('the final post: its final status, a root cause, and no next update', () => {
  const open = html(
    'Current status: Investigating.\nNext update by: Friday, May 2, 2025, at 6:00 PM UTC',
    '2025-05-02T15:00:00Z',
  );
  const final = html(
    '<p>Final status: We&#39;ve confirmed that the issue is resolved.</p><p>Scope of impact: Any user.</p>' +
      '<p>Start time: Friday, May 2, 2025, at 2:10 PM UTC</p><p>End time: Friday, May 2, 2025, at 5:40 PM UTC</p>' +
      '<p>Root cause: A configuration change caused a portion of infrastructure to fail.</p>' +
      '<p>This is the final update for the event.</p>',
    '2025-05-02T18:05:00Z',
  );
  const s = summarizePosts([open, final]);
  assert.equal(s.final, true);
  assert.equal(s.currentStatus, "We've confirmed that the issue is resolved.");
  assert.equal(s.nextUpdateBy, null);
  assert.equal(s.rootCause, 'A configuration change caused a portion of infrastructure to fail.');
  assert.equal(s.final, true);
});

test('text without labels, and no posts: nulls, not errors', () => {
  const s = summarizePosts([html('<div>We are looking into reports of mail delays.</div>')]);
  assert.deepEqual(s, {
    currentStatus: null,
    userImpact: null,
    scopeOfImpact: null,
    nextUpdateBy: null,
    rootCause: null,
    final: false,
  });
  assert.equal(summarizePosts([]).currentStatus, null);
  assert.equal(summarizePosts([html('Next update by: when we know more')]).nextUpdateBy?.at, null);
});

test('html to text and post times', () => {
  assert.equal(htmlToText('<p>a&nbsp;b</p><br/>c &lt;d&gt;<script>x()</script>'), 'a b\n\nc <d>');
  assert.equal(parsePostTime('Monday, February 17, 2025, at 11:00 PM UTC'), '2025-02-17T23:00:00.000Z');
  assert.equal(parsePostTime('2/23/2019 8:00 AM UTC'), '2019-02-23T08:00:00.000Z');
  assert.equal(parsePostTime('soon'), null);
});
