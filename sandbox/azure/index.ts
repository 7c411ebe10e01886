import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OffsetClock, registerClock } from '../shared/clock.ts';
import { Faults, registerFaults } from '../shared/faults.ts';
import { createSandboxServer, listen } from '../shared/server.ts';
import type { SandboxTls } from '../shared/tls.ts';
import { ArmError, faultBody, throttledBody } from './arm.ts';
import { registerAdmin } from './admin.ts';
import { roleAssignmentRoutes } from './assignments.ts';
import { registerAuthorizationAdmin } from './authz-admin.ts';
import { AuthorizationStore } from './authz-store.ts';
import { registerArmAuth } from './auth.ts';
import { registerArmDispatch } from './dispatch.ts';
import { Hierarchy, type Tenant } from './hierarchy.ts';
import { pimRoutes } from './pim.ts';
import { Rbac } from './rbac.ts';
import { resourceRoutes } from './resources.ts';
import { RoleCatalog, roleDefinitionRoutes } from './roles.ts';
import { securityRoutes } from './routes.ts';
import { supportRoutes } from './support.ts';
import { registerSupportAdmin } from './support-admin.ts';
import { DEMO, DEMO_TENANT, ensureDemoResourceGroups, seedDemo } from './seed.ts';
import { AzureStore } from './store.ts';

export { DEMO, DEMO_TENANT } from './seed.ts';
export { ASSESSMENT_API_VERSIONS, GOVERNANCE_API_VERSIONS, ARM_AUDIENCE, ARM_AUDIENCES } from './arm.ts';

/**
 * Azure Resource Manager sandbox for Defender for Cloud: assessments, assessment metadata and
 * governance assignments, plus the subscription / tenant / resource group / management group reads
 * around them, over HTTPS with ARM's auth and a minimal RBAC. State in `${dataDir}/azure.db`, time
 * from an OffsetClock. See README.md.
 */

export interface AzureSandboxOptions {
  dataDir: string;
  tls: SandboxTls;
  port?: number;
  clock?: OffsetClock;
  /** Validates a bearer token's signature, issuer and tenant; throws when it is not genuine. */
  verifyBearer(token: string): Promise<Record<string, unknown>>;
  /** The tenant the subscriptions belong to (default: the Microsoft sandbox's demo tenant). */
  tenant?: Partial<Tenant>;
  /** Seed the small demo tenant into an empty database (default true). */
  seedDemo?: boolean;
}

export interface AzureSandbox {
  baseUrl: string;
  /** Ids in the seeded demo tenant. */
  demo: typeof DEMO;
  tenantId: string;
  faults: Faults;
  clock: OffsetClock;
  close(): Promise<void>;
}

const ADMIN = /^\/_sandbox(\/|$)/;

export async function startAzureSandbox(o: AzureSandboxOptions): Promise<AzureSandbox> {
  const clock = o.clock ?? new OffsetClock();
  const store = new AzureStore(join(o.dataDir, 'azure.db'));
  const hierarchy = new Hierarchy(store, { ...DEMO_TENANT, ...o.tenant });
  if ((o.seedDemo ?? true) && store.subscriptions().length === 0) seedDemo(store, clock.now());
  hierarchy.ensureRoot(new Date(clock.now()).toISOString());
  ensureDemoResourceGroups(store);
  const rbac = new Rbac(store, hierarchy);
  const authz = new AuthorizationStore(store);
  const roleCtx = { store, authz, hierarchy, clock };
  const roles = new RoleCatalog(roleCtx);
  const authzCtx = { ...roleCtx, roles };

  const app = createSandboxServer(o.tls);
  const faults = new Faults();

  // Correlation headers first, so injected faults carry them too.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (ADMIN.test(req.url)) return;
    const correlation = req.headers['x-ms-correlation-request-id'];
    reply.header('x-ms-request-id', randomUUID());
    reply.header('x-ms-correlation-request-id', typeof correlation === 'string' ? correlation : randomUUID());
    const kind = req.method === 'GET' ? 'reads' : 'writes';
    reply.header(`x-ms-ratelimit-remaining-subscription-${kind}`, kind === 'reads' ? '11999' : '1199');
  });

  registerFaults(app, faults, {
    error: faultBody,
    tooManyRequests: throttledBody,
    rateLimitHeaders: () => ({ 'x-ms-ratelimit-remaining-subscription-reads': '0' }),
  });
  registerClock(app, clock);

  registerArmAuth(app, { clock, verifyBearer: o.verifyBearer, skip: ADMIN });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    const e =
      status === 500
        ? new ArmError(500, 'InternalServerError', `The sandbox failed: ${err.message}`)
        : new ArmError(
            status,
            'InvalidRequestContent',
            `The request content was invalid and could not be deserialized: ${err.message}`,
          );
    return reply.code(e.status).send(e.body());
  });

  registerAdmin(app, { store, clock, hierarchy, rbac });
  registerAuthorizationAdmin(app, authzCtx);
  registerSupportAdmin(app, { store, clock });
  registerArmDispatch(
    app,
    [
      ...roleDefinitionRoutes(roleCtx, roles),
      ...roleAssignmentRoutes(authzCtx),
      ...pimRoutes(authzCtx),
      ...resourceRoutes({ store, hierarchy, rbac }),
      ...securityRoutes({ store, clock, hierarchy }),
      ...supportRoutes({ store, clock }),
    ],
    rbac,
  );

  const baseUrl = await listen(app, o.port ?? 0);
  return {
    baseUrl,
    demo: DEMO,
    tenantId: hierarchy.tenant.tenantId,
    faults,
    clock,
    async close() {
      await app.close();
      store.close();
    },
  };
}
