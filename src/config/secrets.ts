import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { SecretRef } from './common.ts';

/**
 * Secrets at rest: AES-256-GCM with a key from TICKETLOOP_SECRET_KEY (base64, 32 bytes) or a key
 * generated once into the data directory with mode 0600. Ciphertext format: v1.<iv>.<tag>.<data>.
 */
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

export function loadSecretKey(dataDir: string, fromEnv = process.env.TICKETLOOP_SECRET_KEY): Buffer {
  if (fromEnv) {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new Error('TICKETLOOP_SECRET_KEY must be base64 of exactly 32 bytes');
    return key;
  }
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

/** Named secrets stored encrypted in the database (tokens, credentials entered through the API). */
export class SecretStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  async put(name: string, value: string, now = Date.now()): Promise<void> {
    const ciphertext = this.box.encrypt(value, name);
    await this.db
      .insertInto('secrets')
      .values({ name, ciphertext, updated_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ ciphertext, updated_at: now }))
      .execute();
  }

  async get(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('secrets').select('ciphertext').where('name', '=', name).executeTakeFirst();
    return row ? this.box.decrypt(row.ciphertext, name) : undefined;
  }

  async delete(name: string): Promise<void> {
    await this.db.deleteFrom('secrets').where('name', '=', name).execute();
  }
}

/**
 * A resolved secret. It prints as [secret] in logs, JSON and string interpolation; only
 * `reveal()` gives the value, at the point where it goes on the wire.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[secret]';
  }
}

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Secret {
  if (typeof ref === 'string') return new Secret(ref);
  if ('value' in ref) return new Secret(ref.value);
  if ('env' in ref) {
    const v = env[ref.env];
    if (!v) throw new Error(`environment variable ${ref.env} is not set`);
    return new Secret(v);
  }
  return new Secret(readFileSync(ref.file, 'utf8').trim());
}
