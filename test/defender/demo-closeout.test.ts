import assert from 'node:assert/strict';
import { test } from 'node:test';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startDefenderEnv } from './helpers.ts';

// The demo's ServiceNow connection (sandboxConnections, used as it is by startDefenderEnv) resolves
// every ticket type a Defender integration may open: the sandbox instance, like a real one, refuses a
// change request without close_code and a problem without resolution_code.

test("the demo connection's close-out resolves a change request and a problem", async () => {
  const env = await startDefenderEnv([]);
  try {
    const itsm = env.app.connections.itsm('sandbox');
    const notes = 'Healthy again in Defender for Cloud.';
    for (const [kind, state, codeField, code] of [
      ['change_request', '3', 'close_code', 'successful'],
      ['problem', '106', 'resolution_code', 'fix_applied'],
    ] as const) {
      const { ticket } = await itsm.openTicket({ kind, correlation: correlationKey('defender', `closeout-${kind}`) });
      const resolved = await itsm.resolveTicket(ticket.ref, { notes });
      assert.equal(resolved.status, kind === 'problem' ? 'resolved' : 'closed', kind);
      const record = (await env.snAsAgent('GET', `/api/now/table/${kind}/${ticket.ref.id}`)).result;
      assert.equal(record.state, state, kind);
      assert.equal(record[codeField], code, kind);
      assert.equal(record.close_notes, notes, kind);
    }
  } finally {
    await env.close();
  }
});
