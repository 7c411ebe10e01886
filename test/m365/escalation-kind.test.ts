import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { HttpProblem } from '../../src/http/server.ts';
import { escalationShape } from '../../src/flows/m365/escalation/config.ts';
import { chooseKind, isM365Workload } from '../../src/flows/m365/escalation/kind.ts';
import { guidedSummary, SUMMARY_MAX } from '../../src/flows/m365/escalation/summary.ts';

const problem = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HttpProblem);
    return e;
  }
  assert.fail('expected an HttpProblem');
};

test('the service decides the kind: Microsoft 365 workloads are guided, the rest goes to the support API', () => {
  for (const s of ['Exchange Online', 'SharePoint Online', 'Microsoft Teams', 'OneDrive for Business'])
    assert.equal(isM365Workload(s), true, s);
  assert.equal(isM365Workload('Azure Active Directory Sign-In and Multi-Factor Authentication'), false);
  assert.equal(chooseKind('both', { service: 'Exchange Online' }), 'guided');
  assert.equal(chooseKind('both', { service: 'Azure Active Directory' }), 'azure-support');
  assert.equal(chooseKind('both', { problemClassification: 'sign-in' }), 'azure-support');
  assert.equal(chooseKind('guided', {}), 'guided', 'one enabled kind needs no choice');
  assert.equal(problem(() => chooseKind('both', {})).details![0].path, 'body.kind');
  const notEnabled = problem(() => chooseKind('guided', { kind: 'azure-support' }));
  assert.match(notEnabled.message, /kind: azure-support is not enabled \(escalation.mode is guided\)/);
  const off = problem(() => chooseKind('off', { kind: 'guided' }));
  assert.equal(off.statusCode, 409);
  assert.equal(off.code, 'insights_only');
});

test('escalation config: off by default; on needs the contact, the support API also a subscription — each error names its field', () => {
  const shape = z.object({ escalation: escalationShape });
  assert.equal(shape.parse({}).escalation.mode, 'off');
  const r = shape.safeParse({ escalation: { mode: 'both' } });
  assert.equal(r.success, false);
  const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
  assert.deepEqual(paths, ['escalation.contact', 'escalation.subscription']);
  const guided = shape.safeParse({
    escalation: {
      mode: 'guided',
      contact: {
        firstName: 'A',
        lastName: 'B',
        primaryEmailAddress: 'a@b.example',
        preferredTimeZone: 'UTC',
        country: 'de',
      },
    },
  });
  assert.deepEqual(
    guided.error!.issues.map((i) => i.path.join('.')),
    ['escalation.contact.country'],
  );
});

test('the guided summary is bounded and says how to hand it off', () => {
  const text = guidedSummary({
    incident: { key: 'INC0010001', link: 'https://x.example/inc', title: 'Outlook' },
    title: 'Outlook cannot send',
    service: 'Exchange Online',
    severity: 'moderate',
    symptoms: 'x'.repeat(10_000),
    issues: [],
    testEnvironment: false,
    preparedAt: '2026-12-03T10:00:00.000Z',
  });
  assert.ok(text.length <= SUMMARY_MAX);
  assert.match(text, /truncated by Ticketloop/);
  assert.doesNotMatch(text, /TEST ENVIRONMENT/);
  assert.match(guidedSummary({ ...base(), testEnvironment: true }), /^TEST ENVIRONMENT – do not act\./);
  assert.match(guidedSummary(base()), /- none matched/);
  assert.match(guidedSummary(base()), /https:\/\/admin\.microsoft\.com\/#\/support/);
});

const base = () => ({
  incident: { key: 'INC1', link: 'https://x.example', title: 't' },
  title: 't',
  service: 'Microsoft Teams',
  severity: 'minimal',
  symptoms: 's',
  issues: [],
  testEnvironment: false,
  preparedAt: '2026-12-03T10:00:00.000Z',
});
