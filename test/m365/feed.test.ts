import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { tokenFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';

// Issue #14 item 3: incidents people type into ServiceNow during a Microsoft 365 outage are matched to
// the health issue as the feed reads them — one work note per suggestion, never twice (second pass,
// restart) — and agents confirm or reject (or say none), which the next passes respect.

interface Running {
  app: Ticketloop;
  clock: ManualClock;
  url: string;
  insights: string;
  pass(): Promise<void>;
  call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

let passes = 0;

async function boot(sandbox: Sandbox, dataDir: string): Promise<Running> {
  const c = sandboxConnections(sandbox);
  const clock = new ManualClock();
  const app = await buildTicketloop(
    validateConfig(
      {
        dataDir,
        server: { port: 0 },
        servicenow: [c.servicenow],
        microsoft: c.microsoft,
        integrations: [
          {
            name: 'm365',
            type: 'm365',
            itsm: c.servicenow.name,
            learnUrl: sandbox.microsoft.baseUrl,
            feed: { enabled: true },
          },
        ],
      },
      'test',
    ),
    {
      itsm: ITSM_MODULES,
      flows: FLOW_MODULES,
      clock,
      logger: createLogger(process.env.TL_TEST_LOG ?? 'silent'),
    },
  );
  const url = await app.start();
  const pending = async () =>
    Number(
      (
        await app.store.db
          .selectFrom('jobs')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', 'like', 'm365.%')
          .where('state', 'in', ['ready', 'running'])
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    app,
    clock,
    url,
    insights: await tokenFor(app, 'insights'),
    async pass() {
      await app.engine.enqueue({
        kind: 'm365.match-feed',
        key: `test-feed-${++passes}`,
        payload: { integration: 'm365' },
      });
      await until(async () => (await pending()) === 0, 'the feed pass and the notes it queued ran');
    },
    async call(token, method, path, body) {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: await r.json() };
    },
  };
}

test('incidents are matched as they arrive, noted once, and verdicts are kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-m365feed-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const sn = sandbox.servicenow.credentials.admin;
  const basic = `Basic ${Buffer.from(`${sn.username}:${sn.password}`).toString('base64')}`;
  const control = async (base: string, method: string, path: string, body?: unknown, withBasic = true) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(withBasic ? { authorization: basic } : {}),
        accept: 'application/json',
      },
      body: body ? JSON.stringify(body) : undefined,
      dispatcher: agent,
    } as RequestInit);
    return { status: r.status, body: (await r.json()) as any };
  };
  const snUrl = sandbox.servicenow.baseUrl;
  const incident = async (fields: Record<string, string>) => {
    const r = await control(snUrl, 'POST', '/api/now/table/incident', fields);
    assert.equal(r.status, 201);
    return r.body.result as { sys_id: string; number: string };
  };
  const workNotes = async (sysId: string) => {
    const r = await control(
      snUrl,
      'GET',
      `/api/now/table/sys_journal_field?sysparm_query=element_id=${sysId}^element=work_notes^ORDERBYsys_created_on&sysparm_fields=value`,
    );
    return (r.body.result as { value: string }[]).map((x) => x.value);
  };

  const issue = await control(
    sandbox.microsoft.baseUrl,
    'POST',
    '/_sandbox/m365/issues',
    {
      title: 'Users may be unable to send email messages from Outlook',
      service: 'Exchange Online',
      feature: 'E-Mail and calendar access',
      status: 'serviceDegradation',
      impactDescription: 'Users may be unable to send email messages using any connection method.',
      content: '<p>Title: Outlook sending</p><p>User impact: Users may be unable to send email from Outlook.</p>',
    },
    false,
  );
  assert.equal(issue.status, 201, JSON.stringify(issue.body));
  const issueId = issue.body.id as string;

  let tl = await boot(sandbox, join(dir, 'tl'));
  try {
    await until(
      async () => (await tl.call(tl.insights, 'GET', `/api/m365/issues/${issueId}`)).status === 200,
      'the health issue synced',
    );
    const outlook = await incident({
      short_description: 'outlook not sending since 9',
      description: 'My mails stay in the outbox, tried restarting.',
    });
    const printer = await incident({ short_description: 'printer on floor 3 jams every page' });
    const ours = await incident({ short_description: 'outlook not sending', correlation_id: 'tl:m365:x1' });
    const other = await incident({ short_description: 'cannot send email from outlook desktop' });

    await tl.pass();
    const found = await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${outlook.number}`);
    assert.equal(found.status, 200);
    assert.equal(found.body.items.length, 1, JSON.stringify(found.body));
    const [m] = found.body.items;
    assert.equal(m.issue, issueId);
    assert.equal(m.status, 'suggested');
    assert.equal(m.rank, 1);
    assert.match(m.why, /'outlook'/);
    assert.equal(m.incident.key, outlook.number);
    const noteOf = (notes: string[]) => notes.filter((n) => n.includes(`Microsoft 365 health issue ${issueId}`));
    const notes = await workNotes(outlook.sys_id);
    assert.equal(noteOf(notes).length, 1, notes.join('\n---\n'));
    assert.match(
      noteOf(notes)[0],
      /^Possibly related to .* — Users may be unable to send .*: mentions .*Confirm or reject in Ticketloop\.$/s,
    );

    assert.deepEqual(await workNotes(printer.sys_id), [], 'a no-answer incident gets nothing');
    assert.deepEqual(
      (await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${printer.number}`)).body.items,
      [],
    );
    assert.deepEqual(await workNotes(ours.sys_id), [], 'an incident Ticketloop opened is not matched');
    assert.deepEqual((await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${ours.number}`)).body.items, []);

    // A second pass reads the incidents again (the work note changed them): nothing new is written.
    const matchedAt = () =>
      tl.app.store.db
        .selectFrom('m365_match_incidents' as any)
        .select(['incident_key', 'matched_at'])
        .orderBy('incident_key')
        .execute();
    const before = await matchedAt();
    tl.clock.advance(60_000);
    await tl.pass();
    assert.equal(noteOf(await workNotes(outlook.sys_id)).length, 1, 'still one note after a second pass');
    assert.deepEqual(await matchedAt(), before, 'unchanged incidents are not matched again');

    // A restart: the stored watermark and match rows keep it at one.
    await tl.app.stop();
    tl = await boot(sandbox, join(dir, 'tl'));
    await tl.pass();
    assert.equal(noteOf(await workNotes(outlook.sys_id)).length, 1, 'still one note after a restart');

    // Verdicts: role-checked, stored with who and why, audited.
    const requester = await tokenFor(tl.app, 'requester');
    assert.equal((await tl.call(requester, 'GET', '/api/m365/matches')).status, 403);
    const refused = await tl.call(requester, 'POST', `/api/m365/matches/${outlook.number}/${issueId}/reject`, {});
    assert.equal(refused.status, 403);
    const unknown = await tl.call(tl.insights, 'POST', `/api/m365/matches/INC9999999/${issueId}/reject`, {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.details[0].path, 'params.incident');

    const rejected = await tl.call(tl.insights, 'POST', `/api/m365/matches/${outlook.number}/${issueId}/reject`, {
      comment: 'their mailbox is full',
    });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.status, 'rejected');
    assert.equal(rejected.body.comment, 'their mailbox is full');
    assert.match(rejected.body.verdictBy, /insights/);
    const confirmed = await tl.call(tl.insights, 'POST', `/api/m365/matches/${other.sys_id}/${issueId}/confirm`);
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.status, 'confirmed');
    const listed = await tl.call(tl.insights, 'GET', '/api/m365/matches?status=rejected');
    assert.deepEqual(
      listed.body.items.map((x: any) => x.incident.key),
      [outlook.number],
    );
    const audit = await tl.app.store.db
      .selectFrom('audit_log')
      .select(['actor', 'detail'])
      .where('subject', '=', `m365/match/${outlook.number}`)
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      audit.map((a) => JSON.parse(a.detail).action),
      ['suggested', 'rejected'],
    );
    assert.match(audit[1].detail, /their mailbox is full/);

    // The agent's edit makes the feed match the incident again: the rejected issue is never written again.
    const edited = await control(snUrl, 'PATCH', `/api/now/table/incident/${outlook.sys_id}`, {
      description: 'Outlook says "sending failed" for every message since 9, colleagues too.',
    });
    assert.equal(edited.status, 200);
    await tl.pass();
    assert.equal(noteOf(await workNotes(outlook.sys_id)).length, 1, 'a rejected match is not noted again');
    const after = await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${outlook.sys_id}`);
    // (Other issues — the sandbox's seeded, still unresolved ones — may be suggested for the new wording.)
    assert.deepEqual(
      after.body.items.filter((x: any) => x.issue === issueId).map((x: any) => [x.status, x.rank]),
      [['rejected', null]],
      'the matcher no longer ranks the rejected issue for it',
    );

    // "None" rejects every suggestion of an incident.
    const third = await incident({ short_description: 'outlook wont send my emails' });
    await tl.pass();
    assert.equal(
      (await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${third.number}`)).body.items.length,
      1,
    );
    const none = await tl.call(tl.insights, 'POST', `/api/m365/matches/${third.number}/none`, {});
    assert.equal(none.status, 200);
    assert.deepEqual(none.body.rejected, [issueId]);

    // A suggestion that leaves the top 3 (the text changed) is no longer shown; when it comes back, it is
    // shown again, and not noted twice.
    const fifth = await incident({ short_description: 'outlook is not sending mails' });
    await tl.pass();
    const shown = async () =>
      (await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${fifth.number}`)).body.items.map((x: any) => [
        x.issue,
        x.rank,
      ]);
    assert.deepEqual(await shown(), [[issueId, 1]]);
    const retitle = (short_description: string) =>
      control(snUrl, 'PATCH', `/api/now/table/incident/${fifth.sys_id}`, { short_description });
    await retitle('printer on floor 3 jams again');
    await tl.pass();
    assert.deepEqual(await shown(), []);
    await retitle('outlook is not sending mails');
    await tl.pass();
    assert.deepEqual(await shown(), [[issueId, 1]]);
    assert.equal(noteOf(await workNotes(fifth.sys_id)).length, 1);

    // A command in a work note, read through the feed, taken once: a later answer in the API stands.
    const fourth = await incident({ short_description: 'outlook: cannot send messages' });
    await tl.pass();
    const noted = await control(snUrl, 'PATCH', `/api/now/table/incident/${fourth.sys_id}`, {
      work_notes: `#Ticketloop reject ${issueId.toLowerCase()} the user's mailbox is over quota`,
    });
    assert.equal(noted.status, 200);
    await tl.pass();
    const byNote = (await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${fourth.number}`)).body.items;
    assert.deepEqual(
      byNote.map((x: any) => [x.issue, x.status, x.comment]),
      [[issueId, 'rejected', "the user's mailbox is over quota"]],
    );
    assert.match(byNote[0].verdictBy, /:admin$/, 'the note author decided');
    await tl.call(tl.insights, 'POST', `/api/m365/matches/${fourth.number}/${issueId}/confirm`, {});
    await control(snUrl, 'PATCH', `/api/now/table/incident/${fourth.sys_id}`, { description: 'any mail' });
    await tl.pass();
    const later = (await tl.call(tl.insights, 'GET', `/api/m365/matches?incident=${fourth.number}`)).body.items;
    assert.equal(later.find((x: any) => x.issue === issueId).status, 'confirmed', 'an old command is not taken again');
  } finally {
    await tl.app.stop();
    await agent.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
