import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { Keyring } from '../store/keys.ts';
import type { Database } from '../store/schema.ts';
import type { SecretRef } from './common.ts';

export { loadSecretKey, SecretBox } from '../store/keys.ts';

/**
 * Named secrets Ticketloop stores itself (those entered through the API), encrypted with
 * AES-256-GCM under the secret key (store/keys.ts), each bound to its name. A write uses the key
 * whose id `secret_key_state` records, taken under that row's lock: a process still holding the key
 * from before a rotation reloads the key files, and refuses rather than write what others cannot
 * read. Values are never returned by the API and never logged.
 */
export class SecretStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly keys: Keyring,
  ) {}

  /** Store (or replace); inside `trx` when given, so the secret commits with what refers to it. */
  async put(name: string, value: string, o: { trx?: Kysely<Database>; now?: number } = {}): Promise<void> {
    const now = o.now ?? Date.now();
    const write = async (trx: Kysely<Database>) => {
      const state = await trx
        .updateTable('secret_key_state')
        .set({ updated_at: now })
        .where('id', '=', 1)
        .returning('kid')
        .executeTakeFirst();
      const kid = state?.kid ?? this.keys.current.kid;
      if (!state) await trx.insertInto('secret_key_state').values({ id: 1, kid, updated_at: now }).execute();
      if (!this.keys.byKid(kid)) this.keys.reload(); // rotated by another process meanwhile
      if (!this.keys.byKid(kid))
        throw new Error(
          `secrets are now written with key ${kid}, which this process does not hold (rotated elsewhere?): restart it with that key`,
        );
      const ciphertext = this.keys.seal(name, value, kid);
      await trx
        .insertInto('secrets')
        .values({ name, ciphertext, updated_at: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ ciphertext, updated_at: now }))
        .execute();
    };
    await (o.trx ? write(o.trx) : this.db.transaction().execute(write));
  }

  async get(name: string, db: Kysely<Database> = this.db): Promise<string | undefined> {
    const row = await db.selectFrom('secrets').select('ciphertext').where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const kid = Keyring.kidOf(row.ciphertext);
    if (kid && !this.keys.byKid(kid)) this.keys.reload();
    return this.keys.open(name, row.ciphertext);
  }

  async delete(name: string, db: Kysely<Database> = this.db): Promise<void> {
    await db.deleteFrom('secrets').where('name', '=', name).execute();
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

/**
 * Stored secrets the configuration names (`{secret: name}`), decrypted once when the app is built
 * (loadStoredSecrets), so that resolving a reference stays synchronous wherever it happens. Each is
 * kept by its reference object, so two apps in one process (Test setup builds one beside the running
 * app) each resolve their own configuration's values.
 */
const storedSecrets = new WeakMap<object, Secret>();

/** Every `{secret: name}` in a configuration (an object with that one key). */
function storedSecretRefs(value: unknown, out: { secret: string }[] = []): { secret: string }[] {
  if (Array.isArray(value)) for (const v of value) storedSecretRefs(v, out);
  else if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && typeof (value as { secret?: unknown }).secret === 'string')
      out.push(value as { secret: string });
    else for (const v of Object.values(value)) storedSecretRefs(v, out);
  }
  return out;
}

/** Decrypt the stored secrets the configuration names; a missing one fails when it is resolved. */
export async function loadStoredSecrets(store: SecretStore, config: unknown): Promise<void> {
  for (const ref of storedSecretRefs(config)) {
    const value = await store.get(ref.secret);
    if (value === undefined) storedSecrets.delete(ref);
    else storedSecrets.set(ref, new Secret(value));
  }
}

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Secret {
  if (typeof ref === 'string') return new Secret(ref);
  if ('secret' in ref) {
    const stored = storedSecrets.get(ref);
    if (!stored)
      throw new Error(
        `the secret "${ref.secret}" is not in the secret store of this database: run the setup that stores it again`,
      );
    return stored;
  }
  if ('value' in ref) return new Secret(ref.value);
  if ('env' in ref) {
    const v = env[ref.env];
    if (!v) throw new Error(`environment variable ${ref.env} is not set`);
    return new Secret(v);
  }
  return new Secret(readFileSync(ref.file, 'utf8').trim());
}
