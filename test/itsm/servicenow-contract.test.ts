import { str } from '../../src/itsm/servicenow/client.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { ServiceNowItsm, type CloseOutConfig } from '../../src/itsm/servicenow/adapter.ts';
import { q } from '../../src/itsm/servicenow/query.ts';
import { webhookPath } from '../../src/itsm/servicenow/webhook.ts';
import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { startEnv } from '../servicenow/helpers.ts';
import { itsmContract, type ContractSubject } from './contract.ts';

/**
 * The ITSM port contract (contract.ts) on the ServiceNow adapter against the ServiceNow sandbox.
 * The "agent" is a person at the instance: david.miller (itil), writing through the Table API with
 * his own credentials, as the web UI would; the push is the sandbox's business-rule webhook.
 */

const SYSTEM = 'sn-contract';
const WEBHOOK_SECRET = 'contract-webhook-secret';
const CLOSE_OUT: CloseOutConfig = {
  incident: { resolve: { close_code: 'Solution provided' }, close: { close_code: 'Solution provided' } },
};

itsmContract('ServiceNow', async (): Promise<ContractSubject> => {
  const env = await startEnv();
  const port = new ServiceNowItsm({
    client: env.client(),
    system: SYSTEM,
    instanceUrl: env.sn.baseUrl,
    closeOut: CLOSE_OUT,
    webhook: { type: 'hmac', secret: WEBHOOK_SECRET },
    pollIntervalMs: 1_000,
    reconcileIntervalMs: 60_000,
  });
  const agent = env.client({ auth: new BasicAuth(DEMO.agent.username, DEMO.agent.password) });
  const journal = async (id: string, element: string) =>
    (
      await agent.list('sys_journal_field', {
        query: q().eq('element_id', id).eq('element', element),
        fields: ['value'],
        pageSize: 100,
      })
    ).records.map((r) => str(r.value));
  return {
    port,
    kind: 'incident',
    titleFields: (title) => ({ short_description: title }),
    person: { email: 'abel.tuter@example.com', managerEmail: 'carol.chen@example.com' },
    agent: {
      async resolve(ref, notes) {
        await agent.update(ref.kind, ref.id, { state: '6', close_code: 'Solution provided', close_notes: notes });
      },
      async delete(ref) {
        await agent.delete(ref.kind, ref.id);
      },
      async view(ref) {
        const r = await agent.get(ref.kind, ref.id, {
          fields: ['short_description', 'description', 'assigned_to', 'caller_id'],
          excludeReferenceLink: true,
        });
        if (!r) throw new Error(`${ref.kind} ${ref.id} not found`);
        return {
          title: str(r.short_description),
          description: str(r.description),
          assignee: str(r.assigned_to) || undefined,
          caller: str(r.caller_id) || undefined,
          workNotes: await journal(ref.id, 'work_notes'),
          comments: await journal(ref.id, 'comments'),
        };
      },
      async search(kind, text) {
        const page = await agent.list(kind, {
          query: q().like('short_description', text),
          fields: ['sys_id'],
          pageSize: 100,
        });
        return page.records.map((r) => str(r.sys_id));
      },
    },
    push: {
      async target(baseUrl) {
        const hooks = baseUrl
          ? [
              {
                table: 'incident',
                url: `${baseUrl}${webhookPath(SYSTEM)}`,
                events: ['insert', 'update', 'delete'],
                auth: { type: 'hmac', secret: WEBHOOK_SECRET },
              },
            ]
          : [];
        await env.admin('PUT', '/_sandbox/servicenow/webhooks', hooks);
      },
    },
    async close() {
      await port.close().catch(() => undefined);
      await env.close();
    },
  };
});
