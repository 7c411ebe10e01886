import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { validateConfig } from '../../src/app/config.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { createPodModule, podModule } from '../../src/flows/pod/module.ts';
import type { AuthorizationProvider } from '../../src/flows/pod/providers/port.ts';
import type { Role } from '../../src/identity/roles.ts';
import { tokenFor } from '../helpers/identity.ts';

/**
 * A Ticketloop with one pod integration over a given provider, on SQLite, with a manual clock;
 * users named alice, bob (approvers), rita (requester) and their tokens.
 */

let made = 0;

export const SUB = '/subscriptions/00000000-0000-4000-8000-00000000a001';
export const ALICE_OID = '11111111-1111-4111-8111-111111111111';
export const WORKLOAD_OID = '22222222-2222-4222-8222-222222222222';

export interface PodHarness {
  app: Ticketloop;
  url: string;
  clock: ManualClock;
  tokens: Record<'rita' | 'alice' | 'bob' | 'admin' | 'auditor', string>;
  call(
    who: keyof PodHarness['tokens'],
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; text: string }>;
  stop(): Promise<void>;
}

export function podIntegration(overrides: Record<string, unknown> = {}) {
  return {
    name: 'cloud',
    type: 'pod',
    itsm: 'sn',
    systems: [{ name: 'azure-prod', provider: 'azure-rbac', scopes: [SUB] }],
    permissions: [
      { name: 'prod-reader', system: 'azure-prod', grants: 'Reader', readOnly: true },
      { name: 'prod-contributor', system: 'azure-prod', grants: 'b24988ac-6180-42a0-ab88-20f7382dd24c' },
    ],
    policies: [
      { name: 'standard', permissions: ['*'], maxDuration: 'PT8H', approvers: { users: ['alice', 'bob'] }, quorum: 1 },
    ],
    ...overrides,
  };
}

export interface PodOptions {
  dataDir?: string;
  /** Connections to use instead of a dummy ServiceNow (e.g. sandboxConnections(sandbox)); the integration's itsm must name one. */
  connections?: { servicenow: Record<string, unknown>; microsoft?: Record<string, unknown> };
  /** Where the manual clock starts (e.g. the sandbox's now, for providers that expire on sandbox time). */
  startAt?: number;
}

/** With a provider, every system uses it; with 'real', the shipped providers over `o.connections`. */
export async function startPod(
  provider: AuthorizationProvider | 'real',
  integration: Record<string, unknown> = podIntegration(),
  o: PodOptions = {},
): Promise<PodHarness> {
  const clock = new ManualClock(o.startAt ?? Date.parse('2026-12-01T09:00:00Z'));
  const dir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'tl-pod-'));
  const config = validateConfig(
    {
      dataDir: dir,
      server: { port: 0 },
      servicenow: [
        o.connections?.servicenow ?? {
          name: 'sn',
          instanceUrl: 'https://example.service-now.com',
          auth: { type: 'basic', username: 'u', password: 'p' },
        },
      ],
      microsoft: o.connections?.microsoft,
      integrations: [integration],
    },
    'test',
  );
  const pod =
    provider === 'real'
      ? podModule
      : createPodModule(() => ({ 'azure-rbac': () => provider, 'entra-group': () => provider }));
  const app = await buildTicketloop(config, {
    itsm: ITSM_MODULES,
    flows: [...FLOW_MODULES.filter((m) => m.name !== 'pod'), pod],
    clock,
    logger: createLogger(process.env.TL_TEST_LOG ?? 'silent'),
  });
  const url = await app.start();
  const users: Record<string, Role[]> = { rita: ['requester'], alice: ['approver', 'requester'], bob: ['approver'] };
  const tokens: Record<string, string> = {};
  for (const [name, roles] of Object.entries(users)) {
    const existing = (await app.identity.users.list()).find((u) => u.name === name);
    if (!existing) await app.identity.users.create({ name, password: 'correct horse battery staple', roles }, 'test');
    const owner = await app.identity.users.find(name);
    tokens[name] = (
      await app.identity.tokens.create({ kind: 'personal', name: `cli-${++made}`, owner, days: 30 }, `user:${name}`)
    ).token;
  }
  tokens.admin = await tokenFor(app, 'admin');
  tokens.auditor = await tokenFor(app, 'auditor');
  const call: PodHarness['call'] = async (who, method, path, body, headers = {}) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: r.status, body: parsed, text };
  };
  return { app, url, clock, tokens: tokens as PodHarness['tokens'], call, stop: () => app.stop() };
}
