import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { startHarness, decodeJwt, type Harness } from './helpers.ts';
import { startReceiver } from './receiver.ts';
import { selfSignedCert } from '../../sandbox/microsoft/keys.ts';
import { DEMO_USERS, EM_APP_ID } from '../../sandbox/microsoft/constants.ts';
import {
  EntraTokenSource,
  TokenAcquisitionError,
  TokenRejected,
  createEntraTokenVerifier,
} from '../../src/connectors/microsoft/identity.ts';
import { GRAPH_SCOPE, GraphClient } from '../../src/connectors/microsoft/graph.ts';
import { HttpError } from '../../src/engine/errors.ts';
import { nextAttemptAt } from '../../src/engine/retry.ts';
import {
  EntitlementGraph,
  ResumeNotWaiting,
  buildResumeBody,
  resumePath,
} from '../../src/flows/entitlement/graph-em.ts';

const POLICY = { backoffBaseMs: 1000, backoffMaxMs: 1000 };

const RESOURCE_ID = 'c0ffee00-7e57-4c1a-9a11-5a4db0c1e7a1';

function source(
  h: Harness,
  o: { clientId?: string; clientSecret?: string; certificate?: { certificatePem: string; privateKeyPem: string } } = {},
) {
  return new EntraTokenSource({
    authorityHost: h.sb.authorityHost,
    tenantId: h.sb.tenantId,
    clientId: o.clientId ?? h.sb.apps.ticketloop.clientId,
    ...(o.certificate
      ? { certificate: o.certificate }
      : { clientSecret: o.clientSecret ?? h.sb.apps.ticketloop.clientSecret }),
    ca: h.tls.ca,
  });
}

test('EntraTokenSource: MSAL with secret or certificate, cached, invalidated on 401, clear errors', async () => {
  const h = await startHarness();
  try {
    const s = source(h);
    const t1 = await s.getToken(GRAPH_SCOPE);
    assert.equal(await s.getToken(GRAPH_SCOPE), t1, 'cached');
    s.invalidate(GRAPH_SCOPE);
    const t2 = await s.getToken(GRAPH_SCOPE);
    assert.notEqual(decodeJwt(t2).payload.uti, decodeJwt(t1).payload.uti, 'fresh after invalidate');
    const arm = await s.authProvider('https://management.azure.com/.default').headers();
    assert.equal(decodeJwt(arm.authorization.slice(7)).payload.aud, 'https://management.azure.com');
    await s.close();

    const cert = selfSignedCert('ticketloop-client', 1);
    const reg = await h.call('POST', '/_sandbox/entra/apps', {
      json: { certificatePem: cert.certPem, roles: ['EntitlementManagement.ReadWrite.All'] },
    });
    const c = source(h, {
      clientId: reg.body.clientId,
      certificate: { certificatePem: cert.certPem, privateKeyPem: cert.privateKeyPem },
    });
    const ct = decodeJwt(await c.getToken(GRAPH_SCOPE)).payload;
    assert.equal(ct.appid, reg.body.clientId);
    assert.equal(ct.appidacr, '2');
    await c.close();

    const bad = source(h, { clientSecret: 'not-the-secret' });
    await assert.rejects(bad.getToken(GRAPH_SCOPE), (e: unknown) => {
      assert.ok(e instanceof TokenAcquisitionError);
      assert.equal(e.retryable, false);
      assert.equal(e.errorCode, 'invalid_client');
      assert.equal(e.status, 401);
      assert.doesNotMatch(e.message, /not-the-secret/);
      return true;
    });
    // Through an HttpClient: a permanent engine error naming the AADSTS code, never the secret.
    const badGraph = new EntitlementGraph(
      new GraphClient({ graphUrl: h.sb.graphUrl, auth: bad.authProvider(GRAPH_SCOPE), ca: h.tls.ca }),
    );
    await assert.rejects(badGraph.getAssignmentRequest(randomUUID()), (e: unknown) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.equal(nextAttemptAt(e, 1, 0, POLICY), null, 'a wrong secret is never retried');
      assert.match(e.message, /AADSTS7000215/);
      assert.doesNotMatch(e.message, /not-the-secret/);
      return true;
    });
    await badGraph.graph.close();
    await bad.close();
  } finally {
    await h.close();
  }
});

test('verifier accepts a callout token and rejects every forged variant with a reason', async () => {
  const h = await startHarness();
  const verifier = createEntraTokenVerifier({
    authorityHost: h.sb.authorityHost,
    tenantId: h.sb.tenantId,
    audiences: [RESOURCE_ID],
    allowedAppIds: [EM_APP_ID],
    ca: h.tls.ca,
  });
  try {
    const issue = (o: Record<string, unknown> = {}) =>
      h.sb.entra.issueToken({ clientId: EM_APP_ID, audience: RESOURCE_ID, version: 1, ...o });
    const good = await verifier.verify(`Bearer ${await issue()}`);
    assert.equal(good.appid, EM_APP_ID);
    const v2 = await verifier.verify(`Bearer ${await issue({ version: 2 })}`);
    assert.equal(v2.azp, EM_APP_ID);

    const rejects = async (header: string | undefined, reason: string) =>
      assert.rejects(
        verifier.verify(header),
        (e: unknown) => e instanceof TokenRejected && e.reason === reason,
        reason,
      );

    await rejects(undefined, 'missing');
    await rejects('Basic abc', 'malformed');
    await rejects(`Bearer ${await issue({ claims: { iss: 'https://sts.windows.net/evil/' } })}`, 'issuer');
    await rejects(`Bearer ${await issue({ audience: 'https://graph.microsoft.com' })}`, 'audience');
    await rejects(`Bearer ${await issue({ clientId: randomUUID() })}`, 'appid');
    const otherTenant = randomUUID();
    await rejects(
      `Bearer ${await issue({ claims: { tid: otherTenant, iss: `https://sts.windows.net/${otherTenant}/` } })}`,
      'tenant',
    );
    await rejects(`Bearer ${await issue({ lifetimeSec: -3600 })}`, 'expired');

    const real = await issue();
    const [hdr, payload] = real.split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    await rejects(`Bearer ${unsigned}`, 'algorithm');
    const kid = decodeJwt(real).header.kid;
    const claims = decodeJwt(real).payload;
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid })
      .sign(new TextEncoder().encode('public-key-as-secret'));
    await rejects(`Bearer ${hs}`, 'algorithm');
    const tampered = `${hdr}.${Buffer.from(JSON.stringify({ ...claims, aud: RESOURCE_ID, roles: ['x'] })).toString('base64url')}.${real.split('.')[2]}`;
    await rejects(`Bearer ${tampered}`, 'signature');
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const otherKey = await importPKCS8(privateKey, 'RS256');
    const sameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(otherKey);
    await rejects(`Bearer ${sameKid}`, 'signature');
    const newKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'attacker-key' }).sign(otherKey);
    await rejects(`Bearer ${newKid}`, 'unknownKey');
  } finally {
    await verifier.close();
    await h.close();
  }
});

test('resumePath honours CallbackUriPath only in its known shape', () => {
  const id = randomUUID();
  assert.equal(
    resumePath(id, 'v1.0'),
    `/v1.0/identityGovernance/entitlementManagement/assignmentRequests/${id}/resume`,
  );
  assert.equal(
    resumePath(id, 'v1.0', `/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/${id}/resume`),
    `/v1.0/identityGovernance/entitlementManagement/assignmentRequests/${id}/resume`,
  );
  assert.equal(
    resumePath(id, 'beta', `/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/${id}/resume`),
    `/beta/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/${id}/resume`,
  );
  assert.throws(() =>
    resumePath(id, 'v1.0', `/identityGovernance/entitlementManagement/assignmentRequests/${randomUUID()}/resume`),
  );
  assert.throws(() => resumePath(id, 'v1.0', `https://evil.example/${id}/resume`));
});

test('Graph end to end: set up, callout verified, resume, ResumeNotWaiting, 429 → retried after its Retry-After', async () => {
  const h = await startHarness();
  const rx = await startReceiver();
  const tokens = source(h);
  const graph = new EntitlementGraph(
    new GraphClient({ graphUrl: h.sb.graphUrl, auth: tokens.authProvider(GRAPH_SCOPE), ca: h.tls.ca }),
  );
  const verifier = createEntraTokenVerifier({
    authorityHost: h.sb.authorityHost,
    tenantId: h.sb.tenantId,
    audiences: [RESOURCE_ID],
    allowedAppIds: [EM_APP_ID],
    ca: h.tls.ca,
  });
  try {
    const cat = await graph.createCatalog({ displayName: 'Ticketed' });
    const ext = await graph.createCustomWorkflowExtension(cat.id, {
      displayName: 'Ticketloop',
      target: { url: rx.url },
      resourceId: RESOURCE_ID,
      timeout: 'P14D',
    });
    assert.equal((await graph.listCustomWorkflowExtensions(cat.id)).length, 1);
    const pkg = await graph.createAccessPackage({ displayName: 'Finance', catalog: { id: cat.id } });
    const pol = await graph.createAssignmentPolicy({
      displayName: 'Ticketed',
      accessPackage: { id: pkg.id },
      customExtensionStageSettings: [{ stage: 'assignmentRequestApproved', customExtension: { id: ext.id } }],
    });
    assert.equal((await graph.listAccessPackages(`displayName eq 'Finance'`)).length, 1);
    const req = await graph.createAssignmentRequest({
      requestType: 'adminAdd',
      assignment: { targetId: DEMO_USERS[3].id, assignmentPolicyId: pol.id, accessPackageId: pkg.id },
    });

    const c = await rx.next((c) => c.body.AccessPackageAssignmentRequestId === req.id);
    const claims = await verifier.verify(String(c.headers.authorization));
    assert.equal(claims.appid, EM_APP_ID);
    const body = buildResumeBody({
      stage: 'assignmentRequestApproved',
      customExtensionStageInstanceId: c.body.CustomExtensionStageInstanceId,
      detail: 'INC0010042 closed',
    });
    await graph.resumeAssignmentRequest(req.id, body, { callbackUriPath: c.body.CallbackUriPath });
    for (let i = 0; i < 100 && (await graph.getAssignmentRequest(req.id)).state !== 'delivered'; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await graph.getAssignmentRequest(req.id)).state, 'delivered');
    await assert.rejects(graph.resumeAssignmentRequest(req.id, body), ResumeNotWaiting);
    await assert.rejects(graph.resumeAssignmentRequest(randomUUID(), body), ResumeNotWaiting);

    h.sb.faults.update({ burst429: 1, retryAfterSeconds: 2 });
    await assert.rejects(
      graph.getAssignmentRequest(req.id),
      (e: unknown) => e instanceof HttpError && e.retryable && nextAttemptAt(e, 1, 0, POLICY) === 2000,
    );
  } finally {
    await verifier.close();
    await graph.graph.close();
    await tokens.close();
    await rx.close();
    await h.close();
  }
});
