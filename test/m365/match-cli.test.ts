import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'm365');
const ISSUES = join(fixtures, 'issues.json');
const INCIDENTS = join(fixtures, 'incidents.json');
const dir = mkdtempSync(join(tmpdir(), 'm365-match-'));
const file = (name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
};

interface Output {
  results: { incident: string; matches: { issue: string; score: number; why: string }[] }[];
}

test('ticketloop m365 match: the stable contract on the fixture files', async () => {
  const r = await runCli(['m365', 'match', '--issues', ISSUES, '--incidents', INCIDENTS]);
  assert.equal(r.status, 0, r.err);
  const out = JSON.parse(r.out) as Output;
  assert.deepEqual(Object.keys(out), ['results']);
  assert.deepEqual(
    out.results.map((x) => x.incident),
    [
      'a1b2c3d4e5f60718293a4b5c6d7e8f90',
      'b1b2c3d4e5f60718293a4b5c6d7e8f90',
      'c1b2c3d4e5f60718293a4b5c6d7e8f90',
      'd1b2c3d4e5f60718293a4b5c6d7e8f90',
    ],
  );
  const [outlook, request, teams, afterEnd] = out.results;
  assert.equal(outlook.matches[0].issue, 'EX512238');
  assert.deepEqual(Object.keys(outlook.matches[0]), ['issue', 'score', 'why']);
  assert.match(outlook.matches[0].why, /mentions 'outlook', 'sending'; opened 20 min after EX512238 began/);
  assert.deepEqual(request.matches, []);
  assert.equal(teams.matches[0].issue, 'TM1288323');
  assert.deepEqual(afterEnd.matches, [], 'SharePoint was restored before it was opened');
  for (const x of out.results) {
    assert.ok(x.matches.length <= 3);
    for (const m of x.matches) assert.ok(m.score >= 0.5 && m.score <= 1);
  }
});

test('--threshold: 0 shows the weaker candidates too, 1 almost nothing', async () => {
  const low = JSON.parse(
    (await runCli(['m365', 'match', '--issues', ISSUES, '--incidents', INCIDENTS, '--threshold', '0'])).out,
  ) as Output;
  assert.ok(low.results[1].matches.length > 0, 'a request still has (low) candidates at threshold 0');
  const high = JSON.parse(
    (await runCli(['m365', 'match', '--issues', ISSUES, '--incidents', INCIDENTS, '--threshold', '1'])).out,
  ) as Output;
  assert.ok(high.results.every((x) => x.matches.every((m) => m.score === 1)));
  const bad = await runCli(['m365', 'match', '--issues', ISSUES, '--incidents', INCIDENTS, '--threshold', 'high']);
  assert.equal(bad.status, 2);
  assert.match(bad.err, /--threshold must be a number from 0 to 1/);
});

test('--feedback: a rejected pair is not printed', async () => {
  const fb = file('feedback.json', {
    feedback: [{ incident: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', issue: 'EX512238', verdict: 'rejected' }],
  });
  const r = await runCli(['m365', 'match', '--issues', ISSUES, '--incidents', INCIDENTS, '--feedback', fb]);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual((JSON.parse(r.out) as Output).results[0].matches, []);
});

test('bad input: the error names the file and the field', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['--issues', join(dir, 'missing.json'), '--incidents', INCIDENTS],
      /--issues .*missing\.json: cannot read it \(ENOENT\)/,
    ],
    [['--issues', file('notjson.json', '{"value": ['), '--incidents', INCIDENTS], /--issues .*notjson\.json: not JSON/],
    [['--issues', INCIDENTS, '--incidents', INCIDENTS], /incidents\.json: value: .*expected array/],
    [
      [
        '--issues',
        file('nostart.json', { value: [{ id: 'EX1', title: 't', service: 'Exchange Online' }] }),
        '--incidents',
        INCIDENTS,
      ],
      /nostart\.json: value\[0\]\.startDateTime:/,
    ],
    [
      [
        '--issues',
        ISSUES,
        '--incidents',
        file('badtime.json', { result: [{ sys_id: 's', short_description: 'x', opened_at: '12/03/2026 9:00' }] }),
      ],
      /badtime\.json: result\[0\]\.opened_at: not a time in ServiceNow's "YYYY-MM-DD HH:mm:ss" \(UTC\) form/,
    ],
    [
      [
        '--issues',
        ISSUES,
        '--incidents',
        file('nosd.json', { result: [{ sys_id: 's', opened_at: '2026-03-12 09:00:00' }] }),
      ],
      /nosd\.json: result\[0\]\.short_description:/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['m365', 'match', ...args]);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.equal(r.out, '');
  }
  const missing = await runCli(['m365', 'match', '--issues', ISSUES]);
  assert.equal(missing.status, 2);
  assert.match(missing.err, /--incidents/);
});
