import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SOLUTION_NOTE_MAX, solutionNote } from '../../src/flows/m365/solution-notes.ts';
import { tokenFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';
import { startEscalationEnv } from './escalation-helpers.ts';

// Issue #14 item 4: recommended solutions written to an incident on request — one bounded work note
// with the chosen articles and their links, once per (incident, set of articles); role insights.

test('solutions written to an incident: the chosen articles once, any order; bounded; insights only', async () => {
  const env = await startEscalationEnv();
  const { call, insights } = env;
  try {
    const inc = await env.incident('outlook not sending email since 9');
    const found = await call(insights, 'GET', '/api/m365/solutions?q=outlook%20not%20sending%20email');
    assert.equal(found.status, 200);
    const [first, second] = found.body.items as { title: string; url: string }[];
    assert.ok(first && second, JSON.stringify(found.body));

    const requester = await tokenFor(env.app, 'requester');
    const body = { incident: { number: inc.number }, q: 'outlook not sending email', urls: [first.url, second.url] };
    assert.equal((await call(requester, 'POST', '/api/m365/solutions/write', body)).status, 403);
    const unknown = await call(insights, 'POST', '/api/m365/solutions/write', {
      ...body,
      urls: [first.url, 'https://example.com/not-recommended'],
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.details[0].path, 'body.urls.1');
    const noIncident = await call(insights, 'POST', '/api/m365/solutions/write', {
      ...body,
      incident: { number: 'INC9999999' },
    });
    assert.equal(noIncident.status, 404);
    assert.equal(noIncident.body.error.details[0].path, 'body.incident.number');
    const notUrl = await call(insights, 'POST', '/api/m365/solutions/write', { ...body, urls: ['outlook'] });
    assert.equal(notUrl.status, 400);
    assert.match(notUrl.body.error.message, /urls/);

    const written = await call(insights, 'POST', '/api/m365/solutions/write', body);
    assert.equal(written.status, 202, JSON.stringify(written.body));
    assert.equal(written.body.state, 'writing');
    assert.deepEqual(
      written.body.articles.map((a: { url: string }) => a.url),
      [first.url, second.url],
    );
    const note = await until(
      async () => (await env.workNotes(inc.sys_id)).find((n) => n.startsWith('Recommended solutions')),
      'the note is on the incident',
    );
    assert.ok(note.includes(first.url) && note.includes(first.title), note);
    assert.ok(note.includes(second.url));
    assert.ok(note.length <= 4000);

    // The same set, in another order and by the record id: nothing new is written.
    const same = await call(insights, 'POST', '/api/m365/solutions/write', {
      ...body,
      incident: { sys_id: inc.sys_id },
      urls: [second.url, first.url],
    });
    assert.equal(same.status, 200);
    assert.equal(same.body.state, 'already-written');
    // Another set (the default: the incident's own words, the first few) is a second note.
    const defaults = await call(insights, 'POST', '/api/m365/solutions/write', { incident: { number: inc.number } });
    assert.equal(defaults.status, 202, JSON.stringify(defaults.body));
    assert.ok(defaults.body.articles.length >= 1 && defaults.body.articles.length <= 5);
    await until(
      async () => (await env.workNotes(inc.sys_id)).filter((n) => n.startsWith('Recommended solutions')).length === 2,
      'the second set is written',
    );
    await env.sync();
    const notes = (await env.workNotes(inc.sys_id)).filter((n) => n.startsWith('Recommended solutions'));
    assert.equal(notes.length, 2, notes.join('\n---\n'));
    assert.match(notes[1], /for "outlook not sending email since 9"/);
  } finally {
    await env.close();
  }
});

test('the solutions note stays within 4,000 characters however long the articles are', () => {
  const long = (n: number) => ({
    title: `Article ${n} ${'about mail flow '.repeat(30)}`,
    url: `https://learn.microsoft.com/en-us/exchange/article-${n}-${'x'.repeat(300)}`,
    snippet: 'Messages stay in the outbox. '.repeat(200),
    source: 'learn' as const,
  });
  const text = solutionNote(
    'outlook',
    Array.from({ length: 10 }, (_, n) => long(n)),
  );
  assert.ok(text.length <= SOLUTION_NOTE_MAX, `${text.length}`);
  assert.match(text, /^Recommended solutions \(Ticketloop, for "outlook"\):/);
  assert.ok(text.includes(long(0).url), 'the first link is whole');
  assert.notEqual(text, solutionNote('outlook', [long(0)]), 'more articles, more text');
});
