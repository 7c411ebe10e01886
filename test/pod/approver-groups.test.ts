import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { DEMO_GROUPS, DEMO_USERS, RESOURCE_GROUPS } from '../../sandbox/microsoft/constants.ts';
import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { ServiceNowClient, str } from '../../src/itsm/servicenow/client.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { send } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { BROKER_ROLES } from '../graph-groups/helpers.ts';
import { podIntegration, startPod, type PodHarness } from './harness.ts';

// Approvers by Entra group (issue #13, gap 2): a user signed in with Entra ID (OIDC subject
// `oidc:<tid>:<oid>`) approves when Graph `checkMemberGroups` says they are a member of the policy's
// group; a non-member and a local user get 403 with the reason; a policy whose only approver group has
// no members other than the requester refuses the request at submission. The "waiting for approval"
// e-mail goes to the users under the group (Graph `transitiveMembers`: nested groups too), through a real
// SMTP server process on loopback, each with Approve / Reject links for their own Entra account. From
// ServiceNow, the members are asked for approval rows; a decision there counts when the approver is a
// member at decision time (checkMemberGroups), and a non-member's approval is noted and not counted.

const [ADELE, ALEX, MEGAN] = DEMO_USERS;
const FINANCE = RESOURCE_GROUPS.find((g) => g.displayName === 'Finance Readers')!; // Megan is its member
const BREAK_GLASS = RESOURCE_GROUPS.find((g) => g.displayName === 'Prod Break-glass')!; // no members
const STORAGE = RESOURCE_GROUPS.find((g) => g.displayName === 'Storage Contributors')!;
// Alex is a direct member; Finance Readers (Megan) is made a nested group of it below.
const OPERATORS = DEMO_GROUPS.find((g) => g.displayName === 'Ticketloop Operators')!;

let sandbox: Sandbox;
let agent: Agent;
let h: PodHarness;
let sink: ChildProcess;
let sinkFile: string;
let snAdmin: ServiceNowClient;
const tokens: Record<string, string> = {};
const userIds: Record<string, string> = {};

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-groups-'));
  sinkFile = join(dir, 'mail.jsonl');
  sink = spawn(process.execPath, [join(import.meta.dirname, '..', 'defender', 'smtp-sink.mjs'), sinkFile], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const { port } = JSON.parse(
    await new Promise<string>((resolve) => createInterface({ input: sink.stdout! }).once('line', resolve)),
  ) as { port: number };
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  sandbox.servicenow.seed('demo');
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const nested = await send(
    agent,
    'POST',
    `${sandbox.microsoft.baseUrl}/_sandbox/graph/groups/${OPERATORS.id}/members`,
    { 'content-type': 'application/json' },
    JSON.stringify({ members: [FINANCE.id] }),
  );
  assert.ok(nested.status < 300, JSON.stringify(nested.body));
  const broker = await send(
    agent,
    'POST',
    `${sandbox.microsoft.baseUrl}/_sandbox/entra/apps`,
    { 'content-type': 'application/json' },
    JSON.stringify({ displayName: 'Broker', roles: BROKER_ROLES }),
  );
  assert.ok(broker.status < 300, JSON.stringify(broker.body));
  const connections = sandboxConnections(sandbox);
  const integration = podIntegration({
    itsm: 'sandbox',
    systems: [{ name: 'groups', provider: 'entra-group', scopes: [] }],
    permissions: [
      { name: 'storage', system: 'groups', grants: STORAGE.id },
      { name: 'break-glass', system: 'groups', grants: BREAK_GLASS.id },
      { name: 'storage-ops', system: 'groups', grants: STORAGE.id },
    ],
    policies: [
      { name: 'finance-approves', permissions: ['storage'], approvers: { groups: ['Finance Readers'] } },
      { name: 'operators-approve', permissions: ['storage-ops'], approvers: { groups: [OPERATORS.id] } },
      { name: 'nobody-approves', permissions: ['break-glass'], approvers: { groups: [BREAK_GLASS.id] } },
    ],
    consoleUrl: 'https://ticketloop.contoso.example',
    notifications: { smtp: { host: '127.0.0.1', port, starttls: 'off', from: 'Ticketloop <tl@contoso.example>' } },
    itsmFront: { catalogItem: 'Cloud access request', directoryIdAttribute: 'u_entra_object_id' },
  });
  h = await startPod('real', integration, {
    dataDir: join(dir, 'tl'),
    connections: {
      ...connections,
      microsoft: { ...connections.microsoft, clientId: broker.body.clientId, clientSecret: broker.body.clientSecret },
    },
  });
  // Megan and Adele signed in with Entra ID (as the OIDC sign-in makes them), both holding the approver role.
  const tid = connections.microsoft.tenantId;
  for (const [name, u] of [
    ['megan', MEGAN],
    ['adele', ADELE],
  ] as const) {
    const r = await h.app.identity.users.signInOidc(
      { subject: `oidc:${tid}:${u.id}`, name, displayName: u.displayName, roles: ['approver'], groups: 1 },
      'test',
    );
    assert.ok(r.ok);
    const owner = await h.app.identity.users.find(name);
    userIds[name] = owner.id;
    tokens[name] = (
      await h.app.identity.tokens.create({ kind: 'personal', name: `cli-${name}`, owner, days: 1 }, `user:${name}`)
    ).token;
  }
  snAdmin = new ServiceNowClient({
    baseUrl: sandbox.servicenow.baseUrl,
    ca: sandbox.tls.ca,
    auth: new BasicAuth(DEMO.admin.username, DEMO.admin.password),
  });
});
after(async () => {
  await snAdmin?.close();
  await h?.stop();
  sink?.kill();
  await agent?.close();
  await sandbox?.close();
});

async function as(who: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${h.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return { status: r.status, body: (await r.json()) as any };
}

const ask = (permission: string) =>
  h.call('rita', 'POST', '/api/pod/requests', {
    system: 'groups',
    permission,
    identity: { type: 'user', id: ALEX.id },
    justification: 'INC0010009: storage quota',
  });

test('a member of the approver group (in Entra) approves; the approval names the group', async () => {
  const r = await ask('storage');
  assert.equal(r.status, 201, r.text);
  const approved = await as('megan', 'POST', `/api/pod/requests/${r.body.id}/approve`, { comment: 'ok' });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.approvals[0].actor, 'user:megan');
  assert.equal(approved.body.approvals[0].group, FINANCE.id);
  assert.notEqual(approved.body.status, 'submitted');
  // The group's member was e-mailed when it was submitted.
  const mails = () =>
    existsSync(sinkFile)
      ? readFileSync(sinkFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  const mail = await until(
    () => mails().find((m) => /waiting for approval/.test(m.subject) && JSON.stringify(m).includes(MEGAN.mail)),
    'the approval e-mail to the group member',
  );
  assert.ok(String(mail.data).includes(r.body.id), 'it names the request');
});

test('a non-member gets 403 with the reason; a local user is told group approvers are checked in Entra', async () => {
  const r = await ask('storage');
  assert.equal(r.status, 201, r.text);
  const adele = await as('adele', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  assert.equal(adele.status, 403);
  assert.match(adele.body.error.message, /not a member of approver group\(s\) "Finance Readers" in Entra ID/);
  const bob = await h.call('bob', 'POST', `/api/pod/requests/${r.body.id}/approve`, {});
  assert.equal(bob.status, 403);
  assert.match(bob.body.error.message, /local user without an Entra ID link/);
  assert.equal((await h.call('admin', 'GET', `/api/pod/requests/${r.body.id}`)).body.status, 'submitted');
});

test('a request whose only approver group has no members is refused at submission, with the reason', async () => {
  const r = await ask('break-glass');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.error.details[0].path, 'body.permission');
  assert.match(r.body.error.message, /no one can approve it/);
  assert.match(r.body.error.message, /approver group\(s\) "Prod Break-glass" have no members other than the requester/);
});

// ---- nested groups, signed links and ServiceNow approvals for group members (#13, the remaining gaps)

const mails = (): any[] =>
  existsSync(sinkFile)
    ? readFileSync(sinkFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

/** The "waiting for approval" mail of request `id` to `to` alone. */
const mailTo = (id: string, to: string) =>
  until(
    () =>
      mails().find(
        (m) => m.to.length === 1 && m.to[0] === to && String(m.data).includes(id) && /waiting/.test(m.subject),
      ),
    `the "submitted" mail to ${to}`,
  );

/** The text part's links (quoted-printable undone), by title. */
function linksOf(mail: any): Record<string, string> {
  const text = String(mail.data)
    .replace(/=\r?\n/g, '')
    .replace(/=3D/g, '=');
  return Object.fromEntries(
    [...text.matchAll(/^(Approve|Reject|Review the request): (https:\/\/\S+)$/gm)].map((m) => [m[1], m[2]]),
  );
}
const tokenOf = (url: string) => new URL(url).hash.replace(/^#decide=/, '');

/** A console session of an Entra-signed-in user (as the OIDC callback opens it): cookie and CSRF token. */
async function session(name: string) {
  const opened = await h.app.identity.sessions.open(userIds[name]);
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        cookie: `tl_session=${opened.token}`,
        'x-csrf-token': opened.csrf,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body ?? {}),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
}

test('a nested group’s member gets the notice with their own links; the link works signed in as them, not as another', async () => {
  const r = await ask('storage-ops');
  assert.equal(r.status, 201, r.text);
  // Megan is under Operators only through Finance Readers (transitiveMembers); Alex directly.
  const mail = await mailTo(r.body.id, MEGAN.mail);
  await mailTo(r.body.id, ALEX.mail);
  const links = linksOf(mail);
  assert.ok(links.Approve && links.Reject, `the member's own links: ${JSON.stringify(links)}`);
  const token = tokenOf(links.Approve);

  const adele = await (await session('adele'))('POST', `/api/pod/requests/${r.body.id}/link`, { token });
  assert.equal(adele.status, 403, JSON.stringify(adele.body));
  assert.match(adele.body.error.message, /made for another Entra ID account/);
  // A token, not a session, is refused too.
  const byToken = await as('megan', 'POST', `/api/pod/requests/${r.body.id}/link`, { token });
  assert.equal(byToken.status, 403);

  const megan = await (
    await session('megan')
  )('POST', `/api/pod/requests/${r.body.id}/link`, {
    token,
    comment: 'ok by link',
  });
  assert.equal(megan.status, 200, JSON.stringify(megan.body));
  assert.equal(megan.body.approvals[0].actor, 'user:megan');
  assert.equal(megan.body.approvals[0].group, OPERATORS.id, 'approved as a member of Operators (nested)');
  assert.equal(megan.body.approvals[0].comment, 'ok by link');
});

/** Order the catalog item in ServiceNow for Alex (Service Catalog order_now), then one intake pass. */
async function orderInServiceNow(permission: string): Promise<{ id: string; number: string }> {
  const items = await snAdmin.list('sc_cat_item', {
    query: q().eq('name', 'Cloud access request'),
    fields: ['sys_id'],
  });
  const user = await snAdmin.list('sys_user', {
    query: q().eq('user_name', ALEX.userPrincipalName),
    fields: ['sys_id'],
  });
  const r = await snAdmin.http.request<{ result: { sys_id: string } }>({
    method: 'POST',
    path: `/api/sn_sc/servicecatalog/items/${str(items.records[0].sys_id)}/order_now`,
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    json: {
      sysparm_quantity: 1,
      sysparm_requested_for: str(user.records[0].sys_id),
      variables: { system: 'groups', permission, justification: 'INC0010011: storage quota' },
    },
  });
  const ritm = await snAdmin.list('sc_req_item', {
    query: q().eq('request', r.body.result.sys_id),
    fields: ['sys_id', 'number'],
  });
  return { id: str(ritm.records[0].sys_id), number: str(ritm.records[0].number) };
}

let intakes = 0;
const intake = () =>
  h.app.engine.enqueue({ kind: 'pod.itsm-intake', key: `test-intake:${++intakes}`, payload: { integration: 'cloud' } });

async function requestOfTicket(number: string): Promise<any> {
  const r = await h.call('admin', 'GET', '/api/pod/requests?view=all&limit=500');
  return r.body.items.find((x: any) => x.ticketNumber === number);
}

async function approvalsOf(ritm: string): Promise<Record<string, { id: string; state: string }>> {
  const rows = await snAdmin.list('sysapproval_approver', {
    query: q().eq('sysapproval', ritm).orderBy('sys_created_on'),
    fields: ['sys_id', 'approver.email', 'state'],
  });
  return Object.fromEntries(
    rows.records.map((a) => [str(a['approver.email']).toLowerCase(), { id: str(a.sys_id), state: str(a.state) }]),
  );
}

async function commentsOf(ritm: string): Promise<string> {
  const journal = await snAdmin.list('sys_journal_field', {
    query: q().eq('element_id', ritm).eq('element', 'comments').orderBy('sys_created_on'),
    fields: ['value'],
  });
  return journal.records.map((j) => str(j.value)).join('\n---\n');
}

test('from ServiceNow: group members are asked; a non-member’s approval does not count, a member’s does', async () => {
  const ritm = await orderInServiceNow('storage');
  await intake();
  const submitted = await until(async () => {
    const r = await requestOfTicket(ritm.number);
    return r?.status === 'submitted' ? r : undefined;
  }, 'the ServiceNow request submitted');
  const asked = await until(async () => {
    const rows = await approvalsOf(ritm.id);
    return rows[MEGAN.mail]?.state === 'requested' ? rows : undefined;
  }, 'an approval row for the group member');
  assert.deepEqual(Object.keys(asked), [MEGAN.mail], 'only the group’s members are asked');
  assert.match(await commentsOf(ritm.id), /Approvers: members of "Finance Readers"/);

  // Adele is no member of Finance Readers: an approval row made for her and approved does not count.
  const adele = await snAdmin.list('sys_user', { query: q().eq('email', ADELE.mail), fields: ['sys_id'] });
  await snAdmin.create('sysapproval_approver', {
    sysapproval: ritm.id,
    document_id: ritm.id,
    source_table: 'sc_req_item',
    approver: str(adele.records[0].sys_id),
    state: 'approved',
    comments: 'me too',
  });
  await intake();
  await until(
    async () =>
      /approval of adele\.vance@\S+ does not count: .*not a member of approver group/.test(await commentsOf(ritm.id)),
    'the note that the non-member’s approval does not count',
  );
  assert.equal((await requestOfTicket(ritm.number)).status, 'submitted');

  // Megan approves her row: she is a member now (checkMemberGroups at decision time), so it counts.
  await snAdmin.update('sysapproval_approver', asked[MEGAN.mail].id, { state: 'approved', comments: 'fine' });
  await intake();
  const approved = await until(async () => {
    const r = await requestOfTicket(ritm.number);
    return r && r.status !== 'submitted' ? r : undefined;
  }, 'the request approved by the member');
  const full = (await h.call('admin', 'GET', `/api/pod/requests/${approved.id}`)).body;
  assert.deepEqual(
    full.approvals.map((a: any) => [a.actor, a.decision, a.via, a.group]),
    [[`user:${MEGAN.mail}`, 'approved', 'servicenow', FINANCE.id]],
  );
  assert.equal(submitted.id, approved.id);
});

test('from ServiceNow: a member who approves in the console is written to ServiceNow as their own approval row', async () => {
  const ritm = await orderInServiceNow('storage');
  await intake();
  const submitted = await until(async () => {
    const r = await requestOfTicket(ritm.number);
    return r?.status === 'submitted' ? r : undefined;
  }, 'the ServiceNow request submitted');
  await until(async () => (await approvalsOf(ritm.id))[MEGAN.mail]?.state === 'requested', 'her approval row');
  const approved = await as('megan', 'POST', `/api/pod/requests/${submitted.id}/approve`, { comment: 'ok here' });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.approvals[0].group, FINANCE.id);
  await until(
    async () => (await approvalsOf(ritm.id))[MEGAN.mail]?.state === 'approved',
    'her ServiceNow approval row approved (her console name "megan" is no e-mail: found by her Entra account)',
  );
});

test('from ServiceNow: a member removed from the group before deciding is not counted', async () => {
  const ritm = await orderInServiceNow('storage');
  await intake();
  const asked = await until(async () => {
    const rows = await approvalsOf(ritm.id);
    return rows[MEGAN.mail]?.state === 'requested' ? rows : undefined;
  }, 'an approval row for the group member');
  const removed = await send(
    agent,
    'DELETE',
    `${sandbox.microsoft.baseUrl}/_sandbox/graph/groups/${FINANCE.id}/members/${MEGAN.id}`,
    {},
  );
  try {
    assert.ok(removed.status < 300, JSON.stringify(removed.body));
    await snAdmin.update('sysapproval_approver', asked[MEGAN.mail].id, { state: 'approved', comments: 'still me?' });
    await intake();
    await until(
      async () => /approval of megan\.bowen@\S+ does not count/.test(await commentsOf(ritm.id)),
      'the note that the former member’s approval does not count',
    );
    assert.equal((await requestOfTicket(ritm.number)).status, 'submitted');
  } finally {
    await send(
      agent,
      'POST',
      `${sandbox.microsoft.baseUrl}/_sandbox/graph/groups/${FINANCE.id}/members`,
      { 'content-type': 'application/json' },
      JSON.stringify({ members: [MEGAN.id] }),
    );
  }
});
