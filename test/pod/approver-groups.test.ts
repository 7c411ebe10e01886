import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { DEMO_USERS, RESOURCE_GROUPS } from '../../sandbox/microsoft/constants.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { send } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { BROKER_ROLES } from '../graph-groups/helpers.ts';
import { podIntegration, startPod, type PodHarness } from './harness.ts';

// Approvers by Entra group (issue #13, gap 2): a user signed in with Entra ID (OIDC subject
// `oidc:<tid>:<oid>`) approves when Graph `checkMemberGroups` says they are a member of the policy's
// group; a non-member and a local user get 403 with the reason; a policy whose only approver group has
// no members other than the requester refuses the request at submission. The "waiting for approval"
// e-mail goes to the group's members (Graph `/members`), through a real SMTP server process on loopback.

const [ADELE, ALEX, MEGAN] = DEMO_USERS;
const FINANCE = RESOURCE_GROUPS.find((g) => g.displayName === 'Finance Readers')!; // Megan is its member
const BREAK_GLASS = RESOURCE_GROUPS.find((g) => g.displayName === 'Prod Break-glass')!; // no members
const STORAGE = RESOURCE_GROUPS.find((g) => g.displayName === 'Storage Contributors')!;

let sandbox: Sandbox;
let agent: Agent;
let h: PodHarness;
let sink: ChildProcess;
let sinkFile: string;
const tokens: Record<string, string> = {};

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
  agent = new Agent({ connect: { ca: sandbox.tls.ca } });
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
    ],
    policies: [
      { name: 'finance-approves', permissions: ['storage'], approvers: { groups: ['Finance Readers'] } },
      { name: 'nobody-approves', permissions: ['break-glass'], approvers: { groups: [BREAK_GLASS.id] } },
    ],
    consoleUrl: 'https://ticketloop.contoso.example',
    notifications: { smtp: { host: '127.0.0.1', port, starttls: 'off', from: 'Ticketloop <tl@contoso.example>' } },
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
    tokens[name] = (
      await h.app.identity.tokens.create({ kind: 'personal', name: `cli-${name}`, owner, days: 1 }, `user:${name}`)
    ).token;
  }
});
after(async () => {
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
