import type { Kysely } from 'kysely';
import { inTransaction } from '../engine/apply.ts';
import type { Database } from '../store/schema.ts';
import { recordSecurity } from './audit.ts';
import { newToken, sha256 } from './credentials.ts';
import { IdentityError, type IdentityDeps, type Users, type UserView } from './users.ts';

/**
 * The first admin. While there is no user, every start issues a one-time setup token (like an
 * initial admin password), printed once and stored as its SHA-256. `POST /api/setup/first-admin`
 * with it creates an admin; that ends every setup token. With a user in place none is issued.
 */

const SETUP_TTL_MS = 24 * 3_600_000;

export class FirstAdmin {
  constructor(
    private readonly d: IdentityDeps,
    private readonly users: Users,
  ) {}

  /** A new setup token when there is no user yet (each start issues one; any unexpired one works). */
  async issue(): Promise<string | undefined> {
    if ((await this.users.count()) > 0) return undefined;
    const now = this.d.clock.now();
    const token = newToken('tlsetup');
    await inTransaction(this.d.db, async (trx) => {
      await trx.deleteFrom('identity_setup').where('expires_at', '<=', now).execute();
      await trx
        .insertInto('identity_setup')
        .values({ hash: sha256(token), created_at: now, expires_at: now + SETUP_TTL_MS })
        .execute();
    });
    return token;
  }

  /** Create the first admin with a setup token. Fails (forbidden) for a wrong, used or expired token. */
  async redeem(
    token: string,
    admin: { name: string; password: string; displayName?: string },
    from: string,
  ): Promise<UserView> {
    const now = this.d.clock.now();
    const refused = async (trx: Kysely<Database>, reason: string) => {
      await recordSecurity(this.d.keys, trx, now, 'anonymous', 'setup:first-admin', 'setup.refused', { reason, from });
      return undefined;
    };
    const created = await inTransaction(this.d.db, async (trx) => {
      // Deleting the row first is the lock: of two requests with the same token, one deletes it.
      const row = await trx
        .deleteFrom('identity_setup')
        .where('hash', '=', sha256(token))
        .returning(['expires_at'])
        .executeTakeFirst();
      if (!row || Number(row.expires_at) <= now) return refused(trx, row ? 'expired token' : 'unknown token');
      const users = await trx
        .selectFrom('identity_user')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst();
      if (Number(users?.n ?? 0) > 0) return refused(trx, 'a user exists already');
      await trx.deleteFrom('identity_setup').execute();
      const view = await this.users.create({ ...admin, roles: ['admin'] }, 'setup', trx);
      await recordSecurity(this.d.keys, trx, now, 'setup', `user:${view.name}`, 'setup.first-admin', { from });
      return view;
    });
    if (!created) throw new IdentityError('forbidden', 'the setup token is wrong, used or expired');
    return created;
  }
}
