import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { RetryableError } from '../../src/engine/errors.ts';
import { ItsmNotes } from '../../src/flows/pod/itsm-notes.ts';
import type { TicketRef } from '../../src/itsm/port.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { ServiceNowClient, str } from '../../src/itsm/servicenow/client.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { until } from '../helpers/wait.ts';
import { podIntegration, startPod, type PodHarness } from './harness.ts';

// Permissions on demand from ServiceNow (issue #13 item 3; pod-wire-format.md §6): a "Cloud access
// request" RITM (ordered through the Service Catalog API, its variables in sc_item_option_mtom)
// becomes a request; approvals are sysapproval_approver rows kept in sync both ways (states
// requested / approved / rejected / not_required, the roll-up to the RITM's `approval`); the RITM's
// stage, state and comments follow the lifecycle; a refused request closes its RITM incomplete.

const ADELE = DEMO_USERS[0];
const APPROVERS = ['david.miller@example.com', 'beth.anglin@example.com'];
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

let sandbox: Sandbox;
let h: PodHarness;
let admin: ServiceNowClient;
let david: ServiceNowClient;
let item: string;
const tokens: Record<string, string> = {};
let runs = 0;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-pod-sn-'));
  sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  sandbox.servicenow.seed('demo');
  const SUB = `/subscriptions/${sandbox.azure.demo.prodSubscription}`;
  const integration = podIntegration({
    itsm: 'sandbox',
    systems: [{ name: 'azure-prod', provider: 'azure-rbac', scopes: [SUB] }],
    policies: [{ name: 'standard', permissions: ['*'], maxDuration: 'PT8H', approvers: { users: APPROVERS } }],
    itsmFront: { catalogItem: 'Cloud access request', directoryIdAttribute: 'u_entra_object_id' },
  });
  h = await startPod('real', integration, { dataDir: join(dir, 'tl'), connections: sandboxConnections(sandbox) });
  for (const name of APPROVERS) {
    await h.app.identity.users.create({ name, password: 'correct horse battery staple', roles: ['approver'] }, 'test');
    const owner = await h.app.identity.users.find(name);
    tokens[name] = (
      await h.app.identity.tokens.create(
        { kind: 'personal', name: `sn-${name.split('@')[0]}`, owner, days: 1 },
        `user:${name}`,
      )
    ).token;
  }
  const client = (user: { username: string; password: string }) =>
    new ServiceNowClient({
      baseUrl: sandbox.servicenow.baseUrl,
      ca: sandbox.tls.ca,
      auth: new BasicAuth(user.username, user.password),
    });
  admin = client(DEMO.admin);
  david = client(DEMO.agent);
  const items = await admin.list('sc_cat_item', { query: q().eq('name', 'Cloud access request'), fields: ['sys_id'] });
  item = str(items.records[0].sys_id);
});
after(async () => {
  await admin?.close();
  await david?.close();
  await h?.stop();
  await sandbox?.close();
});

/** Order the catalog item for a person (Service Catalog API order_now): the RITM. */
async function order(variables: Record<string, string>, forUser = ADELE.userPrincipalName) {
  const user = await admin.list('sys_user', { query: q().eq('user_name', forUser), fields: ['sys_id'] });
  const r = await admin.http.request<{ result: { sys_id: string } }>({
    method: 'POST',
    path: `/api/sn_sc/servicecatalog/items/${item}/order_now`,
    headers: JSON_HEADERS,
    json: { sysparm_quantity: 1, sysparm_requested_for: str(user.records[0].sys_id), variables },
  });
  const ritm = await admin.list('sc_req_item', {
    query: q().eq('request', r.body.result.sys_id),
    fields: ['sys_id', 'number'],
  });
  return { id: str(ritm.records[0].sys_id), number: str(ritm.records[0].number) };
}

/** One intake pass (the schedule's job, run now). */
async function intake() {
  await h.app.engine.enqueue({
    kind: 'pod.itsm-intake',
    key: `test-intake:${++runs}`,
    payload: { integration: 'cloud' },
  });
}

/** Every pod job has finished (the intakes and what they enqueued). */
const settled = () =>
  until(async () => {
    const busy = await h.app.store.db
      .selectFrom('jobs')
      .select('key')
      .where('kind', 'like', 'pod.itsm-%')
      .where('state', 'in', ['ready', 'running'])
      .where('run_at', '<=', h.clock.now())
      .execute();
    return busy.length === 0;
  }, 'the ITSM jobs to finish');

async function requestsOf(number: string): Promise<any[]> {
  const r = await h.call('admin', 'GET', '/api/pod/requests?view=all&limit=500');
  return r.body.items.filter((x: any) => x.ticketNumber === number);
}

const requestOf = (number: string, status?: string) =>
  until(
    async () => {
      const [r] = await requestsOf(number);
      return r && (!status || r.status === status) ? r : undefined;
    },
    `the request of ${number}${status ? ` ${status}` : ''}`,
  );

/** The RITM as a person sees it, with its comments and approvals. */
async function ritm(id: string) {
  // The journal first: a record read after it shows at least the update that wrote the last comment.
  const journal = await admin.list('sys_journal_field', {
    query: q().eq('element_id', id).eq('element', 'comments').orderBy('sys_created_on'),
    fields: ['value'],
  });
  const rows = await admin.list('sysapproval_approver', {
    query: q().eq('sysapproval', id).orderBy('sys_created_on'),
    fields: ['sys_id', 'approver.email', 'state'],
  });
  const r = (await admin.get('sc_req_item', id, {
    fields: ['state', 'stage', 'approval', 'active', 'correlation_id'],
  }))!;
  return {
    state: str(r.state),
    stage: str(r.stage),
    approval: str(r.approval),
    active: str(r.active),
    correlation: str(r.correlation_id),
    comments: journal.records.map((j) => str(j.value)).join('\n---\n'),
    approvals: Object.fromEntries(rows.records.map((a) => [str(a['approver.email']), str(a.state)])),
    approvalIds: Object.fromEntries(rows.records.map((a) => [str(a['approver.email']), str(a.sys_id)])),
  };
}

const ritmUntil = (id: string, what: string, ok: (r: Awaited<ReturnType<typeof ritm>>) => boolean) =>
  until(async () => {
    const r = await ritm(id);
    return ok(r) ? r : undefined;
  }, `${what} (RITM ${id})`);

const asked = (id: string) =>
  ritmUntil(
    id,
    'approvals requested and the RITM taken in',
    (r) => APPROVERS.every((a) => r.approvals[a] === 'requested') && /Approvers:/.test(r.comments),
  );

test('a RITM becomes a request; approved in ServiceNow it is granted, and the RITM follows granted → expired', async () => {
  const { id, number } = await order({
    system: 'azure-prod',
    permission: 'prod-reader',
    duration: 'PT2H',
    justification: 'read the web logs',
  });
  await intake();
  const submitted = await requestOf(number, 'submitted');
  assert.deepEqual(submitted.identity, { type: 'user', id: ADELE.id }, 'their own Entra object id by default');
  assert.equal(submitted.requester, `user:${ADELE.mail}`);
  assert.equal(submitted.ticket.key, number);
  const waiting = await asked(id);
  assert.equal(waiting.stage, 'waiting_for_approval');
  assert.equal(waiting.approval, 'requested');
  assert.equal(waiting.correlation, `tl:pod:r:${submitted.id}`);
  assert.match(waiting.comments, /Approvers: david\.miller@example\.com, beth\.anglin@example\.com/);

  // David approves his own row with his own credentials, as in "My approvals".
  await david.update('sysapproval_approver', waiting.approvalIds[APPROVERS[0]], {
    state: 'approved',
    comments: 'ok from ServiceNow',
  });
  await intake();
  const granted = await requestOf(number, 'granted');
  assert.deepEqual(
    granted.approvals.map((a: any) => [a.actor, a.decision, a.comment, a.via]),
    [[`user:${APPROVERS[0]}`, 'approved', 'ok from ServiceNow', 'servicenow']],
  );
  const delivered = await ritmUntil(id, 'granted on the RITM', (r) => /granted until/.test(r.comments));
  assert.equal(delivered.stage, 'delivery');
  assert.equal(delivered.state, '2');
  assert.equal(delivered.approval, 'approved');
  assert.equal(delivered.approvals[APPROVERS[1]], 'not_required', 'the leftover is no longer required');

  h.clock.advance(2 * 3_600_000 + 1);
  h.app.engine.wake();
  await requestOf(number, 'expired');
  const closed = await ritmUntil(id, 'expired on the RITM', (r) => /has expired/.test(r.comments));
  assert.equal(closed.state, '3', 'closed complete when the grant ends');
  assert.equal(closed.active, 'false');
  assert.ok(closed.comments.indexOf('granted until') < closed.comments.indexOf('has expired'));
});

test('approved in Ticketloop: ServiceNow shows the approval, the RITM approved, the leftover not_required', async () => {
  const { id, number } = await order({ system: 'azure-prod', permission: 'prod-reader', justification: 'on call' });
  await intake();
  const r = await requestOf(number, 'submitted');
  await asked(id);
  const approve = await fetch(`${h.url}/api/pod/requests/${r.id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens[APPROVERS[1]]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ comment: 'approved in Ticketloop' }),
  });
  assert.equal(approve.status, 200, await approve.text());
  const shown = await ritmUntil(
    id,
    'the Ticketloop approval',
    (x) => x.approvals[APPROVERS[1]] === 'approved' && x.approvals[APPROVERS[0]] !== 'requested',
  );
  assert.equal(shown.approvals[APPROVERS[0]], 'not_required');
  const approval = await admin.list('sys_journal_field', {
    query: q().eq('element_id', shown.approvalIds[APPROVERS[1]]).eq('element', 'comments'),
    fields: ['value'],
  });
  assert.deepEqual(
    approval.records.map((j) => str(j.value)),
    ['approved in Ticketloop'],
  );
  await ritmUntil(id, 'RITM approved', (x) => x.approval === 'approved');
  // The mirrored row is read back by the next intake: it does not count twice.
  await intake();
  const after = await requestOf(number, 'granted');
  assert.equal(after.approvals.length, 1);
  assert.equal(after.approvals[0].via, 'ticketloop');
});

test('rejected in ServiceNow: the request is rejected and the RITM closed incomplete', async () => {
  const { id, number } = await order({ system: 'azure-prod', permission: 'prod-contributor', justification: 'deploy' });
  await intake();
  await requestOf(number, 'submitted');
  const waiting = await asked(id);
  // Beth has no password on the sandbox: the admin decides her row on her behalf.
  await admin.update('sysapproval_approver', waiting.approvalIds[APPROVERS[1]], {
    state: 'rejected',
    comments: 'not without a change',
  });
  await intake();
  const rejected = await requestOf(number, 'rejected');
  assert.equal(rejected.approvals[0].comment, 'not without a change');
  const closed = await ritmUntil(id, 'rejected on the RITM', (x) => x.state === '4');
  assert.equal(closed.approval, 'rejected');
  assert.equal(closed.approvals[APPROVERS[0]], 'not_required');
  assert.match(closed.comments, /was rejected by user:beth\.anglin@example\.com/);
});

test('a request refused at submission closes its RITM incomplete with the reason', async () => {
  const tooLong = await order({
    system: 'azure-prod',
    permission: 'prod-reader',
    duration: 'PT12H',
    justification: 'x',
  });
  // Abel Tuter is not an Entra user here: no object id on his ServiceNow user.
  const noId = await order({ system: 'azure-prod', permission: 'prod-reader', justification: 'x' }, 'abel.tuter');
  await intake();
  const a = await ritmUntil(tooLong.id, 'closed', (x) => x.state === '4');
  assert.match(a.comments, /duration: exceeds the policy's maximum PT8H/);
  const b = await ritmUntil(noId.id, 'closed', (x) => x.state === '4');
  assert.match(b.comments, /identity_id: abel\.tuter@example\.com has no Entra object id/);
  assert.deepEqual(await requestsOf(tooLong.number), []);
  assert.deepEqual(await requestsOf(noId.number), []);
});

test('a RITM polled twice (and after it was taken in) is submitted once', async () => {
  const { id, number } = await order({ system: 'azure-prod', permission: 'prod-reader', justification: 'twice' });
  await h.app.store.db.deleteFrom('itsm_watermark').where('kind', '=', 'pod-intake:cloud').execute();
  await Promise.all([intake(), intake()]);
  await requestOf(number, 'submitted');
  await asked(id);
  await h.app.store.db.deleteFrom('itsm_watermark').where('kind', '=', 'pod-intake:cloud').execute();
  await intake();
  await intake();
  await settled();
  assert.equal((await requestsOf(number)).length, 1);
  const r = await ritm(id);
  assert.equal(Object.keys(r.approvals).length, 2, 'one approval row per approver');
  assert.equal((r.comments.match(/waiting|Approvers:/g) ?? []).length, 1, 'one "submitted" comment');
});

test('a note whose first write landed unanswered is not written again on retry; a written one neither', async () => {
  const { id, number } = await order({ system: 'azure-prod', permission: 'prod-reader', justification: 'notes' });
  const port = h.app.connections.itsm('sandbox').accessRequests!;
  const ref: TicketRef = { system: 'sandbox', kind: 'sc_req_item', id, key: number, link: '' };
  const notes = new ItsmNotes(h.app.store.db, () => h.clock.now());
  // The write reaches ServiceNow, but its answer is lost: the caller sees an error and retries.
  let lose = true;
  const lossy = {
    ...port,
    hasNote: port.hasNote!.bind(port),
    async updateRequest(r: TicketRef, u: Parameters<typeof port.updateRequest>[1]) {
      await port.updateRequest(r, u);
      if (lose) {
        lose = false;
        throw new RetryableError('socket hang up');
      }
    },
  };
  const note = `Ticketloop: a note written once (${number})`;
  await assert.rejects(notes.write(lossy, ref, 'test:once', { note }), /socket hang up/);
  await notes.write(lossy, ref, 'test:once', { note });
  await notes.write(lossy, ref, 'test:once', { note, phase: 'awaiting_approval' });
  const count = async () => ((await ritm(id)).comments.match(/a note written once/g) ?? []).length;
  assert.equal(await count(), 1, 'the note is on the RITM once');
  // Another name is another note.
  await notes.write(port, ref, 'test:other', { note });
  assert.equal(await count(), 2);
});
