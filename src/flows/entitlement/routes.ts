import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import { resolveSecret } from '../../config/secrets.ts';
import { createEntraTokenVerifier, TokenRejected } from '../../connectors/microsoft/identity.ts';
import type { GroupIntake } from '../../engine/intake.ts';
import { cachedTokenVerifier, rawBodyHmac } from '../../http/auth.ts';
import { errorEnvelope, HttpProblem } from '../../http/server.ts';
import type { EntitlementIntegration } from './config.ts';
import type { CalloutEvent } from './flow.ts';
import { resolveStates } from './states.ts';
import { CalloutInvalid, CONNECTION_TEST, parseCallout, ticketContent, type Callout } from './payload.ts';

/**
 * The callout endpoints (contract: docs/entitlement.md).
 *   POST /callouts/entitlement            Entra bearer token, verified locally with cached keys
 *   POST /callouts/entitlement/logic-app  HMAC over a timestamp and the raw body, from the Logic App forwarder
 * Auth is checked before the body is parsed, so a forged request costs little and stores nothing.
 */

export const CALLOUT_PATH = '/callouts/entitlement';
export const LOGIC_APP_PATH = '/callouts/entitlement/logic-app';
export const SIGNATURE_HEADER = 'x-ticketloop-signature';
/** Unix seconds, covered by the signature (http/auth.ts has the scheme). */
export const TIMESTAMP_HEADER = 'x-ticketloop-timestamp';
const BODY_LIMIT = 256 * 1024;

type Claims = Record<string, unknown>;
type Caller = { via: 'entra'; claims: Claims } | { via: 'logic-app'; secrets: Set<string> };

const accepted = z.object({ status: z.enum(['accepted', 'duplicate']), id: z.string() }).describe('stored durably');
const connectionTest = z.object({ status: z.literal('connection-test') });
// Documented shape of Entra's callout (PascalCase); camelCase keys are accepted too and validated in the handler.
const named = z
  .object({ Id: z.string().nullish(), DisplayName: z.string().nullish(), Description: z.string().nullish() })
  .loose()
  .nullish();
const calloutDoc = z
  .object({
    AccessPackageAssignmentRequestId: z.string().nullish(),
    CallbackUriPath: z.string().nullish(),
    CustomExtensionStageInstanceId: z.string().nullish(),
    Stage: z
      .string()
      .nullish()
      .describe(
        'AssignmentRequestCreated | …Approved | …Granted | …Removed | CustomExtensionConnectionTest (any case)',
      ),
    RequestType: z.string().nullish(),
    CallbackConfiguration: z.object({ DurationBeforeTimeout: z.string().nullish() }).loose().nullish(),
    AccessPackage: named,
    AccessPackageCatalog: named,
    Assignment: z.object({}).loose().nullish(),
    Requestor: named,
  })
  .loose();

export interface CalloutRouteDeps {
  app: Ticketloop;
  integrations: () => EntitlementIntegration[];
  intake: GroupIntake;
  /** Callout counter by outcome (for /metrics). */
  count(outcome: string): void;
}

const matches = (list: string[], id: string | undefined) =>
  list.includes('*') || (id !== undefined && list.some((x) => x.toLowerCase() === id.toLowerCase()));

export function audiencesOf(i: EntitlementIntegration, app: Ticketloop): string[] {
  const clientId = app.config.microsoft?.clientId;
  return i.inbound.audiences ?? (clientId ? [clientId, `api://${clientId}`] : []);
}

export function registerCalloutRoutes(d: CalloutRouteDeps): void {
  const { app } = d;
  const ms = app.config.microsoft!;
  const all = d.integrations();
  const verifier = createEntraTokenVerifier({
    authorityHost: ms.authorityHost,
    tenantId: ms.tenantId,
    audiences: [...new Set(all.flatMap((i) => audiencesOf(i, app)))],
    allowedAppIds: [...new Set(all.flatMap((i) => i.inbound.allowedAppIds))],
    ca: ms.caFile ? readFileSync(ms.caFile) : undefined,
    clock: app.clock,
  });
  const verify = cachedTokenVerifier<Claims>(
    (h) => verifier.verify(h),
    () => app.clock.now(),
  );
  app.http.addHook('onClose', async () => verifier.close());
  const secretOf = new Map(
    all.flatMap((i) =>
      i.inbound.logicAppHmacSecret ? [[i.name, resolveSecret(i.inbound.logicAppHmacSecret).reveal()] as const] : [],
    ),
  );
  // Each item keeps the mapping it was received under (a later config change does not flip a decision).
  const statesOf = new Map(all.map((i) => [i.name, resolveStates(i.table, i.states)]));
  const hmacSecrets = [...new Set(secretOf.values())];

  const unauthorized = (reason: string, message: string) => {
    d.count('unauthorized');
    return new HttpProblem(401, 'unauthorized', message, [{ path: 'headers', message: reason }]);
  };

  async function handle(req: FastifyRequest, caller: Caller) {
    let c: Callout;
    try {
      c = parseCallout(req.body);
    } catch (e) {
      if (!(e instanceof CalloutInvalid)) throw e;
      d.count('invalid');
      throw new HttpProblem(400, 'invalid_request', e.message, e.details);
    }
    if (c.stage === CONNECTION_TEST) {
      d.count('connection-test');
      return { code: 200, body: { status: 'connection-test' as const } };
    }
    const integ = d
      .integrations()
      .find((i) => i.enabled && matches(i.accessPackages, c.accessPackageId) && matches(i.catalogs, c.catalogId));
    if (!integ) {
      d.count('unmatched');
      throw new HttpProblem(
        422,
        'no_matching_integration',
        `no enabled entitlement integration handles access package ${c.accessPackageId ?? '(none)'} in catalog ${c.catalogId ?? '(none)'}`,
      );
    }
    // The token / signature was checked against every integration; it must also fit this one.
    if (caller.via === 'entra') {
      const aud = Array.isArray(caller.claims.aud) ? caller.claims.aud : [caller.claims.aud];
      if (!aud.some((a) => audiencesOf(integ, app).includes(String(a))))
        throw unauthorized('audience', `the token is not meant for integration ${integ.name}`);
      const appId = String(caller.claims.appid ?? caller.claims.azp ?? '').toLowerCase();
      if (!integ.inbound.allowedAppIds.some((a) => a.toLowerCase() === appId))
        throw unauthorized('appid', `the calling application is not allowed for integration ${integ.name}`);
    } else {
      const secret = secretOf.get(integ.name);
      if (!secret || !caller.secrets.has(secret))
        throw unauthorized('signature', `the signature does not use integration ${integ.name}'s secret`);
    }
    const event: CalloutEvent = {
      type: 'callout',
      integration: integ.name,
      stage: c.stage,
      ...(c.requestId ? { requestId: c.requestId } : {}),
      ...(c.callbackUriPath ? { callbackUriPath: c.callbackUriPath } : {}),
      opensTicket: integ.stages.includes(c.stage),
      table: integ.table,
      ticket: ticketContent(c, integ.fields, integ.removalFields, app.clock.now()),
      timeoutMs: c.timeoutMs,
      onTimeout: integ.onTimeout,
      resumeSource: integ.resumeSource,
      states: statesOf.get(integ.name)!,
      via: caller.via,
    };
    const r = await d.intake.submit(c.stageInstanceId, event satisfies CalloutEvent);
    d.count(r.created ? 'accepted' : 'duplicate');
    return {
      code: 202,
      body: { status: r.created ? ('accepted' as const) : ('duplicate' as const), id: c.stageInstanceId },
    };
  }

  const response = {
    200: connectionTest,
    202: accepted,
    400: errorEnvelope,
    401: errorEnvelope,
    422: errorEnvelope,
    503: errorEnvelope,
  };
  // `calloutDoc` documents the body in /openapi.json; parseCallout validates it (either casing) once.
  const documentOnly = () => (data: unknown) => ({ value: data });

  app.http.post(
    CALLOUT_PATH,
    {
      bodyLimit: BODY_LIMIT,
      validatorCompiler: documentOnly,
      schema: {
        body: calloutDoc,
        response,
        tags: ['entitlement'],
        summary: 'Entra entitlement-management custom extension callout (bearer token)',
      },
      onRequest: async (req) => {
        try {
          (req as FastifyRequest & { caller?: Caller }).caller = {
            via: 'entra',
            claims: await verify(req.headers.authorization),
          };
        } catch (e) {
          if (e instanceof TokenRejected) throw unauthorized(e.reason, e.message);
          throw e;
        }
      },
    },
    async (req, reply) => {
      const r = await handle(req, (req as unknown as { caller: Caller }).caller);
      return r.code === 200
        ? reply.code(200).send(r.body as { status: 'connection-test' })
        : reply.code(202).send(r.body as z.infer<typeof accepted>);
    },
  );

  app.http.post(
    LOGIC_APP_PATH,
    {
      bodyLimit: BODY_LIMIT,
      validatorCompiler: documentOnly,
      schema: {
        body: calloutDoc,
        response,
        tags: ['entitlement'],
        summary:
          'The same callout forwarded by a Logic App (validates Entra PoP) with X-Ticketloop-Timestamp: <unix seconds> and X-Ticketloop-Signature: sha256=<hex HMAC of "<timestamp>.<raw body>">',
      },
      // Verify the signature over the raw bytes before anything parses them.
      preParsing: rawBodyHmac({
        header: SIGNATURE_HEADER,
        timestampHeader: TIMESTAMP_HEADER,
        now: () => app.clock.now(),
        bodyLimit: BODY_LIMIT,
        secrets: () => hmacSecrets,
        reject: (message) => unauthorized('signature', message),
        accept: (req, secrets) =>
          ((req as FastifyRequest & { caller?: Caller }).caller = { via: 'logic-app', secrets }),
      }) as never,
    },
    async (req, reply) => {
      const r = await handle(req, (req as unknown as { caller: Caller }).caller);
      return r.code === 200
        ? reply.code(200).send(r.body as { status: 'connection-test' })
        : reply.code(202).send(r.body as z.infer<typeof accepted>);
    },
  );
}
