import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { DEMO } from '../../sandbox/azure/index.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { sandboxConnections } from '../../src/cli/demo.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { tokenFor } from '../helpers/identity.ts';
import { until } from '../helpers/wait.ts';

/**
 * The sandbox (ServiceNow, Graph, ARM with Microsoft.Support) and a Ticketloop on a ManualClock with
 * two m365 integrations: `m365` escalates (mode both, test environment) and `m365-off` is Insights only.
 */

export const CONTACT = {
  firstName: 'Ada',
  lastName: 'Admin',
  primaryEmailAddress: 'ada@contoso.com',
  preferredContactMethod: 'email',
  preferredTimeZone: 'W. Europe Standard Time',
  preferredSupportLanguage: 'en-us',
  country: 'deu',
};

export interface EscalationEnv {
  sandbox: Sandbox;
  app: Ticketloop;
  clock: ManualClock;
  /** Bearer tokens by role. */
  admin: string;
  insights: string;
  call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A control call on a sandbox server (ServiceNow's need the admin's Basic header: `sn: true`). */
  control(base: string, method: string, path: string, body?: unknown, sn?: boolean): Promise<Response>;
  /** A new incident in the sandbox ServiceNow: its sys_id and number. */
  incident(shortDescription: string): Promise<{ sys_id: string; number: string }>;
  /** The incident's work notes, oldest first. */
  workNotes(sysId: string): Promise<string[]>;
  /** Run the escalation sync once and wait for it and the notes it queued. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export async function startEscalationEnv(
  prepare: (s: Sandbox, control: EscalationEnv['control']) => Promise<void> = async () => {},
  /** More settings of the `m365` integration (e.g. `notifications`) and of its `escalation`. */
  more: { m365?: Record<string, unknown>; escalation?: Record<string, unknown> } = {},
): Promise<EscalationEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-m365esc-'));
  const sandbox = await startSandbox({ dataDir: join(dir, 'sandbox') });
  const agent = new Agent({ connect: { ca: sandbox.tls.ca } });
  const sn = sandbox.servicenow.credentials.admin;
  const basic = `Basic ${Buffer.from(`${sn.username}:${sn.password}`).toString('base64')}`;
  const control: EscalationEnv['control'] = (base, method, path, body, withBasic) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(withBasic ? { authorization: basic } : {}),
        accept: 'application/json',
      },
      body: body ? JSON.stringify(body) : undefined,
      dispatcher: agent,
    } as RequestInit);
  await prepare(sandbox, control);
  const c = sandboxConnections(sandbox);
  const clock = new ManualClock();
  const base = { type: 'm365', itsm: c.servicenow.name, learnUrl: sandbox.microsoft.baseUrl };
  const app = await buildTicketloop(
    validateConfig(
      {
        dataDir: join(dir, 'tl'),
        server: { port: 0 },
        servicenow: [c.servicenow],
        microsoft: c.microsoft,
        integrations: [
          {
            ...base,
            name: 'm365',
            testEnvironment: true,
            escalation: {
              mode: 'both',
              subscription: DEMO.prodSubscription,
              contact: CONTACT,
              remindAfter: 'P2D',
              ...more.escalation,
            },
            ...more.m365,
          },
          { ...base, name: 'm365-off' },
        ],
      },
      'test',
    ),
    { itsm: ITSM_MODULES, flows: FLOW_MODULES, clock, logger: createLogger(process.env.TL_TEST_LOG ?? 'silent') },
  );
  const url = await app.start();
  const [admin, insights] = [await tokenFor(app, 'admin'), await tokenFor(app, 'insights')];
  const call: EscalationEnv['call'] = async (token, method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: await r.json() };
  };
  const snUrl = sandbox.servicenow.baseUrl;
  let syncs = 0;
  const pending = async () =>
    Number(
      (
        await app.store.db
          .selectFrom('jobs')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('kind', 'like', 'm365.escalation-%')
          .where('state', 'in', ['ready', 'running'])
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    sandbox,
    app,
    clock,
    admin,
    insights,
    call,
    control,
    async incident(shortDescription) {
      const r = await control(snUrl, 'POST', '/api/now/table/incident', { short_description: shortDescription }, true);
      assert.equal(r.status, 201);
      const { result } = (await r.json()) as { result: { sys_id: string; number: string } };
      return { sys_id: result.sys_id, number: result.number };
    },
    async workNotes(sysId) {
      const r = await control(
        snUrl,
        'GET',
        `/api/now/table/sys_journal_field?sysparm_query=element_id=${sysId}^element=work_notes^ORDERBYsys_created_on&sysparm_fields=value`,
        undefined,
        true,
      );
      const { result } = (await r.json()) as { result: { value: string }[] };
      return result.map((x) => x.value);
    },
    async sync() {
      await app.engine.enqueue({
        kind: 'm365.escalation-sync',
        key: `test-sync-${++syncs}`,
        payload: { integration: 'm365' },
      });
      await until(async () => (await pending()) === 0, 'the escalation sync and its notes ran');
    },
    async close() {
      await app.stop();
      await agent.close();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
