import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/**
 * The sandbox's own certificate authority. Generated once into `dir` and reused across restarts,
 * so a client (or an Azure SDK) that trusts `ca.pem` keeps trusting the sandbox.
 */
export interface SandboxTls {
  caPath: string;
  ca: string;
  cert: string;
  key: string;
}

function newKeyPair() {
  // Node's native RSA keygen is far faster than forge's pure-JS one.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    pem: privateKey,
  };
}

function serial(): string {
  return '01' + randomBytes(15).toString('hex');
}

export function ensureSandboxTls(dir: string, hostnames: string[] = ['localhost']): SandboxTls {
  mkdirSync(dir, { recursive: true });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server.key');
  const namesPath = join(dir, 'server.names');
  const names = [...new Set(['localhost', ...hostnames])].sort().join(',');

  if (!existsSync(caPath) || !existsSync(caKeyPath)) {
    const keys = newKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 86_400_000);
    cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 86_400_000);
    const attrs = [
      { name: 'commonName', value: 'Ticketloop Sandbox CA' },
      { name: 'organizationName', value: 'Ticketloop' },
    ];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    writeFileSync(caPath, forge.pki.certificateToPem(cert));
    writeFileSync(caKeyPath, keys.pem, { mode: 0o600 });
  }

  const known = existsSync(namesPath) ? readFileSync(namesPath, 'utf8') : '';
  if (!existsSync(certPath) || !existsSync(keyPath) || known !== names) {
    const caCert = forge.pki.certificateFromPem(readFileSync(caPath, 'utf8'));
    const caKey = forge.pki.privateKeyFromPem(readFileSync(caKeyPath, 'utf8'));
    const keys = newKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 86_400_000);
    cert.validity.notAfter = new Date(Date.now() + 2 * 365 * 86_400_000);
    cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
    cert.setIssuer(caCert.subject.attributes);
    const altNames = names
      .split(',')
      .map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n }));
    altNames.push({ type: 7, ip: '127.0.0.1' });
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    writeFileSync(certPath, forge.pki.certificateToPem(cert));
    writeFileSync(keyPath, keys.pem, { mode: 0o600 });
    writeFileSync(namesPath, names);
  }

  return {
    caPath,
    ca: readFileSync(caPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    key: readFileSync(keyPath, 'utf8'),
  };
}
