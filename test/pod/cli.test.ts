import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { until } from '../helpers/wait.ts';
import { FakeProvider } from './fake-provider.ts';
import { ALICE_OID, startPod, type PodHarness } from './harness.ts';

// `ticketloop pod …` (issue #13 "API contract": CLI request|approve|reject|revoke|list|report): a
// client of the API with the caller's token, printing the API's field-naming errors.

let h: PodHarness;
before(async () => {
  h = await startPod(new FakeProvider());
});
after(() => h.stop());

const pod = (who: keyof PodHarness['tokens'], ...args: string[]) =>
  runCli(['pod', ...args], { TICKETLOOP_URL: h.url, TICKETLOOP_TOKEN: h.tokens[who] });

test('request, approve, show, list, revoke and report from the command line', async () => {
  const common = [
    '--system',
    'azure-prod',
    '--permission',
    'prod-reader',
    '--identity',
    `user:${ALICE_OID}`,
    '--justification',
    'INC0010003',
  ];
  const tooLong = await pod('rita', 'request', ...common, '--duration', 'PT12H');
  assert.equal(tooLong.status, 1);
  assert.equal(tooLong.err.trim(), "error: duration: exceeds the policy's maximum PT8H");

  const asked = await pod('rita', 'request', ...common, '--duration', 'PT2H', '--json');
  assert.equal(asked.status, 0, asked.err);
  const { id, status } = JSON.parse(asked.out);
  assert.equal(status, 'submitted');

  const inbox = await pod('bob', 'list', '--view', 'inbox');
  assert.match(inbox.out, new RegExp(`^${id}\\s+submitted`, 'm'));
  const approved = await pod('bob', 'approve', id, '--comment', 'for the incident');
  assert.equal(approved.status, 0, approved.err);
  assert.match(approved.out, /approved by user:bob/);
  await until(async () => /granted/.test((await pod('rita', 'show', id)).out), 'granted');
  const shown = await pod('rita', 'show', id);
  assert.match(shown.out, /provider: assigned/);
  assert.match(shown.out, /note: .*tokens/);

  const revoked = await pod('rita', 'revoke', id, '--comment', 'done early');
  assert.equal(revoked.status, 0, revoked.err);
  await until(async () => /revoked/.test((await pod('rita', 'show', id)).out.split('\n')[0]), 'revoked');

  const out = join(mkdtempSync(join(tmpdir(), 'tl-pod-cli-')), 'report.csv');
  const report = await pod(
    'auditor',
    'report',
    '--from',
    '2026-12-01T00:00:00Z',
    '--to',
    '2026-12-02T00:00:00Z',
    '--out',
    out,
  );
  assert.equal(report.status, 0, report.err);
  assert.match(report.out, /1 grant\(s\) written/);
  assert.match(readFileSync(out, 'utf8'), new RegExp(`${id},azure-prod,prod-reader,.*user:bob.*revoked`));

  const noToken = await runCli(['pod', 'list'], { TICKETLOOP_URL: h.url, TICKETLOOP_TOKEN: '' });
  assert.equal(noToken.status, 1);
  assert.match(noToken.err, /no token: pass --token or set TICKETLOOP_TOKEN/);
});
