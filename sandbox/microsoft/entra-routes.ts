import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeProtectedHeader, errors as joseErrors, importX509, jwtVerify } from 'jose';
import { TENANT_DOMAIN } from './constants.ts';
import { AadFailure, aadError } from './aad.ts';
import type { Entra, EntraApp, RegisterAppInput } from './entra.ts';
import type { SignIn } from './signin.ts';

export { aadError };

/**
 * Entra's HTTP surface: v2 and v1 token endpoints (client credentials with a secret, HTTP Basic
 * or a certificate-signed client assertion), OpenID metadata, JWKS, MSAL instance discovery, and
 * the admin endpoints that register apps.
 */

export type Form = Record<string, string | undefined>;

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

function basicAuth(req: FastifyRequest): { id?: string; secret?: string } {
  const h = req.headers.authorization;
  if (!h || !/^basic /i.test(h)) return {};
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return {};
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
}

/** `signIn` adds the authorization_code grant (sign-in of users: signin.ts). */
export function registerEntraRoutes(app: FastifyInstance, entra: Entra, signIn?: SignIn): void {
  const host = () => entra.authorityHost;
  const missing = (p: string) =>
    new AadFailure(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${p}'.`);

  async function verifyAssertion(client: EntraApp, assertion: string, tenant: string): Promise<void> {
    const bad = (code: number, msg: string) => new AadFailure(401, 'invalid_client', code, msg);
    let header;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      throw new AadFailure(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
    }
    const alg = String(header.alg);
    if (alg !== 'RS256' && alg !== 'PS256')
      throw bad(5002738, `Invalid JWT token. '${alg}' is not a supported signature algorithm.`);
    const s256 = header['x5t#S256'] as string | undefined;
    const candidates = client.certificates.filter((c) =>
      s256 ? c.x5tS256 === s256 : header.x5t ? c.x5t === header.x5t : true,
    );
    if (candidates.length === 0) {
      throw bad(
        700027,
        `Client assertion failed signature validation. (Reason - The key was not found.) Thumbprint of key used by client: '${header.x5t ?? s256 ?? ''}'.`,
      );
    }
    const audiences = [...new Set([tenant, entra.tenantId])].flatMap((t) => [
      `${host()}/${t}/oauth2/v2.0/token`,
      `${host()}/${t}/oauth2/token`,
    ]);
    let lastError: unknown;
    for (const cert of candidates) {
      try {
        const { payload } = await jwtVerify(assertion, await importX509(cert.pem, alg), {
          algorithms: [alg],
          currentDate: new Date(entra.clock.now()),
          clockTolerance: 300,
          requiredClaims: ['exp', 'aud', 'iss', 'sub'],
        });
        if (payload.iss !== client.clientId || payload.sub !== client.clientId) {
          throw bad(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
        }
        const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        if (!aud.some((a) => a && audiences.includes(a))) {
          throw bad(700027, 'Client assertion audience claim does not match Realm issuer.');
        }
        if (payload.jti && entra.assertionReplayed(payload.jti, payload.exp!)) {
          throw bad(700027, 'Client assertion has already been used (jti replay).');
        }
        return;
      } catch (e) {
        if (e instanceof AadFailure) throw e;
        if (
          e instanceof joseErrors.JWTExpired ||
          (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'nbf')
        ) {
          throw bad(700024, 'Client assertion is not within its valid time range.');
        }
        lastError = e;
      }
    }
    throw bad(700027, `Client assertion failed signature validation. (${(lastError as Error)?.message ?? 'invalid'})`);
  }

  /** The calling client: its id, registration and how it proved itself (acr 1 secret, 2 certificate). */
  async function authenticateClient(
    req: FastifyRequest,
    form: Form,
    tenant: string,
  ): Promise<{ clientId: string; client: EntraApp; acr: '1' | '2' }> {
    const basic = basicAuth(req);
    const clientId = (form.client_id ?? basic.id)?.toLowerCase();
    if (!clientId) throw missing('client_id');
    const client = entra.getApp(clientId);
    if (!client) {
      throw new AadFailure(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${TENANT_DOMAIN}'.`,
      );
    }
    let acr: '1' | '2' = '1';
    if (form.client_assertion) {
      if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        throw new AadFailure(
          400,
          'invalid_request',
          50027,
          "client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
        );
      }
      await verifyAssertion(client, form.client_assertion, tenant);
      acr = '2';
    } else {
      const secret = form.client_secret ?? basic.secret;
      if (!secret) {
        throw new AadFailure(
          401,
          'invalid_client',
          7000218,
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }
      if (!entra.checkSecret(client, secret)) {
        throw new AadFailure(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
    }
    return { clientId, client, acr };
  }

  async function token(req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply, v: 1 | 2) {
    try {
      const tenant = req.params.tenant;
      if (!entra.knowsTenant(tenant)) {
        throw new AadFailure(
          400,
          'invalid_request',
          90002,
          `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        );
      }
      const form: Form =
        req.body && typeof req.body === 'object' && !req.headers['content-type']?.includes('json')
          ? (req.body as Form)
          : {};
      if (!form.grant_type) throw missing('grant_type');
      if (
        form.grant_type !== 'client_credentials' &&
        !(form.grant_type === 'authorization_code' && signIn && v === 2)
      ) {
        throw new AadFailure(
          400,
          'unsupported_grant_type',
          70003,
          `The app requested an unsupported grant type '${form.grant_type}'.`,
        );
      }
      const { clientId, client, acr } = await authenticateClient(req, form, tenant);
      if (form.grant_type === 'authorization_code') {
        reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache');
        return await signIn!.redeem(client, form);
      }
      let resource: string;
      if (v === 2) {
        if (!form.scope) throw missing('scope');
        const scopes = form.scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s));
        if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
          throw new AadFailure(
            400,
            'invalid_scope',
            1002012,
            `The provided value for scope ${form.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
          );
        }
        resource = scopes[0].slice(0, -'/.default'.length);
      } else {
        if (!form.resource) throw missing('resource');
        resource = form.resource;
      }
      const resolved = entra.resolveResource(resource, client);
      if (!resolved) {
        throw new AadFailure(
          400,
          'invalid_resource',
          500011,
          `The resource principal named ${resource} was not found in the tenant named ${TENANT_DOMAIN}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
        );
      }
      const lifetime = 3599;
      const accessToken = await entra.issueToken({
        clientId,
        audience: resolved.aud,
        version: resolved.version,
        roles: resolved.roles,
        acr,
        lifetimeSec: lifetime,
      });
      reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache');
      if (v === 2)
        return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken };
      const now = Math.floor(entra.clock.now() / 1000);
      // The v1 endpoint answers numbers as strings.
      return {
        token_type: 'Bearer',
        expires_in: String(lifetime),
        ext_expires_in: String(lifetime),
        expires_on: String(now + lifetime),
        not_before: String(now - 300),
        resource,
        access_token: accessToken,
      };
    } catch (e) {
      if (!(e instanceof AadFailure)) throw e;
      const clientRequestId = req.headers['client-request-id'];
      return reply
        .code(e.status)
        .send(
          aadError(
            entra.clock.now(),
            e.error,
            e.code,
            e.message,
            typeof clientRequestId === 'string' ? clientRequestId : undefined,
          ),
        );
    }
  }

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/token', (req, reply) => token(req, reply, 2));
  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/token', (req, reply) => token(req, reply, 1));

  // ---- discovery -----------------------------------------------------------------------------

  const tenantOr = (t: string) =>
    entra.knowsTenant(t) ? entra.tenantId : t === 'common' || t === 'organizations' ? '{tenantid}' : undefined;

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
    const tid = tenantOr(req.params.tenant);
    if (!tid)
      return reply
        .code(400)
        .send(aadError(entra.clock.now(), 'invalid_tenant', 90002, `Tenant '${req.params.tenant}' not found.`));
    const base = `${host()}/${tid === '{tenantid}' ? req.params.tenant : tid}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${host()}/${tid}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'nbf',
        'tid',
        'oid',
        'azp',
        'azpacr',
        'roles',
        'ver',
        'uti',
        'idtyp',
        'name',
        'preferred_username',
        'email',
        'groups',
        'nonce',
      ],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  });

  app.get<{ Params: { tenant: string } }>('/:tenant/.well-known/openid-configuration', async (req, reply) => {
    const tid = tenantOr(req.params.tenant);
    if (!tid)
      return reply
        .code(400)
        .send(aadError(entra.clock.now(), 'invalid_tenant', 90002, `Tenant '${req.params.tenant}' not found.`));
    const base = `${host()}/${tid === '{tenantid}' ? req.params.tenant : tid}`;
    return {
      token_endpoint: `${base}/oauth2/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
      scopes_supported: ['openid'],
      issuer: `https://sts.windows.net/${tid}/`,
      authorization_endpoint: `${base}/oauth2/authorize`,
      end_session_endpoint: `${base}/oauth2/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'appidacr', 'roles', 'ver'],
      cloud_instance_name: 'microsoftonline.com',
      msgraph_host: 'graph.microsoft.com',
    };
  });

  // v2 key sets carry each key's `issuer`; the v1 set does not.
  const keySet = (issuer?: string) => ({ keys: entra.keys.map((k) => (issuer ? { ...k.jwk, issuer } : k.jwk)) });
  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', async (req, reply) => {
    const tid = tenantOr(req.params.tenant);
    if (!tid)
      return reply
        .code(400)
        .send(aadError(entra.clock.now(), 'invalid_tenant', 90002, `Tenant '${req.params.tenant}' not found.`));
    return keySet(`${host()}/${tid}/v2.0`);
  });
  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/keys', async (req, reply) => {
    if (!tenantOr(req.params.tenant))
      return reply
        .code(400)
        .send(aadError(entra.clock.now(), 'invalid_tenant', 90002, `Tenant '${req.params.tenant}' not found.`));
    return keySet();
  });

  // MSAL's instance discovery: every alias of this cloud is the sandbox host itself.
  app.get<{ Querystring: { authorization_endpoint?: string } }>('/common/discovery/instance', async (req) => {
    const h = new URL(host()).host;
    let tenant = 'common';
    try {
      tenant = new URL(req.query.authorization_endpoint ?? '').pathname.split('/')[1] || 'common';
    } catch {
      /* keep common */
    }
    return {
      tenant_discovery_endpoint: `${host()}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: h, preferred_cache: h, aliases: [h] }],
    };
  });

  // ---- admin ---------------------------------------------------------------------------------

  const publicApp = (a: EntraApp) => ({
    clientId: a.clientId,
    displayName: a.displayName,
    servicePrincipalId: a.oid,
    roles: a.roles,
    appRoles: a.appRoles,
    accessTokenAcceptedVersion: a.accessTokenAcceptedVersion,
    identifierUris: a.identifierUris,
    redirectUris: a.redirectUris ?? [],
    secrets: a.secretHashes.length,
    certificates: a.certificates.map((c) => ({ x5t: c.x5t, 'x5t#S256': c.x5tS256 })),
  });
  app.get('/_sandbox/entra/apps', async () => ({ value: entra.listApps().map(publicApp) }));
  app.post('/_sandbox/entra/apps', async (req, reply) => {
    const { app: a, clientSecret } = entra.registerApp((req.body ?? {}) as RegisterAppInput);
    return reply
      .code(201)
      .send({ ...publicApp(a), tenantId: entra.tenantId, ...(clientSecret ? { clientSecret } : {}) });
  });
  // Mint a token directly (tests, sibling sandboxes in other processes).
  app.post('/_sandbox/entra/token', async (req) => {
    const b = (req.body ?? {}) as { clientId: string; audience: string; version?: 1 | 2; roles?: string[] };
    return { access_token: await entra.issueToken(b) };
  });
}
