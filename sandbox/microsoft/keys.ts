import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { exportJWK, importPKCS8, importSPKI, type CryptoKey } from 'jose';
import type { DocStore } from '../shared/persist.ts';

/**
 * The sandbox Entra's token-signing key. Created once and kept in the sandbox database: tokens
 * issued before a restart must stay valid after it, exactly as with the real service, whose keys
 * rotate only every few weeks.
 */
export interface StoredSigningKey {
  kid: string;
  x5t: string;
  privateKeyPem: string;
  publicKeyPem: string;
  certPem: string;
  createdAt: string;
}

export interface SigningKey extends StoredSigningKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: Record<string, unknown>;
}

const COLL = 'entra-keys';

/** base64url SHA-1 of the DER certificate: what Entra puts in `x5t` (and, for its keys, in `kid`). */
export function certThumbprint(certPem: string, alg: 'sha1' | 'sha256' = 'sha1'): string {
  const der = Buffer.from(
    forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(),
    'binary',
  );
  return createHash(alg).update(der).digest('base64url');
}

export function certDerBase64(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
}

/** A new RSA-2048 key pair with a self-signed certificate for it (PEM). */
export function selfSignedCert(
  commonName: string,
  years: number,
): { certPem: string; privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + years * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function createKey(): StoredSigningKey {
  // Entra publishes each key with a self-signed certificate (x5c); we do the same.
  const { certPem, privateKeyPem, publicKeyPem } = selfSignedCert('accounts.sandbox.ticketloop', 5);
  const x5t = certThumbprint(certPem);
  return { kid: x5t, x5t, privateKeyPem, publicKeyPem, certPem, createdAt: new Date().toISOString() };
}

async function load(k: StoredSigningKey): Promise<SigningKey> {
  const privateKey = await importPKCS8(k.privateKeyPem, 'RS256');
  const publicKey = await importSPKI(k.publicKeyPem, 'RS256', { extractable: true });
  const { n, e } = await exportJWK(publicKey);
  const jwk = { kty: 'RSA', use: 'sig', kid: k.kid, x5t: k.x5t, n, e, x5c: [certDerBase64(k.certPem)] };
  return { ...k, privateKey, publicKey, jwk };
}

/** The active signing key, creating and persisting it on first start. */
export async function loadSigningKeys(store: DocStore): Promise<SigningKey[]> {
  let stored = store.list<StoredSigningKey>(COLL);
  if (stored.length === 0) stored = [store.put(COLL, 'primary', createKey())];
  return Promise.all(stored.map(load));
}
