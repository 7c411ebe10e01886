import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PermanentError } from '../../src/engine/errors.ts';
import { HttpError } from '../../src/engine/errors.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { str, type ServiceNowClient } from '../../src/itsm/servicenow/client.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { ServiceNowItsm, type CloseOutConfig } from '../../src/itsm/servicenow/adapter.ts';
import { startEnv, type Env } from './helpers.ts';

let env: Env;
before(async () => {
  env = await startEnv();
});
after(async () => {
  await env?.close();
});

const CLOSE_OUT: CloseOutConfig = {
  incident: { resolve: { close_code: 'Solution provided' }, close: { close_code: 'Solution provided' } },
  change_request: { close: { close_code: 'successful' } },
  problem: { resolve: { resolution_code: 'fix_applied' } },
};

async function countByCorrelation(c: ServiceNowClient, table: string, id: string): Promise<number> {
  return (await c.list(table, { query: q().eq('correlation_id', id), fields: ['sys_id'] })).records.length;
}

test('openTicket looks up by correlation id before creating; empty ids never reach the wire', async () => {
  const c = env.client();
  const itsm = new ServiceNowItsm({ client: c, closeOut: CLOSE_OUT });
  const a = await itsm.openTicket({
    kind: 'incident',
    correlation: 'tl:defender:a1',
    origin: 'Defender',
    fields: { short_description: 'Storage account allows public access' },
  });
  assert.equal(a.created, true);
  assert.equal(a.ticket.status, 'open');
  assert.match(a.ticket.ref.key, /^INC\d+$/);
  assert.equal(a.ticket.correlation, 'tl:defender:a1');
  assert.match(a.ticket.updatedAt, /Z$/);
  const b = await itsm.openTicket({
    kind: 'incident',
    correlation: 'tl:defender:a1',
    fields: { short_description: 'again' },
  });
  assert.deepEqual([b.created, b.ticket.ref.id], [false, a.ticket.ref.id]);
  assert.equal((await itsm.findByCorrelation('incident', 'tl:defender:a1'))?.ref.id, a.ticket.ref.id);
  assert.equal(await itsm.findByCorrelation('incident', 'tl:defender:a'), undefined, 'exact match only');
  assert.equal(await itsm.findByCorrelation('incident', 'TL:DEFENDER:A1'), undefined, 'case-sensitive');
  const calls: string[] = [];
  const watched = new ServiceNowItsm({ client: env.client({ recorder: { record: (x) => calls.push(x.url) } }) });
  for (const bad of ['', '  ', 'a^ORactive=true', 'x\ny']) {
    await assert.rejects(watched.openTicket({ kind: 'incident', correlation: bad, fields: {} }), PermanentError);
    await assert.rejects(watched.findByCorrelation('incident', bad));
  }
  assert.deepEqual(calls, [], 'nothing was sent');
  assert.equal((await itsm.getTicket({ kind: 'incident', id: a.ticket.ref.id }))?.ref.key, a.ticket.ref.key);
  assert.equal(await itsm.getTicket({ kind: 'incident', id: 'f'.repeat(32) }), undefined);
});

/** The instance applies the create, but the client never sees the answer (first call only). */
function loseFirstCreateResponse(c: ServiceNowClient): void {
  const create = c.create.bind(c);
  let lost = false;
  c.create = async (...args) => {
    const rec = await create(...args);
    if (lost) return rec;
    lost = true;
    throw new HttpError(
      'servicenow',
      'POST',
      `${env.sn.baseUrl}/api/now/table/incident`,
      0,
      'socket hang up (injected)',
      {},
    );
  };
}

/** `fault` is active only around the client's first create call. */
function faultAroundFirstCreate(c: ServiceNowClient, fault: object): void {
  const create = c.create.bind(c);
  let done = false;
  c.create = async (...args) => {
    if (done) return create(...args);
    done = true;
    await env.admin('PUT', '/_sandbox/faults', { pathPattern: '^/api/now/table/incident$', ...fault });
    try {
      return await create(...args);
    } finally {
      await env.admin('DELETE', '/_sandbox/faults');
    }
  };
}

test('create whose response is lost (applied server-side) is not duplicated: the re-run finds it', async () => {
  const c = env.client();
  loseFirstCreateResponse(c);
  const itsm = new ServiceNowItsm({ client: c });
  const input = { kind: 'incident', correlation: 'tl:lost-response', fields: { short_description: 'lost response' } };
  // No inline retry: the ambiguous failure goes up, retryable, and the job runs again.
  await assert.rejects(itsm.openTicket(input), (e: unknown) => e instanceof HttpError && e.retryable);
  const r = await itsm.openTicket(input);
  assert.equal(r.created, false, 'the lookup before the next attempt found the ticket the lost request created');
  const again = await itsm.openTicket(input);
  assert.equal(again.ticket.ref.id, r.ticket.ref.id);
  assert.equal(await countByCorrelation(c, 'incident', 'tl:lost-response'), 1);
});

test('create whose connection the sandbox drops (timeoutRate): the re-run looks up first, exactly one ticket', async () => {
  const c = env.client({ timeoutMs: 2000 });
  faultAroundFirstCreate(c, { timeoutRate: 1, timeoutHangMs: 200 });
  const itsm = new ServiceNowItsm({ client: c });
  const input = { kind: 'incident', correlation: 'tl:dropped', fields: { short_description: 'dropped' } };
  await assert.rejects(itsm.openTicket(input), HttpError);
  const r = await itsm.openTicket(input);
  const again = await itsm.openTicket(input);
  assert.equal(again.created, false);
  assert.equal(again.ticket.ref.id, r.ticket.ref.id);
  assert.equal(await countByCorrelation(c, 'incident', 'tl:dropped'), 1);
});

test('close-out fields: missing mandatory field and invalid sys_choice value are clear errors', async () => {
  const c = env.client();
  const bare = new ServiceNowItsm({ client: c });
  const ticket = (
    await bare.openTicket({
      kind: 'incident',
      correlation: 'tl:closeout-1',
      fields: { short_description: 'close-out' },
    })
  ).ticket.ref;
  await assert.rejects(
    bare.resolveTicket(ticket, { notes: 'fixed' }),
    (e: unknown) => e instanceof PermanentError && /mandatory field 'close_code'/.test(e.message),
  );
  await assert.rejects(bare.resolveTicket(ticket, { notes: '', code: 'Solution provided' }), /close_notes/);

  const wrong = new ServiceNowItsm({ client: c, closeOut: { incident: { resolve: { close_code: 'Fixed it' } } } });
  await assert.rejects(
    wrong.resolveTicket(ticket, { notes: 'fixed' }),
    /'Fixed it' is not a valid choice for field 'close_code'.*Solution provided/,
  );
  const setup = await wrong.checkSetup();
  const failed = setup.filter((r) => !r.ok);
  const codes =
    'Duplicate, Known error, Resolved by caller, Resolved by change, Resolved by problem, Solution provided, Workaround provided, User error';
  assert.deepEqual(failed, [
    {
      target: 'ServiceNow servicenow',
      check: 'incident resolve close-out',
      ok: false,
      detail: "incident resolve: 'Fixed it' is not a valid close_code",
      fix: `set servicenow.servicenow.closeOut.incident.resolve.close_code to one of: ${codes}, or add the choice in ServiceNow`,
    },
    {
      // close falls back to the resolve config, so the fix points there
      target: 'ServiceNow servicenow',
      check: 'incident close close-out',
      ok: false,
      detail: "incident close: 'Fixed it' is not a valid close_code",
      fix: `set servicenow.servicenow.closeOut.incident.resolve.close_code to one of: ${codes}, or add the choice in ServiceNow`,
    },
  ]);
  assert.deepEqual(
    setup.filter((r) => r.ok).map((r) => [r.check, r.detail]),
    [
      ['sign-in', `signed in to ${env.sn.baseUrl} as the configured credentials`],
      ['table incident', 'reachable, 1 row read'],
    ],
  );
  assert.equal((await c.get('incident', ticket.id, { fields: ['state'] }))!.state, '1', 'nothing was written');

  const good = new ServiceNowItsm({
    client: c,
    closeOut: CLOSE_OUT,
    tables: ['incident', 'change_request', 'problem', 'sc_task'],
  });
  const all = await good.checkSetup();
  assert.deepEqual(
    all.filter((r) => !r.ok),
    [],
  );
  assert.deepEqual(
    all.map((r) => r.check),
    [
      'sign-in',
      'table incident',
      'incident resolve close-out',
      'incident close close-out',
      'table change_request',
      'change_request resolve close-out',
      'change_request close close-out',
      'table problem',
      'problem resolve close-out',
      'problem close close-out',
      'problem cancel close-out',
      'table sc_task',
    ],
  );
  assert.equal(
    all.find((r) => r.check === 'incident resolve close-out')?.detail,
    "close_code 'Solution provided' is valid",
  );
  // a per-call code is validated too
  await assert.rejects(good.resolveTicket(ticket, { notes: 'x', code: 'Nope' }), /'Nope' is not a valid choice/);
});

test('resolve, close, cancel, reopen across tables; work notes and comments', async () => {
  const c = env.client();
  const itsm = new ServiceNowItsm({ client: c, closeOut: CLOSE_OUT });
  const inc = (
    await itsm.openTicket({ kind: 'incident', correlation: 'tl:life-1', fields: { short_description: 'life' } })
  ).ticket.ref;
  await itsm.addWorkNote(inc, 'Ticketloop: finding still open');
  await itsm.addComment(inc, 'We are on it');
  const journal = await env
    .client({ auth: new BasicAuth(env.sn.credentials.admin.username, env.sn.credentials.admin.password) })
    .list('sys_journal_field', { query: q().eq('element_id', inc.id), fields: ['element', 'value'] });
  assert.deepEqual(journal.records.map((r) => str(r.element)).sort(), ['comments', 'work_notes']);

  const resolved = await itsm.resolveTicket(inc, { notes: 'Public access disabled' });
  assert.deepEqual(
    [resolved.status, resolved.fields.state, resolved.closeCode, resolved.closeNotes],
    ['resolved', '6', 'Solution provided', 'Public access disabled'],
  );
  const reopened = await itsm.reopenTicket(inc, 'Finding came back');
  assert.deepEqual([reopened.status, reopened.fields.state], ['open', '2']);
  const closed = await itsm.closeTicket(inc, { notes: 'done' });
  assert.equal(closed.status, 'closed');

  const inc2 = (
    await itsm.openTicket({ kind: 'incident', correlation: 'tl:life-2', fields: { short_description: 'cancel me' } })
  ).ticket.ref;
  assert.equal((await itsm.cancelTicket(inc2, { notes: 'not needed' })).status, 'canceled');

  const chg = (
    await itsm.openTicket({ kind: 'change_request', correlation: 'tl:chg-1', fields: { short_description: 'chg' } })
  ).ticket.ref;
  assert.match(chg.key, /^CHG\d+$/);
  assert.equal((await itsm.closeTicket(chg, { notes: 'implemented' })).status, 'closed');

  const prb = (
    await itsm.openTicket({ kind: 'problem', correlation: 'tl:prb-1', fields: { short_description: 'prb' } })
  ).ticket.ref;
  const prbResolved = await itsm.resolveTicket(prb, { notes: 'fixed' });
  assert.deepEqual([prbResolved.status, prbResolved.closeCode], ['resolved', 'fix_applied']);
  const prb2 = (
    await itsm.openTicket({ kind: 'problem', correlation: 'tl:prb-2', fields: { short_description: 'prb2' } })
  ).ticket.ref;
  const prbCanceled = await itsm.cancelTicket(prb2, { notes: 'dup' });
  assert.deepEqual([prbCanceled.fields.state, prbCanceled.closeCode], ['107', 'canceled']);

  const task = (
    await itsm.openTicket({ kind: 'sc_task', correlation: 'tl:task-1', fields: { short_description: 'grant access' } })
  ).ticket.ref;
  assert.deepEqual([(await itsm.closeTicket(task, { notes: 'granted' })).fields.state], ['3']);
  const task2 = (
    await itsm.openTicket({ kind: 'sc_task', correlation: 'tl:task-2', fields: { short_description: 'grant access' } })
  ).ticket.ref;
  assert.deepEqual([(await itsm.cancelTicket(task2, { notes: 'withdrawn' })).status], ['canceled']);

  const inc3 = (
    await itsm.openTicket({ kind: 'incident', correlation: 'tl:life-3', fields: { short_description: 'update me' } })
  ).ticket.ref;
  const updated = await itsm.updateTicket(inc3, { description: 'more detail' });
  assert.equal(updated.fields.description, 'more detail');
  await c.delete('incident', inc3.id);
  await assert.rejects(
    itsm.updateTicket(inc3, { description: 'x' }),
    (e: unknown) => e instanceof PermanentError && /no longer exists/.test(e.message),
  );
});

test('checkSetup reports a refused sign-in once, naming the user and the fix', async () => {
  const itsm = new ServiceNowItsm({
    client: env.client({ auth: new BasicAuth('it.support', 'wrong') }),
    authLabel: { type: 'basic', username: 'it.support' },
    closeOut: CLOSE_OUT,
    tables: ['incident', 'change_request', 'problem'],
  });
  assert.deepEqual(await itsm.checkSetup(), [
    {
      target: 'ServiceNow servicenow',
      check: 'sign-in',
      ok: false,
      detail: "401 for user 'it.support'",
      fix: "check the password (and that user 'it.support' is active and not locked out)",
    },
  ]);
});
