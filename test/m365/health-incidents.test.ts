import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { loadFlowState } from '../../src/engine/flow.ts';
import type { HealthIncidentState } from '../../src/flows/m365/flow.ts';
import { tokenFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';

// Issue #14 item 2, last sentence: optionally one ITSM incident per health issue, a work note per new
// post, resolved when Microsoft resolves the issue — unless a person changed it, then Ticketloop only
// adds notes. Against the sandbox (Graph service health and ServiceNow), through a real Ticketloop.

const INTEGRATION = 'm365';
let dir: string;
let sandbox: Sandbox;
let agent: Agent;
let app: Ticketloop;
let config: ReturnType<typeof validateConfig>;
let runs = 0;

const basic = (u: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

async function control(base: string, method: string, path: string, body?: unknown, auth?: string) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(auth ? { authorization: auth } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    dispatcher: agent,
  } as RequestInit);
  return { status: r.status, body: (await r.json()) as any };
}

const sn = (method: string, path: string, body?: unknown, who = DEMO.admin) =>
  control(sandbox.servicenow.baseUrl, method, path, body, basic(who));

async function addIssue(title: string, content: string): Promise<string> {
  const r = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/m365/issues', {
    title,
    service: 'Exchange Online',
    status: 'serviceDegradation',
    impactDescription: 'Users may be unable to send email messages.',
    content,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

async function addPost(id: string, content: string, status?: string) {
  const r = await control(sandbox.microsoft.baseUrl, 'POST', `/_sandbox/m365/issues/${id}/posts`, {
    content,
    ...(status ? { status } : {}),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/** The incidents carrying the issue's correlation key, as a person's list finds them. */
async function incidentsOf(issueId: string) {
  const query = encodeURIComponent(`correlation_id=tl:m365:${INTEGRATION}:${issueId}`);
  const fields = 'sys_id,number,state,short_description,description,close_notes,close_code,sys_updated_by';
  const r = await sn('GET', `/api/now/table/incident?sysparm_query=${query}&sysparm_fields=${fields}`);
  assert.equal(r.status, 200);
  return r.body.result as Record<string, string>[];
}

async function workNotes(sysId: string): Promise<string[]> {
  const query = encodeURIComponent(`element_id=${sysId}^element=work_notes^ORDERBYsys_created_on`);
  const r = await sn('GET', `/api/now/table/sys_journal_field?sysparm_query=${query}&sysparm_fields=value`);
  return (r.body.result as { value: string }[]).map((x) => x.value);
}

const stateOf = (issueId: string) =>
  loadFlowState<HealthIncidentState>(app.store.db, 'm365', `${INTEGRATION}:${issueId}`);

/** No m365 or watch job is waiting or running. */
async function quiet(): Promise<boolean> {
  const { n } = await app.store.db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll().as('n'))
    .where((eb) => eb.or([eb('kind', 'like', 'm365.%'), eb('kind', 'like', 'itsm.%')]))
    .where('state', 'in', ['ready', 'running'])
    .executeTakeFirstOrThrow();
  return Number(n) === 0;
}

/** One job run now (a health sync, the watch's poll), then everything it caused. */
async function run(kind: string, payload: Record<string, unknown>) {
  await app.engine.enqueue({ kind, key: `test-${kind}-${++runs}`, payload });
  await until(quiet, `${kind} and the jobs it queued ran`, 30_000);
}
const sync = () => run('m365.health-sync', { integration: INTEGRATION });
const pollItsm = () => run('itsm.poll', { system: 'sandbox', kind: 'incident' });

async function boot() {
  app = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: FLOW_MODULES,
    clock: new ManualClock(),
    logger: createLogger(process.env.TL_TEST_LOG ?? 'silent'),
  });
  await app.start();
  await until(quiet, 'the first passes ran', 30_000);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tl-m365inc-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const c = sandboxConnections(sandbox);
  config = validateConfig(
    {
      dataDir: join(dir, 'tl'),
      server: { port: 0 },
      servicenow: [c.servicenow],
      microsoft: c.microsoft,
      integrations: [
        {
          type: 'm365',
          name: INTEGRATION,
          itsm: c.servicenow.name,
          learnUrl: sandbox.microsoft.baseUrl,
          incidents: { enabled: true, fields: { category: 'software' } },
        },
      ],
    },
    'test',
  );
  await boot();
});

after(async () => {
  await app?.stop();
  await agent?.close();
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a health issue opens one incident; each new post is one work note, across passes and a restart; Microsoft resolving it resolves the incident', async () => {
  const id = await addIssue(
    'Users may be unable to send email from Outlook',
    '<p>Title: Outlook sending</p><p>User impact: Users may be unable to send email.</p><p>Current status: We are investigating.</p><p>Scope of impact: Any user sending mail.</p><p>Next update by: Friday, December 4, 2026, at 9:00 PM UTC</p>',
  );
  await sync();
  await sync();
  const [incident, ...more] = await incidentsOf(id);
  assert.ok(incident, 'an incident was opened');
  assert.equal(more.length, 0, 'exactly one incident for the issue');
  assert.equal(incident.short_description, `[Microsoft 365] ${id} — Users may be unable to send email from Outlook`);
  for (const part of [
    'Status: Service degradation',
    'User impact: Users may be unable to send email.',
    'Scope of impact: Any user sending mail.',
    'Next update by: Friday, December 4, 2026, at 9:00 PM UTC',
    'Current status: We are investigating.',
  ])
    assert.ok(incident.description.includes(part), `the description says "${part}":\n${incident.description}`);
  assert.equal((await stateOf(id))?.status, 'open');
  assert.deepEqual(await workNotes(incident.sys_id), [], 'the first post is in the description, not a note');

  await addPost(id, '<p>Current status: We found a faulty configuration change and are reverting it.</p>');
  await sync();
  await sync();
  const notes = await workNotes(incident.sys_id);
  assert.equal(notes.length, 1, `one work note for the one new post:\n${notes.join('\n---\n')}`);
  assert.match(notes[0], new RegExp(`^Microsoft 365 service health ${id} — update of .* UTC`));
  assert.match(notes[0], /We found a faulty configuration change and are reverting it\./);
  assert.doesNotMatch(notes[0], /<p>/, 'plain text, not HTML');

  // A restart: a new Ticketloop on the same database neither opens a second incident nor repeats a note.
  await app.stop();
  await boot();
  await sync();
  assert.equal((await incidentsOf(id)).length, 1);
  assert.equal((await workNotes(incident.sys_id)).length, 1);

  await addPost(
    id,
    '<p>Final status: We reverted the change and confirmed that mail flows again.</p><p>Root cause: A configuration change.</p>',
    'serviceRestored',
  );
  await sync();
  const [resolved] = await incidentsOf(id);
  assert.equal(resolved.state, '6', 'Resolved');
  assert.match(resolved.close_notes, new RegExp(`${id} was resolved by Microsoft at .*Service restored`));
  assert.match(resolved.close_notes, /Root cause: A configuration change\./);
  const after = await workNotes(incident.sys_id);
  assert.equal(after.length, 2, 'the final post is a note too');
  assert.match(after[1], /We reverted the change/);
  assert.equal((await stateOf(id))?.status, 'resolved');
  await sync();
  assert.equal((await workNotes(incident.sys_id)).length, 2, 'nothing new, nothing written');
});

test('a person changed the incident: Ticketloop adds the new post and a note, and does not resolve it', async () => {
  const id = await addIssue('Some users cannot open shared mailboxes', '<p>User impact: Shared mailboxes fail.</p>');
  await sync();
  const [incident] = await incidentsOf(id);
  assert.ok(incident);
  const mine = incident.sys_updated_by;

  // An agent takes the incident over in ServiceNow (In Progress, their own note).
  const patched = await sn(
    'PATCH',
    `/api/now/table/incident/${incident.sys_id}`,
    { state: '2', work_notes: 'Taking this one, the messaging team is on it.' },
    DEMO.agent,
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await pollItsm();
  const handed = await stateOf(id);
  const view = await app.http.inject({
    method: 'GET',
    url: `/api/m365/issues/${id}`,
    headers: { authorization: `Bearer ${await tokenFor(app, 'insights')}` },
  });
  assert.equal(view.statusCode, 200);
  assert.deepEqual(
    { status: view.json().incident.status, key: view.json().incident.key, by: view.json().incident.handedOff.by },
    { status: 'handed_off', key: incident.number, by: DEMO.agent.username },
    'the API shows the incident and who took it over',
  );
  assert.equal(handed?.status, 'handed_off', 'the watch saw a person change it');
  assert.equal(handed?.handedOff?.by, DEMO.agent.username);

  await addPost(id, '<p>Final status: We fixed the mailbox permissions service.</p>', 'serviceRestored');
  await sync();
  const [left] = await incidentsOf(id);
  assert.equal(left.state, '2', 'still In Progress: Ticketloop did not resolve a ticket a person took over');
  assert.equal(left.close_notes, '');
  assert.notEqual(mine, DEMO.agent.username);
  const notes = await workNotes(incident.sys_id);
  assert.ok(
    notes.some((n) => n.includes('We fixed the mailbox permissions service')),
    `the post is still noted:\n${notes.join('\n---\n')}`,
  );
  const said = notes.filter((n) => n.includes(`Microsoft resolved the service health issue ${id}`));
  assert.equal(said.length, 1, 'one note says Microsoft resolved it');
  assert.match(
    said[0],
    new RegExp(`Ticketloop did not change this incident's state: ${DEMO.agent.username} changed it`),
  );
  await sync();
  await pollItsm();
  assert.equal((await workNotes(incident.sys_id)).length, notes.length, 'and nothing more');
});

test('an issue already resolved when first seen opens no incident', async () => {
  const r = await control(sandbox.microsoft.baseUrl, 'POST', '/_sandbox/m365/issues', {
    title: 'Teams meetings recordings delayed',
    service: 'Microsoft Teams',
    status: 'serviceRestored',
    impactDescription: 'Recordings were delayed.',
    content: '<p>Final status: Recordings are available again.</p>',
  });
  assert.equal(r.status, 201);
  await sync();
  assert.deepEqual(await incidentsOf(r.body.id), []);
  assert.equal(await stateOf(r.body.id), undefined);
});
