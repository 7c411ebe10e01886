import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { startHarness, decodeJwt } from './helpers.ts';
import { selfSignedCert } from '../../sandbox/microsoft/keys.ts';
import { certThumbprint } from '../../sandbox/microsoft/keys.ts';

test('client credentials with a secret (form and HTTP Basic) give realistic v1 Graph tokens', async () => {
  const h = await startHarness();
  try {
    const { clientId, clientSecret } = h.sb.apps.ticketloop;
    const token = await h.token();
    const { header, payload } = decodeJwt(token);
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid && header.x5t);
    assert.equal(payload.aud, 'https://graph.microsoft.com');
    assert.equal(payload.iss, `https://sts.windows.net/${h.sb.tenantId}/`);
    assert.equal(payload.appid, clientId);
    assert.equal(payload.appidacr, '1');
    assert.equal(payload.ver, '1.0');
    assert.equal(payload.tid, h.sb.tenantId);
    assert.equal(payload.idtyp, 'app');
    assert.deepEqual(payload.roles, [
      'EntitlementManagement.ReadWrite.All',
      'ServiceHealth.Read.All',
      'ServiceMessage.Read.All',
    ]);
    assert.equal(payload.sub, payload.oid);
    assert.ok(payload.exp > payload.iat && payload.uti);

    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const r = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' },
      headers: { authorization: `Basic ${basic}` },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.expires_in, 3599);
    const arm = await h.sb.entra.verifyAccessToken(r.body.access_token, { audience: 'https://management.azure.com' });
    assert.equal(arm.appid, clientId);

    // v1 endpoint with resource=
    const v1 = await h.call('POST', `/${h.sb.tenantId}/oauth2/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        resource: 'https://management.azure.com/',
      },
    });
    assert.equal(v1.status, 200);
    assert.equal(v1.body.expires_in, '3599');
    assert.equal(decodeJwt(v1.body.access_token).payload.aud, 'https://management.azure.com');
  } finally {
    await h.close();
  }
});

test('token endpoint errors use the AADSTS shape', async () => {
  const h = await startHarness();
  try {
    const { clientId } = h.sb.apps.ticketloop;
    const bad = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: 'wrong',
        scope: 'https://graph.microsoft.com/.default',
      },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
    assert.match(bad.body.error_description, /^AADSTS7000215: /);
    assert.deepEqual(bad.body.error_codes, [7000215]);
    assert.ok(bad.body.trace_id && bad.body.correlation_id && bad.body.timestamp);

    const unknown = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: randomUUID(),
        client_secret: 'x',
        scope: 'https://graph.microsoft.com/.default',
      },
    });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.error_codes, [700016]);

    const scope = await h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: h.sb.apps.ticketloop.clientSecret,
        scope: 'User.Read',
      },
    });
    assert.equal(scope.status, 400);
    assert.equal(scope.body.error, 'invalid_scope');

    const tenant = await h.call('POST', `/${randomUUID()}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials' },
    });
    assert.deepEqual(tenant.body.error_codes, [90002]);
  } finally {
    await h.close();
  }
});

test('client assertion signed with a registered certificate', async () => {
  const h = await startHarness();
  try {
    const cert = selfSignedCert('ticketloop-client', 1);
    const reg = await h.call('POST', '/_sandbox/entra/apps', {
      json: { certificatePem: cert.certPem, roles: ['EntitlementManagement.ReadWrite.All'] },
    });
    assert.equal(reg.status, 201);
    const clientId = reg.body.clientId;
    const endpoint = `${h.sb.authorityHost}/${h.sb.tenantId}/oauth2/v2.0/token`;
    const key = await importPKCS8(cert.privateKeyPem, 'RS256');
    const assertion = (aud: string, iss = clientId, expSec = 600) =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: certThumbprint(cert.certPem) })
        .setIssuer(iss)
        .setSubject(clientId)
        .setAudience(aud)
        .setIssuedAt()
        .setNotBefore(Math.floor(Date.now() / 1000) - 60)
        .setExpirationTime(Math.floor(Date.now() / 1000) + expSec)
        .sign(key);
    const post = async (a: string) =>
      h.call('POST', `/${h.sb.tenantId}/oauth2/v2.0/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: clientId,
          scope: 'https://graph.microsoft.com/.default',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: a,
        },
      });
    const ok = await post(await assertion(endpoint));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(decodeJwt(ok.body.access_token).payload.appidacr, '2');

    const wrongAud = await post(await assertion('https://example.org/token'));
    assert.equal(wrongAud.status, 401);
    assert.equal(wrongAud.body.error, 'invalid_client');

    const wrongIss = await post(await assertion(endpoint, randomUUID()));
    assert.equal(wrongIss.status, 401);

    const expired = await post(await assertion(endpoint, clientId, -3600));
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body.error_codes, [700024]);

    const other = selfSignedCert('someone-else', 1);
    const forged = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', x5t: certThumbprint(cert.certPem) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(endpoint)
      .setExpirationTime('10m')
      .sign(await importPKCS8(other.privateKeyPem, 'RS256'));
    const sig = await post(forged);
    assert.equal(sig.status, 401);
    assert.deepEqual(sig.body.error_codes, [700027]);
  } finally {
    await h.close();
  }
});

test('OpenID metadata, JWKS and instance discovery are self-consistent', async () => {
  const h = await startHarness();
  try {
    const t = h.sb.tenantId;
    const v2 = await h.call('GET', `/${t}/v2.0/.well-known/openid-configuration`);
    assert.equal(v2.body.issuer, `${h.sb.authorityHost}/${t}/v2.0`);
    assert.equal(v2.body.token_endpoint, `${h.sb.authorityHost}/${t}/oauth2/v2.0/token`);
    const keys = await h.call('GET', new URL(v2.body.jwks_uri).pathname);
    assert.equal(keys.status, 200);
    const k = keys.body.keys[0];
    assert.ok(k.kid && k.x5t && k.n && k.e && k.x5c?.length);
    assert.equal(k.issuer, v2.body.issuer);
    const v1 = await h.call('GET', `/${t}/.well-known/openid-configuration`);
    assert.equal(v1.body.issuer, `https://sts.windows.net/${t}/`);
    const v1keys = await h.call('GET', `/${t}/discovery/keys`);
    assert.equal(v1keys.body.keys[0].kid, k.kid);
    const common = await h.call('GET', '/common/discovery/v2.0/keys');
    assert.equal(common.body.keys[0].issuer, `${h.sb.authorityHost}/{tenantid}/v2.0`);
    const inst = await h.call(
      'GET',
      `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${h.sb.authorityHost}/${t}/oauth2/v2.0/authorize`)}`,
    );
    assert.equal(
      inst.body.tenant_discovery_endpoint,
      `${h.sb.authorityHost}/${t}/v2.0/.well-known/openid-configuration`,
    );
    assert.deepEqual(inst.body.metadata[0].aliases, [new URL(h.sb.baseUrl).host]);
  } finally {
    await h.close();
  }
});

test('in-process issue/verify for sibling sandboxes; the signing key survives a restart', async () => {
  const h = await startHarness();
  try {
    const token = await h.sb.entra.issueToken({
      clientId: h.sb.apps.ticketloop.clientId,
      audience: 'https://management.azure.com',
    });
    assert.equal(
      (await h.sb.entra.verifyAccessToken(token, { audience: 'https://management.azure.com' })).tid,
      h.sb.tenantId,
    );
    await assert.rejects(h.sb.entra.verifyAccessToken(token, { audience: 'https://graph.microsoft.com' }));
    const v2 = await h.sb.entra.issueToken({
      clientId: h.sb.apps.ticketloop.clientId,
      audience: 'api://x',
      version: 2,
    });
    assert.equal((await h.sb.entra.verifyAccessToken(v2, { audience: 'api://x' })).azp, h.sb.apps.ticketloop.clientId);
    await h.restart();
    assert.ok(await h.sb.entra.verifyAccessToken(token, { audience: 'https://management.azure.com' }));
    h.sb.clock.advance(2 * 3600_000);
    await assert.rejects(h.sb.entra.verifyAccessToken(token, { audience: 'https://management.azure.com' }));
  } finally {
    await h.close();
  }
});

test('MSAL and @azure/identity obtain tokens from the sandbox (child process with NODE_EXTRA_CA_CERTS)', async () => {
  const h = await startHarness();
  try {
    const { clientId, clientSecret } = h.sb.apps.ticketloop;
    // The child needs this process's event loop free to serve it: spawn, not spawnSync.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL('./fixtures/sdk-token.ts', import.meta.url).pathname,
        h.sb.authorityHost,
        h.sb.tenantId,
        clientId,
        clientSecret,
        'https://graph.microsoft.com/.default',
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: h.tls.caPath }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, err);
    const res = JSON.parse(out.trim().split('\n').pop()!);
    for (const t of [res.msal, res.identity]) {
      const claims = await h.sb.entra.verifyAccessToken(t, { audience: 'https://graph.microsoft.com' });
      assert.equal(claims.appid, clientId);
    }
  } finally {
    await h.close();
  }
});
