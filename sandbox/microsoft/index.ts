import { join } from 'node:path';
import { createSandboxServer, listen } from '../shared/server.ts';
import type { SandboxTls } from '../shared/tls.ts';
import { Faults, registerFaults } from '../shared/faults.ts';
import { DocStore } from '../shared/persist.ts';
import { OffsetClock, registerClock } from '../shared/clock.ts';
import { loadSigningKeys } from './keys.ts';
import { Entra, type IssueTokenOptions } from './entra.ts';
import { aadError, registerEntraRoutes } from './entra-routes.ts';
import { GraphFailure, graphError, sendGraphFailure } from './graph-http.ts';
import { DEMO_GROUPS, DEMO_USERS, RESOURCE_GROUPS, TENANT_ID, TICKETLOOP_APP } from './constants.ts';
import { EmEngine } from './callouts.ts';
import { registerGraphEm } from './graph-em.ts';
import { registerEmRoles } from './graph-em-roles.ts';
import { registerGraphDirectory } from './graph-directory.ts';
import { registerGraphBatch } from './graph-batch.ts';
import { registerGraphGroups, registerGroupsControl } from './graph-groups.ts';
import { PimGroups, registerGraphPimGroups } from './graph-pim-groups.ts';
import { Directory } from './groups-model.ts';
import { isGraphPath, registerGraphPaths } from './graph-paths.ts';
import { registerResume } from './resume.ts';
import { registerLearnSearch } from './learn.ts';
import { registerGraphServiceHealth } from './graph-service-health.ts';
import { C } from './em-model.ts';
import { SignIn } from './signin.ts';

/**
 * The Microsoft sandbox: Entra ID (tokens, discovery, keys) and Microsoft Graph entitlement
 * management on one HTTPS server, persisted in `${dataDir}/microsoft.db`, on sandbox time.
 */

export interface MicrosoftSandboxOptions {
  dataDir: string;
  tls: SandboxTls;
  port?: number;
  clock?: OffsetClock;
}

export interface MicrosoftSandbox {
  baseUrl: string;
  /** = baseUrl; token endpoint `${authorityHost}/${tenantId}/oauth2/v2.0/token`. */
  authorityHost: string;
  /** = baseUrl; Graph paths are `/v1.0/...` and `/beta/...`. */
  graphUrl: string;
  tenantId: string;
  apps: { ticketloop: { clientId: string; clientSecret: string } };
  /** The demo groups (sign-in puts their ids in the ID token's `groups`), then the resource groups. */
  groups: { id: string; displayName: string }[];
  entra: {
    verifyAccessToken(token: string, o: { audience: string | string[] }): Promise<Record<string, unknown>>;
    issueToken(o: IssueTokenOptions): Promise<string>;
  };
  faults: Faults;
  clock: OffsetClock;
  close(): Promise<void>;
}

const FAULT_MARK = '__sandboxFault';

export async function startMicrosoftSandbox(o: MicrosoftSandboxOptions): Promise<MicrosoftSandbox> {
  const clock = o.clock ?? new OffsetClock();
  const store = new DocStore(join(o.dataDir, 'microsoft.db'));
  const entra = new Entra(store, await loadSigningKeys(store), clock, TENANT_ID);
  const faults = new Faults();
  const app = createSandboxServer(o.tls);
  // First: it stamps every Graph response with its ids, and watches the routes being added.
  registerGraphPaths(app, clock);

  // One server answers both login (AADSTS bodies) and Graph (Graph envelope) paths, so injected
  // faults carry a marker that is turned into the right body once the path is known.
  registerFaults(app, faults, {
    error: (status) => ({ [FAULT_MARK]: status }),
    tooManyRequests: (retryAfter) => ({ [FAULT_MARK]: 429, retryAfter }),
  });
  app.addHook('preSerialization', async (req, reply, payload) => {
    const p = payload as Record<string, unknown> | null;
    if (!p || typeof p !== 'object' || !(FAULT_MARK in p)) return payload;
    const status = Number(p[FAULT_MARK]);
    if (isGraphPath(req.url.split('?')[0])) {
      return status === 429
        ? graphError(
            clock.now(),
            req,
            'TooManyRequests',
            'Too many requests. Retry after the time given in Retry-After.',
          )
        : graphError(
            clock.now(),
            req,
            status === 503 ? 'serviceNotAvailable' : 'generalException',
            'Injected sandbox fault.',
          );
    }
    return status === 429
      ? aadError(
          clock.now(),
          'temporarily_unavailable',
          90055,
          'The request is being throttled. Retry after the time given in Retry-After.',
        )
      : aadError(
          clock.now(),
          'temporarily_unavailable',
          90033,
          'A transient error has occurred. Please try again (injected sandbox fault).',
        );
  });

  for (const u of DEMO_USERS) if (!store.get(C.users, u.id)) store.put(C.users, u.id, u);
  const engine = new EmEngine(store, entra, clock, faults, o.tls.ca);
  const directory = new Directory(store, entra);
  const pim = new PimGroups({ store, entra, clock, directory });
  // PIM ends memberships on time even when nobody asks Graph (sign-in reads the groups too).
  const pimTimer = setInterval(() => pim.sweep(), 5_000);
  pimTimer.unref();

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof GraphFailure) return sendGraphFailure(reply, clock.now(), req, err);
    if (isGraphPath(req.url.split('?')[0])) {
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      return status < 500
        ? sendGraphFailure(reply, clock.now(), req, new GraphFailure(400, 'BadRequest', (err as Error).message))
        : sendGraphFailure(
            reply,
            clock.now(),
            req,
            new GraphFailure(500, 'generalException', 'An internal server error occurred.'),
          );
    }
    return reply.send(err);
  });

  let baseUrl = '';
  const signIn = new SignIn(entra, store);
  registerEntraRoutes(app, entra, signIn);
  signIn.register(app);
  registerGraphEm(app, { store, entra, engine, clock }, () => baseUrl);
  registerGraphDirectory(app, { store, entra }, () => baseUrl);
  registerGraphGroups(app, { entra, directory, clock, sweep: () => pim.sweep() }, () => baseUrl);
  registerGraphPimGroups(app, { store, entra, clock, directory }, pim, () => baseUrl);
  registerGroupsControl(app, directory);
  registerGraphBatch(app, { entra, clock });
  registerGraphServiceHealth(app, { store, entra, clock }, () => baseUrl);
  registerResume(app, { store, entra, engine, clock });
  registerEmRoles(app, { store, entra }, () => baseUrl);
  registerLearnSearch(app);
  registerClock(app, clock, async () => {
    pim.sweep();
    engine.expireAssignments();
    await engine.checkTimeouts();
  });

  baseUrl = await listen(app, o.port ?? 0);
  entra.authorityHost = baseUrl;

  return {
    baseUrl,
    authorityHost: baseUrl,
    graphUrl: baseUrl,
    tenantId: TENANT_ID,
    apps: { ticketloop: { clientId: TICKETLOOP_APP.clientId, clientSecret: TICKETLOOP_APP.clientSecret } },
    groups: [...DEMO_GROUPS, ...RESOURCE_GROUPS].map(({ id, displayName }) => ({ id, displayName })),
    entra: {
      verifyAccessToken: (token, v) => entra.verifyAccessToken(token, v),
      issueToken: (t) => entra.issueToken(t),
    },
    faults,
    clock,
    async close() {
      clearInterval(pimTimer);
      await engine.close();
      await app.close();
      store.close();
    },
  };
}
