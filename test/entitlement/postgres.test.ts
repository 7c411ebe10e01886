import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { postgresSkip } from '../helpers/dialects.ts';
import { startLoop, until } from './helpers.ts';

/** The whole loop once on PostgreSQL, with closes seen by polling only (no webhook). */
test(
  'whole loop on PostgreSQL, polling: callout → ticket → close → resume → delivered',
  { skip: await postgresSkip() },
  async () => {
    const L = await startLoop({ dialect: 'postgres', webhook: false, pollIntervalSeconds: 1 });
    try {
      const s = await L.setup(['assignmentRequestApproved']);
      const req = await s.request(DEMO_USERS[0].id);
      const callout = await s.callout(req.id, 'assignmentRequestApproved');
      const id = callout.customExtensionStageInstanceId;
      await until(async () => (await L.state(id))?.ticket, 'ticket');
      const [t] = await L.tickets(correlationKey('entitlement', id));
      await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state: '3', close_notes: 'done' });
      await until(async () => (await s.getRequest(req.id)).state === 'delivered', 'delivered (seen by polling)');
      const st = await until(
        async () => ((await L.state(id))?.status === 'resumed' ? L.state(id) : undefined),
        'resumed',
      );
      assert.equal(st.ticket!.key, t.number);
      assert.ok((await L.audit(id)).some((a) => a.action === 'ticket-closed-resuming' && a.source === 'poll'));
    } finally {
      await L.close();
    }
  },
);
