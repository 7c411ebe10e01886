import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { ServiceNowItsm } from '../../src/itsm/servicenow/adapter.ts';
import { str, type ServiceNowClient } from '../../src/itsm/servicenow/client.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { startEnv } from '../servicenow/helpers.ts';
import { accessRequestContract, type AccessContractSubject } from './access-requests-contract.ts';

/**
 * The access-request contract on the ServiceNow adapter against the sandbox (pod-wire-format.md §6):
 * requests are ordered through the Service Catalog API (`order_now`, wire-format.md §1.7), their
 * variables read from `sc_item_option_mtom`; approvals are `sysapproval_approver` rows that the
 * approver decides with their own credentials (david.miller) or the admin on their behalf.
 */

const ADELE = DEMO_USERS[0];
const JSON_HEADERS = { accept: 'application/json', 'content-type': 'application/json' };

accessRequestContract('ServiceNow', async (): Promise<AccessContractSubject> => {
  const env = await startEnv();
  env.sn.seed('demo');
  const itsm = new ServiceNowItsm({ client: env.client(), system: 'sn-access', instanceUrl: env.sn.baseUrl });
  const admin = env.client({ auth: new BasicAuth(DEMO.admin.username, DEMO.admin.password) });
  const david = env.client({ auth: new BasicAuth(DEMO.agent.username, DEMO.agent.password) });
  const userId = async (email: string) =>
    str((await admin.list('sys_user', { query: q().eq('email', email), fields: ['sys_id'] })).records[0]?.sys_id);
  const item = str(
    (await admin.list('sc_cat_item', { query: q().eq('name', 'Cloud access request'), fields: ['sys_id'] })).records[0]
      ?.sys_id,
  );
  assert.ok(item, 'the demo set has the Cloud access request item');
  const journal = async (client: ServiceNowClient, id: string) =>
    (
      await client.list('sys_journal_field', {
        query: q().eq('element_id', id).eq('element', 'comments'),
        fields: ['value'],
      })
    ).records.map((r) => str(r.value));
  return {
    port: itsm.accessRequests,
    offering: 'Cloud access request',
    directoryIdAttribute: 'u_entra_object_id',
    person: { email: ADELE.mail, directoryId: ADELE.id },
    approvers: ['david.miller@example.com', 'beth.anglin@example.com'],
    agent: {
      async ask(answers, forEmail) {
        const r = await admin.http.request<{ result: { sys_id: string } }>({
          method: 'POST',
          path: `/api/sn_sc/servicecatalog/items/${item}/order_now`,
          headers: JSON_HEADERS,
          json: { sysparm_quantity: 1, sysparm_requested_for: await userId(forEmail), variables: answers },
        });
        assert.equal(r.status, 200);
        const ritm = await admin.list('sc_req_item', {
          query: q().eq('request', r.body.result.sys_id),
          fields: ['number'],
        });
        return str(ritm.records[0].number);
      },
      async decide(ref, approverEmail, decision, comment) {
        // The approver decides their own row; for people without a password here, the admin does.
        const as = approverEmail === 'david.miller@example.com' ? david : admin;
        const rows = await as.list('sysapproval_approver', {
          query: q().eq('sysapproval', ref.id).eq('approver.email', approverEmail),
          fields: ['sys_id'],
        });
        await as.update('sysapproval_approver', str(rows.records[0].sys_id), { state: decision, comments: comment });
      },
      async view(ref) {
        const r = (await admin.get(ref.kind, ref.id, { fields: ['state', 'active', 'approval'] }))!;
        const rows = await admin.list('sysapproval_approver', {
          query: q().eq('sysapproval', ref.id).orderBy('sys_created_on'),
          fields: ['approver.email', 'state'],
        });
        return {
          closed: str(r.active) === 'false',
          complete: str(r.state) === '3',
          approval: str(r.approval),
          notes: await journal(admin, ref.id),
          approvals: rows.records.map((a) => ({ email: str(a['approver.email']), state: str(a.state) })),
        };
      },
    },
    async close() {
      await itsm.close().catch(() => undefined);
      await env.close();
    },
  };
});

test('ServiceNow sandbox: the approval roll-up to the task follows pod-wire-format.md §6', async () => {
  const env = await startEnv();
  try {
    env.sn.seed('demo');
    const admin = env.client({ auth: new BasicAuth(DEMO.admin.username, DEMO.admin.password) });
    const david = env.client({ auth: new BasicAuth(DEMO.agent.username, DEMO.agent.password) });
    const ritm = await admin.create('sc_req_item', { short_description: 'roll-up' });
    const user = async (name: string) =>
      str((await admin.list('sys_user', { query: q().eq('user_name', name), fields: ['sys_id'] })).records[0].sys_id);
    const row = (approver: string) =>
      admin.create('sysapproval_approver', { sysapproval: str(ritm.sys_id), approver, state: 'requested' });
    const a = await row(await user('david.miller'));
    const b = await row(await user('beth.anglin'));
    const approval = async () =>
      str((await admin.get('sc_req_item', str(ritm.sys_id), { fields: ['approval'] }))!.approval);
    assert.equal(await approval(), 'requested');
    await david.update('sysapproval_approver', str(a.sys_id), { state: 'approved' });
    assert.equal(await approval(), 'requested', 'one of two approved → still requested');
    await admin.update('sysapproval_approver', str(b.sys_id), { state: 'approved' });
    assert.equal(await approval(), 'approved', 'all approved → approved');
    await admin.update('sysapproval_approver', str(b.sys_id), { state: 'rejected' });
    assert.equal(await approval(), 'rejected', 'any rejection → rejected');
  } finally {
    await env.close();
  }
});
