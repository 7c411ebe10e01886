import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OffsetClock, registerClock } from '../shared/clock.ts';
import { Faults, registerFaults } from '../shared/faults.ts';
import { createSandboxServer, listen } from '../shared/server.ts';
import type { SandboxTls } from '../shared/tls.ts';
import { ArmError, faultBody, throttledBody } from './arm.ts';
import { registerAdmin } from './admin.ts';
import { registerArmRoutes } from './routes.ts';
import { DEMO, seedDemo } from './seed.ts';
import { AzureStore } from './store.ts';

export { DEMO } from './seed.ts';
export { ASSESSMENT_API_VERSIONS, GOVERNANCE_API_VERSIONS, ARM_AUDIENCE } from './arm.ts';

/**
 * Azure Resource Manager sandbox for Defender for Cloud: assessments, assessment metadata and
 * governance assignments over HTTPS, persisted in `${dataDir}/azure.db`, time from an OffsetClock.
 */

export interface AzureSandboxOptions {
  dataDir: string;
  tls: SandboxTls;
  port?: number;
  clock?: OffsetClock;
  /** Validates a bearer token (signature, aud https://management.azure.com, exp); throws when invalid. */
  verifyBearer(token: string): Promise<Record<string, unknown>>;
  /** Seed the small demo tenant into an empty database (default true). */
  seedDemo?: boolean;
}

export interface AzureSandbox {
  baseUrl: string;
  /** Ids in the seeded demo tenant. */
  demo: typeof DEMO;
  faults: Faults;
  clock: OffsetClock;
  close(): Promise<void>;
}

const ADMIN = /^\/_sandbox(\/|$)/;

/** ARM answers 401 with an error code and a WWW-Authenticate challenge pointing at Entra. */
function unauthorized(reply: FastifyReply, code: string, message: string): FastifyReply {
  return reply
    .code(401)
    .header(
      'www-authenticate',
      `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
    )
    .send({ error: { code, message } });
}

function tokenExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export async function startAzureSandbox(o: AzureSandboxOptions): Promise<AzureSandbox> {
  const clock = o.clock ?? new OffsetClock();
  const store = new AzureStore(join(o.dataDir, 'azure.db'));
  if ((o.seedDemo ?? true) && store.subscriptions().length === 0) seedDemo(store, clock.now());

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

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (ADMIN.test(req.url)) return;
    const header = req.headers.authorization;
    if (!header)
      return unauthorized(
        reply,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
      );
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m)
      return unauthorized(
        reply,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
    const exp = tokenExpiry(m[1]);
    if (exp !== undefined && exp <= clock.now()) {
      return unauthorized(
        reply,
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${new Date(exp).toUTCString()}' is earlier than current UTC time '${new Date(clock.now()).toUTCString()}'.`,
      );
    }
    try {
      await o.verifyBearer(m[1]);
    } catch (e) {
      return unauthorized(
        reply,
        'InvalidAuthenticationToken',
        `The access token is invalid. ${(e as Error).message ?? ''}`.trim(),
      );
    }
  });

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

  registerAdmin(app, { store, clock });
  registerArmRoutes(app, { store, clock });

  const baseUrl = await listen(app, o.port ?? 0);
  return {
    baseUrl,
    demo: DEMO,
    faults,
    clock,
    async close() {
      await app.close();
      store.close();
    },
  };
}
