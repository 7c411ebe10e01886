import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PermanentError } from '../../src/engine/errors.ts';
import { escapeHtml, renderEmail } from '../../src/notify/email.ts';
import { boundMessage, cut, LIMITS } from '../../src/notify/message.ts';
import { renderSlack } from '../../src/notify/slack.ts';
import { renderTeams } from '../../src/notify/teams.ts';

const base = {
  event: 'pod.submitted',
  title: 'Access to prod-db requested',
  summary: 'alice@example.com asks for Contributor on prod-db for 4 hours.',
  facts: [
    { name: 'Requester', value: 'alice@example.com' },
    { name: 'Justification', value: 'INC0010001 <b>urgent</b> & [click](https://evil.example)' },
  ],
  links: [
    { title: 'Approve', url: 'https://tl.example.com/a/approve?t=abc' },
    { title: 'Open', url: 'https://tl.example.com/pod/42' },
  ],
  recipients: { emails: ['bob@example.com', 'bob@example.com', ' carol@example.com '] },
};

test('bounded fields: title 200, facts 20, values 1,000, cut with an ellipsis; titles on one line', () => {
  const m = boundMessage({
    ...base,
    title: `line one\r\nline two ${'t'.repeat(300)}`,
    summary: 's'.repeat(5_000),
    facts: Array.from({ length: 30 }, (_, i) => ({ name: `n${i}`, value: 'v'.repeat(1_500) })),
    links: Array.from({ length: 9 }, (_, i) => ({ title: 'x'.repeat(100), url: `https://x.example/${i}` })),
  });
  assert.equal([...m.title].length, LIMITS.title);
  assert.ok(m.title.endsWith('…') && m.title.startsWith('line one line two'), 'line breaks become spaces');
  assert.equal([...m.summary].length, LIMITS.summary);
  assert.equal(m.facts.length, 20);
  assert.deepEqual(m.facts[19], { name: '…', value: '11 more not shown' }, 'the last fact says what was left out');
  assert.ok(m.facts.every((f) => [...f.value].length <= 1_000));
  const total = m.facts.reduce((n, f) => n + f.name.length + f.value.length, m.summary.length);
  assert.ok(total <= LIMITS.text, `summary + facts within ${LIMITS.text} (a Teams card stays under 28 KB)`);
  const few = boundMessage({ ...base, facts: [1, 2, 3].map((i) => ({ name: `n${i}`, value: 'v'.repeat(1_500) })) });
  assert.ok(
    few.facts.every((f) => [...f.value].length === 1_000 && f.value.endsWith('…')),
    'values ≤ 1,000',
  );
  assert.equal(m.links.length, LIMITS.links);
  assert.ok(m.links.every((l) => [...l.title].length === LIMITS.linkTitle));
  assert.deepEqual(m.recipients.emails, ['bob@example.com', 'carol@example.com'], 'trimmed, once each');
  assert.equal(cut('héllo wörld', 5), 'héll…');
  assert.equal(cut('😀😀😀', 2), '😀…', 'code points, never half a surrogate pair');
});

test('links must be http(s) and recipients addresses: anything else is permanent (retrying cannot mend it)', () => {
  assert.throws(() => boundMessage({ ...base, links: [{ title: 'x', url: 'javascript:alert(1)' }] }), PermanentError);
  assert.throws(() => boundMessage({ ...base, links: [{ title: 'x', url: 'not a url' }] }), PermanentError);
  assert.throws(() => boundMessage({ ...base, recipients: { emails: ['Bob <bob@example.com>'] } }), PermanentError);
  assert.throws(
    () => boundMessage({ ...base, recipients: { emails: Array.from({ length: 51 }, (_, i) => `u${i}@example.com`) } }),
    PermanentError,
  );
});

test('e-mail: subject, text part with links, HTML with every value escaped (RFC 2045 multipart text + html)', () => {
  const e = renderEmail(boundMessage(base));
  assert.equal(e.subject, '[Ticketloop] Access to prod-db requested');
  assert.match(e.text, /^Access to prod-db requested\n\nalice@example\.com asks/);
  assert.match(e.text, /Justification: INC0010001 <b>urgent<\/b> & \[click\]/, 'the text part is as written');
  assert.match(e.text, /Approve: https:\/\/tl\.example\.com\/a\/approve\?t=abc/);
  assert.ok(!e.html.includes('<b>urgent'), 'no markup from the message reaches the HTML');
  assert.match(e.html, /INC0010001 &lt;b&gt;urgent&lt;\/b&gt; &amp; \[click\]/);
  assert.match(e.html, /<a href="https:\/\/tl\.example\.com\/a\/approve\?t=abc"[^>]*>Approve<\/a>/);
  assert.equal(escapeHtml(`"'<>&`), '&quot;&#39;&lt;&gt;&amp;');
});

test('Teams: a workflow message with one Adaptive Card 1.4 (TextBlock, FactSet, Action.OpenUrl)', () => {
  // https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
  const b = renderTeams(boundMessage(base));
  assert.equal(b.type, 'message');
  assert.equal(b.attachments.length, 1);
  const a = b.attachments[0];
  assert.equal(a.contentType, 'application/vnd.microsoft.card.adaptive');
  assert.equal(a.contentUrl, null);
  const c = a.content;
  assert.equal(c.$schema, 'http://adaptivecards.io/schemas/adaptive-card.json');
  assert.equal(c.type, 'AdaptiveCard');
  assert.equal(c.version, '1.4');
  assert.deepEqual(c.body[0], {
    type: 'TextBlock',
    text: 'Access to prod-db requested',
    size: 'Medium',
    weight: 'Bolder',
    wrap: true,
  });
  assert.equal(c.body[2].type, 'FactSet');
  const facts = c.body[2].facts as { title: string; value: string }[];
  assert.equal(facts[1].value, 'INC0010001 <b>urgent</b> & \\[click\\](https://evil.example)', 'no link from Markdown');
  assert.deepEqual(c.actions, [
    { type: 'Action.OpenUrl', title: 'Approve', url: 'https://tl.example.com/a/approve?t=abc' },
    { type: 'Action.OpenUrl', title: 'Open', url: 'https://tl.example.com/pod/42' },
  ]);
});

test('Slack: text + Block Kit (header ≤ 150, plain_text summary, fields ≤ 10 per section, buttons)', () => {
  // https://docs.slack.dev/reference/block-kit/blocks
  const m = boundMessage({
    ...base,
    title: 'T'.repeat(200),
    facts: Array.from({ length: 12 }, (_, i) => ({
      name: `n${i}`,
      value: i === 0 ? '<!channel> & <https://x|y>' : 'v',
    })),
  });
  const b = renderSlack(m);
  assert.equal(b.blocks[0].type, 'header');
  assert.equal([...(b.blocks[0].text as { text: string }).text].length, 150);
  assert.deepEqual(b.blocks[1], { type: 'section', text: { type: 'plain_text', text: base.summary, emoji: false } });
  const sections = b.blocks.filter((x) => Array.isArray(x.fields)) as { fields: { text: string }[] }[];
  assert.deepEqual(
    sections.map((s) => s.fields.length),
    [10, 2],
  );
  assert.equal(sections[0].fields[0].text, '*n0*\n&lt;!channel&gt; &amp; &lt;https://x|y&gt;', 'no mention, no link');
  const actions = b.blocks.at(-1) as { type: string; elements: Record<string, unknown>[] };
  assert.equal(actions.type, 'actions');
  assert.deepEqual(actions.elements[0], {
    type: 'button',
    action_id: 'link-0',
    text: { type: 'plain_text', text: 'Approve', emoji: false },
    url: 'https://tl.example.com/a/approve?t=abc',
  });
  assert.ok(b.text.startsWith('TTT') && b.text.includes(': alice@example.com asks'));
  // Escaping may lengthen a value: a field still fits Slack's 2,000 characters.
  const amp = renderSlack(boundMessage({ ...base, facts: [{ name: 'x', value: '&'.repeat(1_000) }] }));
  const field = (amp.blocks.find((x) => Array.isArray(x.fields)) as { fields: { text: string }[] }).fields[0].text;
  assert.ok(field.length <= 2_000 && field.endsWith('…'));
});
