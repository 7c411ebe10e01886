import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * The master secret key and what is derived from it. The key is never in the database: it comes
 * from TICKETLOOP_SECRET_KEY (base64 of 32 bytes) or from `dataDir/secret.key` (generated once,
 * mode 0600). During a rotation the old key is still loaded — `secret.key.previous` or
 * TICKETLOOP_SECRET_KEY_PREVIOUS — so everything written under either key stays readable.
 *
 * Each purpose gets its own subkey (HKDF-SHA256, distinct labels): one encrypts stored secrets,
 * one MACs the audit chain, one signs action links in notifications. Every ciphertext and every
 * MAC names its key by id (`kid`, derived from the key itself), so a reader knows which key to use
 * and a half-finished rotation loses nothing.
 */

export const KEY_FILE = 'secret.key';
export const PREVIOUS_KEY_FILE = 'secret.key.previous';
export const KEY_ENV = 'TICKETLOOP_SECRET_KEY';
export const PREVIOUS_KEY_ENV = 'TICKETLOOP_SECRET_KEY_PREVIOUS';

const SECRETS_LABEL = 'ticketloop secrets aes-256-gcm v2';
const AUDIT_LABEL = 'ticketloop audit hmac-sha256 v1';
const ACTION_LINK_LABEL = 'ticketloop action-link hmac-sha256 v1';

export interface MasterKey {
  kid: string;
  key: Buffer;
}

/** A key's public id: 16 hex characters, the same wherever the key is loaded. */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('ticketloop key id v1').digest('hex').slice(0, 16);
}

export function parseKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${where} must be base64 of exactly 32 bytes`);
  return key;
}

const derive = (key: Buffer, label: string) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), label, 32));

/** Write a key file so that a reader sees the old content or the new, never a torn one. */
export function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeDurably(tmp, key.toString('base64'));
  renameSync(tmp, path);
  syncDir(path);
}

function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

function syncDir(path: string): void {
  const fd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The key file's key, created once if absent (two processes starting together agree on one key). */
function readOrCreateKey(dataDir: string): Buffer {
  const file = join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.new`;
    writeDurably(tmp, randomBytes(32).toString('base64'));
    try {
      linkSync(tmp, file); // fails if another process made it first: then theirs is the key
      syncDir(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  chmodSync(file, 0o600);
  return parseKey(readFileSync(file, 'utf8'), file);
}

export type KeySource = 'env' | 'file';

/** The loaded keys: the current one (writes) and, during a rotation, the previous one (reads). */
export class Keyring {
  #current!: MasterKey;
  #previous: MasterKey | undefined;
  #source!: KeySource;
  private readonly derived = new Map<string, Buffer>();

  constructor(
    private readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.reload();
  }

  get current(): MasterKey {
    return this.#current;
  }
  get previous(): MasterKey | undefined {
    return this.#previous;
  }
  get source(): KeySource {
    return this.#source;
  }
  get keyFile(): string {
    return join(this.dataDir, KEY_FILE);
  }
  get previousKeyFile(): string {
    return join(this.dataDir, PREVIOUS_KEY_FILE);
  }

  /** Read the keys again (another process may have rotated them); true when the current key changed. */
  reload(): boolean {
    const before = this.#current?.kid;
    const fromEnv = this.env[KEY_ENV];
    this.#source = fromEnv ? 'env' : 'file';
    const current = fromEnv ? parseKey(fromEnv, KEY_ENV) : readOrCreateKey(this.dataDir);
    const prevEnv = this.env[PREVIOUS_KEY_ENV];
    const prevFile = this.previousKeyFile;
    const previous = fromEnv
      ? prevEnv
        ? parseKey(prevEnv, PREVIOUS_KEY_ENV)
        : undefined
      : existsSync(prevFile)
        ? parseKey(readFileSync(prevFile, 'utf8'), prevFile)
        : undefined;
    this.#current = { kid: keyId(current), key: current };
    this.#previous = previous ? { kid: keyId(previous), key: previous } : undefined;
    return before !== undefined && before !== this.#current.kid;
  }

  byKid(kid: string): MasterKey | undefined {
    if (this.#current.kid === kid) return this.#current;
    return this.#previous?.kid === kid ? this.#previous : undefined;
  }

  private subkey(m: MasterKey, label: string): Buffer {
    const id = `${m.kid}\0${label}`;
    let k = this.derived.get(id);
    if (!k) this.derived.set(id, (k = derive(m.key, label)));
    return k;
  }

  /** The audit chain's MAC key for `kid` (default: the current key's); undefined when not held here. */
  auditKey(kid = this.#current.kid): { kid: string; key: Buffer } | undefined {
    const m = this.byKid(kid);
    return m && { kid: m.kid, key: this.subkey(m, AUDIT_LABEL) };
  }

  /** The MAC key of signed action links (notify/links.ts) for `kid` (default: the current key's). */
  actionLinkKey(kid = this.#current.kid): { kid: string; key: Buffer } | undefined {
    const m = this.byKid(kid);
    return m && { kid: m.kid, key: this.subkey(m, ACTION_LINK_LABEL) };
  }

  /** Encrypt a secret under the current key, bound to its name: `v2.<kid>.<iv>.<tag>.<data>`. */
  seal(name: string, plain: string, kid = this.#current.kid): string {
    const m = this.byKid(kid);
    if (!m) throw new Error(`secret key ${kid} is not loaded`);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.subkey(m, SECRETS_LABEL), iv);
    c.setAAD(Buffer.from(name));
    const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v2', m.kid, iv.toString('base64'), c.getAuthTag().toString('base64'), data.toString('base64')].join('.');
  }

  /** The key id a sealed value names (v1 values name none). */
  static kidOf(sealed: string): string | undefined {
    return sealed.startsWith('v2.') ? sealed.split('.')[1] : undefined;
  }

  /** Decrypt; throws when the value was altered, belongs to another name, or its key is not loaded. */
  open(name: string, sealed: string): string {
    if (sealed.startsWith('v1.')) {
      // v1 (before key ids): the master key itself, current first.
      for (const m of [this.#current, this.#previous]) {
        if (!m) continue;
        try {
          return new SecretBox(m.key).decrypt(sealed, name);
        } catch {
          // not this key: try the next
        }
      }
      throw new Error(`secret ${name} cannot be decrypted with the loaded keys`);
    }
    const [v, kid, iv, tag, data] = sealed.split('.');
    if (v !== 'v2' || !kid || !iv || !tag || data === undefined)
      throw new Error(`secret ${name} is not a sealed value`);
    const m = this.byKid(kid);
    if (!m) throw new Error(`secret ${name} is encrypted with key ${kid}, which this process does not hold`);
    const d = createDecipheriv('aes-256-gcm', this.subkey(m, SECRETS_LABEL), Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(name));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]).toString('utf8');
  }
}

export function loadKeyring(dataDir: string, env: NodeJS.ProcessEnv = process.env): Keyring {
  return new Keyring(dataDir, env);
}

/** The key used directly (format v1, before key ids); kept to read values written that way. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('secret key must be 32 bytes (base64 of 32 random bytes)');
  }

  encrypt(plain: string, aad = ''): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), data.toString('base64')].join('.');
  }

  decrypt(sealed: string, aad = ''): string {
    const [v, iv, tag, data] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]).toString('utf8');
  }
}

/** The current master key (TICKETLOOP_SECRET_KEY, or the key file, created if absent). */
export function loadSecretKey(dataDir: string, fromEnv = process.env[KEY_ENV]): Buffer {
  return loadKeyring(dataDir, fromEnv ? { [KEY_ENV]: fromEnv } : {}).current.key;
}
