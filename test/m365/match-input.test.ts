import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFeedback, parseIncidents, parseIssues } from '../../src/flows/m365/match/input.ts';
import { InvalidInputError, parseServiceNowTime } from '../../src/flows/m365/match/matcher.ts';
import { analyse, canonicalService, stem } from '../../src/flows/m365/match/text.ts';

test("opened_at: ServiceNow's UTC form; ISO with a zone; nothing else", () => {
  assert.equal(parseServiceNowTime('2026-03-12 09:00:00'), Date.UTC(2026, 2, 12, 9, 0, 0));
  assert.equal(parseServiceNowTime('2026-03-12T09:00:00Z'), Date.UTC(2026, 2, 12, 9, 0, 0));
  assert.ok(Number.isNaN(parseServiceNowTime('12/03/2026 09:00')));
  assert.ok(Number.isNaN(parseServiceNowTime('2026-03-12T09:00:00')), 'no zone: ambiguous');
});

test('Table API fields read with sysparm_display_value=all ({value, display_value}) take the value', () => {
  const [i] = parseIncidents({
    result: [
      {
        sys_id: { value: 'abc', display_value: 'abc' },
        short_description: { value: 'outlook down', display_value: 'outlook down' },
        opened_at: { value: '2026-03-12 09:00:00', display_value: '12/03/2026 10:00:00' },
      },
    ],
  });
  assert.deepEqual(i, { sys_id: 'abc', short_description: 'outlook down', opened_at: '2026-03-12 09:00:00' });
});

test('bad records name the field', () => {
  assert.throws(
    () =>
      parseIssues({ value: [{ id: '', title: 't', service: 's', startDateTime: '2026-03-12T09:00:00Z' }] }, 'f.json'),
    (e: Error) => e instanceof InvalidInputError && /^f\.json: value\[0\]\.id:/.test(e.message),
  );
  assert.throws(() => parseIssues([], 'f.json'), /f\.json: \(top level\)/);
  assert.throws(
    () => parseFeedback({ feedback: [{ incident: 'a', issue: 'b', verdict: 'maybe' }] }, 'fb'),
    /fb: feedback\[0\]\.verdict:/,
  );
});

test('text: light stemming, nicknames, symptom synonyms', () => {
  assert.equal(stem('sending'), 'send');
  assert.equal(stem('sends'), 'send');
  assert.equal(stem('access'), 'access');
  assert.equal(stem('accessing'), 'access');
  assert.equal(stem('sites'), 'site');
  assert.equal(stem('crashes'), 'crash');
  const a = analyse('Outlook mails stuck in the outbox, nothing going out');
  assert.deepEqual([...a.services], ['Exchange Online']);
  assert.ok(a.tokens.has('send'), 'outbox / out → send');
  assert.ok(!a.tokens.has('outlook'), 'product words are not symptom words');
  assert.deepEqual([...analyse('mcas policy').services], ['Microsoft Defender for Cloud Apps']);
  assert.deepEqual([...analyse('one drive sync').services], ['OneDrive for Business']);
  assert.equal(canonicalService('Office 365 Portal'), 'Microsoft 365 suite');
  assert.equal(canonicalService('exchange online'), 'Exchange Online');
});
