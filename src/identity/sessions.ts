import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { IdentityDeps, UserRow } from './users.ts';
import { newToken, sha256 } from './credentials.ts';

/**
 * Browser sessions. The cookie holds a random token; the table holds its SHA-256, the user, the
 * CSRF synchronizer token and two deadlines: absolute (`ttlHours` after sign-in) and idle
 * (`idleMinutes` after the last request). The user row is read on every request, so disabling a
 * user or changing their roles takes effect at once.
 */

export interface SessionOpened {
  /** The cookie value (shown to the browser only). */
  token: string;
  csrf: string;
  expiresAt: number;
}

export interface ActiveSession {
  id: string;
  csrf: string;
  user: UserRow;
}

/** Touch `seen_at` at most this often: a session in use does not write on every request. */
const TOUCH_MS = 60_000;

export class Sessions {
  constructor(private readonly d: IdentityDeps) {}

  async open(userId: string, trx: Kysely<Database> = this.d.db): Promise<SessionOpened> {
    const now = this.d.clock.now();
    const token = newToken('tlsess');
    const csrf = randomBytes(32).toString('base64url');
    const expiresAt = now + this.d.config.sessions.ttlHours * 3_600_000;
    await trx
      .insertInto('identity_session')
      .values({ id: sha256(token), user_id: userId, csrf, created_at: now, seen_at: now, expires_at: expiresAt })
      .execute();
    return { token, csrf, expiresAt };
  }

  /** The live session for a cookie value, or undefined (expired, idle too long, user disabled or gone). */
  async resolve(token: string): Promise<ActiveSession | undefined> {
    const id = sha256(token);
    const row = await this.d.db
      .selectFrom('identity_session as s')
      .innerJoin('identity_user as u', 'u.id', 's.user_id')
      .selectAll('u')
      .select(['s.id as session_id', 's.csrf', 's.seen_at', 's.expires_at'])
      .where('s.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = this.d.clock.now();
    const idleUntil = Number(row.seen_at) + this.d.config.sessions.idleMinutes * 60_000;
    if (Number(row.expires_at) <= now || idleUntil <= now || Number(row.disabled)) {
      await this.d.db.deleteFrom('identity_session').where('id', '=', id).execute();
      return undefined;
    }
    if (now - Number(row.seen_at) >= TOUCH_MS)
      await this.d.db.updateTable('identity_session').set({ seen_at: now }).where('id', '=', id).execute();
    const { session_id, csrf, seen_at: _seen, expires_at: _exp, ...user } = row;
    return { id: session_id, csrf, user: user as UserRow };
  }

  async close(token: string): Promise<void> {
    await this.d.db.deleteFrom('identity_session').where('id', '=', sha256(token)).execute();
  }

  /** Forget sessions past either deadline (run now and then; `resolve` ignores them anyway). */
  async sweep(): Promise<number> {
    const now = this.d.clock.now();
    const idle = now - this.d.config.sessions.idleMinutes * 60_000;
    const r = await this.d.db
      .deleteFrom('identity_session')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('seen_at', '<=', idle)]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
