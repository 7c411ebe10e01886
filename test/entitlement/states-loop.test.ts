import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEMO_USERS } from '../../sandbox/microsoft/constants.ts';
import { validateConfig } from '../../src/app/config.ts';
import { buildTicketloop, createLogger } from '../../src/app/build.ts';
import { ITSM_MODULES } from '../../src/app/registry.ts';
import { entitlementModule } from '../../src/flows/entitlement/module.ts';
import { correlationKey } from '../../src/itsm/watch.ts';
import { startLoop, until, type Loop } from './helpers.ts';

/** Item 11 through the real adapter: ServiceNow's state values reach the mapping (push and poll alike). */

describe('states: { resume: [closed_skipped] } against the sandbox', () => {
  let L: Loop;
  before(async () => {
    L = await startLoop({ integration: { states: { resume: ['closed_skipped'] } } });
  });
  after(async () => {
    await L?.close();
  });

  async function closeWith(state: string, user: string) {
    const s = await L.setup(['assignmentRequestApproved']);
    const req = await s.request(user);
    const callout = await s.callout(req.id, 'assignmentRequestApproved');
    const id = callout.customExtensionStageInstanceId;
    await until(async () => (await L.state(id))?.ticket, 'ticket');
    const [t] = await L.tickets(correlationKey('entitlement', id));
    const r = await L.sn('PATCH', `/api/now/table/sc_req_item/${t.sys_id}`, { state, close_notes: 'n/a' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return until(async () => {
      const x = await s.getRequest(req.id);
      return x.completedDateTime ? x : undefined;
    }, `request ends after state ${state}`);
  }

  test('Closed Skipped (7) now resumes: the request is delivered, the detail names the state', async () => {
    const done = await closeWith('7', DEMO_USERS[0].id);
    assert.equal(done.state, 'delivered');
    assert.match(done.customExtensionCalloutInstances[0].detail, /^RITM\d{7} closed skipped by /);
  });

  test('Closed Incomplete (4) keeps its default: the request is denied', async () => {
    const done = await closeWith('4', DEMO_USERS[1].id);
    assert.equal(done.state, 'denied');
  });
});

test('a state the table does not have is refused at start, naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-ent-states-'));
  try {
    const config = validateConfig(
      {
        dataDir: dir,
        server: { port: 0 },
        servicenow: [
          {
            name: 'sn',
            instanceUrl: 'https://x.service-now.com',
            auth: { type: 'basic', username: 'u', password: 'p' },
          },
        ],
        microsoft: { tenantId: '5e1d7c0a-7c3b-4f0e-9a57-1c2b3d4e5f60', clientId: 'c', clientSecret: 's' },
        integrations: [
          {
            name: 'e',
            type: 'entitlement',
            servicenow: 'sn',
            table: 'incident',
            states: { resume: ['closed_skipped'] },
          },
        ],
      },
      'test',
    );
    await assert.rejects(
      buildTicketloop(config, {
        itsm: ITSM_MODULES,
        flows: [entitlementModule],
        engine: false,
        logger: createLogger('silent'),
      }),
      /integrations\[0\]\.states\.resume\[0\] \(entitlement "e"\): table incident has no state 'closed_skipped' \(its states: new, in_progress, on_hold, resolved, closed, canceled\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
