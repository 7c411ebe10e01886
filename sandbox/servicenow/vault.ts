import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DocStore } from '../shared/persist.ts';

/**
 * The instance's encryption of `password2` system properties. A real instance stores and returns
 * them two-way encrypted: the Table API never shows the clear text, and a write takes clear text
 * only with `sysparm_input_display_value=true` (fact sheet §1.2); without it the value is stored
 * as given, as if it were already encrypted. The sandbox does the same with AES-256-GCM under a
 * key kept in the state file, so encrypted values survive restarts. Each encryption uses a fresh
 * IV: the same secret never encrypts to the same text, so a client cannot compare by reading.
 */
export class Vault {
  private readonly key: Buffer;

  constructor(docs: DocStore) {
    const stored = docs.get<{ key: string }>('sn_config', 'password2-key');
    if (stored) this.key = Buffer.from(stored.key, 'base64');
    else {
      this.key = randomBytes(32);
      docs.put('sn_config', 'password2-key', { key: this.key.toString('base64') });
    }
  }

  /** base64(iv ‖ tag ‖ ciphertext) — an opaque string like the instance's own encrypted values. */
  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), data]).toString('base64');
  }

  /** The clear text, or undefined when the stored value is not something this instance encrypted. */
  decrypt(stored: string): string | undefined {
    const raw = Buffer.from(stored, 'base64');
    if (raw.length < 28) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
