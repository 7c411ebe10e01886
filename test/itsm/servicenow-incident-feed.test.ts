import { DEMO } from '../../sandbox/servicenow/seed.ts';
import { ServiceNowItsm } from '../../src/itsm/servicenow/adapter.ts';
import { BasicAuth } from '../../src/itsm/servicenow/auth.ts';
import { str } from '../../src/itsm/servicenow/client.ts';
import { startEnv } from '../servicenow/helpers.ts';
import { incidentFeedContract, type IncidentFeedSubject } from './incident-feed-contract.ts';

/**
 * The incident-feed contract on the ServiceNow adapter against the sandbox: incidents reported by an
 * agent (david.miller, itil) through the Table API, read by keyset paging on sys_updated_on, sys_id;
 * the parent link is `parent_incident`.
 */

incidentFeedContract('ServiceNow', async (): Promise<IncidentFeedSubject> => {
  const env = await startEnv();
  const itsm = new ServiceNowItsm({ client: env.client(), system: 'sn-feed', instanceUrl: env.sn.baseUrl });
  const agent = env.client({ auth: new BasicAuth(DEMO.agent.username, DEMO.agent.password) });
  return {
    port: itsm.incidentFeed,
    kind: 'incident',
    agent: {
      async report(title, description, correlation) {
        const r = await agent.create('incident', {
          short_description: title,
          description,
          ...(correlation ? { correlation_id: correlation } : {}),
        });
        return {
          system: 'sn-feed',
          kind: 'incident',
          id: str(r.sys_id),
          key: str(r.number),
          link: `${env.sn.baseUrl}/incident.do?sys_id=${str(r.sys_id)}`,
        };
      },
      async edit(ref, description) {
        await agent.update('incident', ref.id, { description });
      },
      async note(ref, text) {
        await agent.update('incident', ref.id, { work_notes: text });
      },
      async parentOf(ref) {
        const r = await agent.get('incident', ref.id, { fields: ['parent_incident'], excludeReferenceLink: true });
        return str(r?.parent_incident);
      },
    },
    async close() {
      await itsm.close();
      await env.close();
    },
  };
});
