import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../engine/clock.ts';
import { inTransaction } from '../engine/apply.ts';
import type { Database, IdentityUserTable } from '../store/schema.ts';
import type { Keyring } from '../store/keys.ts';
import { recordSecurity } from './audit.ts';
import type { IdentityConfig } from './config.ts';
import { hashPassword, verifyPassword } from './credentials.ts';
import { isRole, type Role } from './roles.ts';

/**
 * Users: local accounts (argon2id) and accounts from the OpenID provider, each with roles. Local
 * sign-in counts failed passwords per account in the database (so every instance sees the same
 * count) and locks the account for a while after too many; every outcome is audited.
 */

export interface IdentityDeps {
  db: Kysely<Database>;
  /** The audit chain's keys (security events are audited in the change's transaction). */
  keys: Keyring;
  clock: Clock;
  config: IdentityConfig;
}

export type UserRow = IdentityUserTable;

/** What the API and the CLI show of a user: never the password hash. */
export interface UserView {
  id: string;
  name: string;
  displayName: string;
  source: 'local' | 'oidc';
  roles: Role[];
  disabled: boolean;
  lockedUntil: string | null;
  lastSignInAt: string | null;
  createdAt: string;
}

/** A refused change: the message is safe to show (HTTP 400/404/409 or a CLI error). */
export class IdentityError extends Error {
  constructor(
    readonly code: 'invalid' | 'not_found' | 'conflict' | 'forbidden',
    message: string,
  ) {
    super(message);
  }
}

export const USER_NAME = /^[a-z0-9][a-z0-9._@-]{0,127}$/;

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
export const rolesOf = (json: string): Role[] => (JSON.parse(json) as unknown[]).filter(isRole);

export function viewOf(u: UserRow, now: number): UserView {
  return {
    id: u.id,
    name: u.name,
    displayName: u.display_name,
    source: u.source,
    roles: rolesOf(u.roles),
    disabled: !!Number(u.disabled),
    lockedUntil: u.locked_until !== null && Number(u.locked_until) > now ? iso(u.locked_until) : null,
    lastSignInAt: iso(u.last_sign_in_at),
    createdAt: iso(u.created_at)!,
  };
}

export type SignInResult = { ok: true; user: UserRow } | { ok: false };

export interface NewUser {
  name: string;
  displayName?: string;
  password?: string;
  roles: Role[];
}

export interface UserPatch {
  displayName?: string;
  roles?: Role[];
  disabled?: boolean;
  password?: string;
  /** Clear a lockout and the failure count. */
  unlock?: boolean;
}

/** An enabled admin, able to administer users. */
const isActiveAdmin = (u: Pick<UserRow, 'roles' | 'disabled'>) =>
  !Number(u.disabled) && rolesOf(u.roles).includes('admin');

/** Refuse a change that leaves nobody able to administer users (the CLI can still add one). */
async function keepAnAdmin(trx: Kysely<Database>, before: UserRow, after: UserRow | undefined): Promise<void> {
  if (!isActiveAdmin(before) || (after && isActiveAdmin(after))) return;
  const others = await trx
    .selectFrom('identity_user')
    .select(['roles', 'disabled'])
    .where('id', '!=', before.id)
    .where('disabled', '=', 0)
    .where('roles', 'like', '%"admin"%')
    .execute();
  if (!others.some(isActiveAdmin)) throw new IdentityError('conflict', `${before.name} is the last enabled admin`);
}

export class Users {
  constructor(private readonly d: IdentityDeps) {}

  private checkPassword(password: string): void {
    const min = this.d.config.passwordMinLength;
    if (password.length < min) throw new IdentityError('invalid', `the password must have at least ${min} characters`);
    if (password.length > 1024) throw new IdentityError('invalid', 'the password must have at most 1024 characters');
  }

  async count(): Promise<number> {
    const r = await this.d.db
      .selectFrom('identity_user')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async list(): Promise<UserView[]> {
    const rows = await this.d.db.selectFrom('identity_user').selectAll().orderBy('name').execute();
    const now = this.d.clock.now();
    return rows.map((r) => viewOf(r, now));
  }

  get(id: string): Promise<UserRow | undefined> {
    return this.d.db.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
  }

  byName(name: string): Promise<UserRow | undefined> {
    return this.d.db.selectFrom('identity_user').selectAll().where('name', '=', name.toLowerCase()).executeTakeFirst();
  }

  /** `name` or id, for the CLI. */
  async find(nameOrId: string): Promise<UserRow> {
    const u = (await this.byName(nameOrId)) ?? (await this.get(nameOrId));
    if (!u) throw new IdentityError('not_found', `no user named "${nameOrId}"`);
    return u;
  }

  /** A local account. `trx` lets the first-admin setup create it inside its own transaction. */
  async create(input: NewUser, actor: string, trx?: Kysely<Database>): Promise<UserView> {
    const name = input.name.toLowerCase();
    if (!USER_NAME.test(name))
      throw new IdentityError('invalid', 'the name must be 1-128 of a-z 0-9 . _ @ - (starting with a letter or digit)');
    if (!input.roles.every(isRole)) throw new IdentityError('invalid', 'unknown role');
    if (input.password !== undefined) this.checkPassword(input.password);
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
    const now = this.d.clock.now();
    const row: UserRow = {
      id: randomUUID(),
      name,
      display_name: input.displayName ?? name,
      source: 'local',
      subject: null,
      password_hash: passwordHash,
      roles: JSON.stringify([...new Set(input.roles)]),
      disabled: 0,
      failed_attempts: 0,
      locked_until: null,
      last_sign_in_at: null,
      created_at: now,
      updated_at: now,
    };
    const work = async (t: Kysely<Database>) => {
      if (await t.selectFrom('identity_user').select('id').where('name', '=', name).executeTakeFirst())
        throw new IdentityError('conflict', `a user named "${name}" already exists`);
      await t.insertInto('identity_user').values(row).execute();
      await recordSecurity(this.d.keys, t, now, actor, `user:${name}`, 'user.created', {
        roles: rolesOf(row.roles),
        credential: passwordHash === null ? 'none' : 'password',
      });
    };
    await (trx ? work(trx) : inTransaction(this.d.db, work));
    return viewOf(row, now);
  }

  async update(id: string, patch: UserPatch, actor: string): Promise<UserView> {
    if (patch.roles && !patch.roles.every(isRole)) throw new IdentityError('invalid', 'unknown role');
    if (patch.password !== undefined) this.checkPassword(patch.password);
    const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password);
    const now = this.d.clock.now();
    return inTransaction(this.d.db, async (trx) => {
      const u = await trx.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
      if (!u) throw new IdentityError('not_found', `no user with id ${id}`);
      if (u.source === 'oidc' && (patch.roles || passwordHash))
        throw new IdentityError('invalid', 'roles and sign-in of an OpenID user come from the identity provider');
      const set: Partial<UserRow> = { updated_at: now };
      if (patch.displayName !== undefined) set.display_name = patch.displayName;
      if (patch.roles) set.roles = JSON.stringify([...new Set(patch.roles)]);
      if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
      if (passwordHash) set.password_hash = passwordHash;
      if (patch.unlock || passwordHash) Object.assign(set, { failed_attempts: 0, locked_until: null });
      await keepAnAdmin(trx, u, { ...u, ...set });
      await trx.updateTable('identity_user').set(set).where('id', '=', id).execute();
      // A new password or a disabled account ends the sessions it had.
      if (passwordHash || patch.disabled) await trx.deleteFrom('identity_session').where('user_id', '=', id).execute();
      await recordSecurity(this.d.keys, trx, now, actor, `user:${u.name}`, 'user.updated', {
        ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
        ...(patch.roles ? { roles: rolesOf(set.roles!), previousRoles: rolesOf(u.roles) } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
        ...(passwordHash ? { credential: 'password set' } : {}),
        ...(patch.unlock ? { unlocked: true } : {}),
      });
      return viewOf({ ...u, ...set } as UserRow, now);
    });
  }

  /** Delete a user with their sessions and personal tokens. */
  async remove(id: string, actor: string): Promise<void> {
    const now = this.d.clock.now();
    await inTransaction(this.d.db, async (trx) => {
      const u = await trx.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
      if (!u) throw new IdentityError('not_found', `no user with id ${id}`);
      await keepAnAdmin(trx, u, undefined);
      await trx.deleteFrom('identity_session').where('user_id', '=', id).execute();
      await trx.deleteFrom('identity_token').where('user_id', '=', id).execute();
      await trx.deleteFrom('identity_user').where('id', '=', id).execute();
      await recordSecurity(this.d.keys, trx, now, actor, `user:${u.name}`, 'user.deleted');
    });
  }

  /**
   * Local sign-in. Unknown name, wrong password, disabled or locked all look the same to the
   * caller (no account enumeration); the audit log tells them apart.
   */
  async signIn(name: string, password: string, from: string): Promise<SignInResult> {
    const { maxFailures, lockoutMinutes } = this.d.config.signIn;
    const user = USER_NAME.test(name.toLowerCase()) ? await this.byName(name) : undefined;
    // Always one argon2 verification, so the answer takes as long for unknown names.
    const good = await verifyPassword(user?.password_hash, password);
    const now = this.d.clock.now();
    const fail = async (trx: Kysely<Database>, reason: string, extra: Record<string, unknown> = {}) =>
      recordSecurity(this.d.keys, trx, now, 'anonymous', `user:${user?.name ?? name.slice(0, 128)}`, 'signin.failed', {
        method: 'password',
        reason,
        from,
        ...extra,
      });
    return inTransaction(this.d.db, async (trx): Promise<SignInResult> => {
      if (!user || user.source !== 'local') return fail(trx, 'unknown account').then(() => ({ ok: false }));
      // The state as of now (another attempt may have locked the account while argon2 ran).
      const fresh = await trx.selectFrom('identity_user').selectAll().where('id', '=', user.id).executeTakeFirst();
      if (!fresh || fresh.password_hash !== user.password_hash)
        return fail(trx, 'changed meanwhile').then(() => ({ ok: false }));
      Object.assign(user, fresh);
      if (Number(user.disabled)) return fail(trx, 'disabled').then(() => ({ ok: false }));
      if (user.locked_until !== null && Number(user.locked_until) > now)
        return fail(trx, 'locked', { lockedUntil: iso(user.locked_until) }).then(() => ({ ok: false }));
      if (!good) {
        const counted = await trx
          .updateTable('identity_user')
          .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1), updated_at: now }))
          .where('id', '=', user.id)
          .returning('failed_attempts')
          .executeTakeFirstOrThrow();
        const failures = Number(counted.failed_attempts);
        await fail(trx, 'wrong password', { failures });
        if (failures >= maxFailures) {
          const until = now + lockoutMinutes * 60_000;
          await trx
            .updateTable('identity_user')
            .set({ failed_attempts: 0, locked_until: until })
            .where('id', '=', user.id)
            .execute();
          await recordSecurity(this.d.keys, trx, now, 'anonymous', `user:${user.name}`, 'signin.lockout', {
            failures,
            lockedUntil: iso(until),
            from,
          });
        }
        return { ok: false };
      }
      await trx
        .updateTable('identity_user')
        .set({ failed_attempts: 0, locked_until: null, last_sign_in_at: now })
        .where('id', '=', user.id)
        .execute();
      await recordSecurity(this.d.keys, trx, now, `user:${user.name}`, `user:${user.name}`, 'signin', {
        method: 'password',
        from,
      });
      return { ok: true, user: { ...user, last_sign_in_at: now } };
    });
  }

  /**
   * Sign-in from the OpenID provider: the account (keyed by tenant and object id) is created on
   * first sign-in; its name, display name and roles follow the provider at every sign-in.
   */
  async signInOidc(
    o: { subject: string; name: string; displayName: string; roles: Role[]; groups: number },
    from: string,
  ): Promise<SignInResult> {
    const now = this.d.clock.now();
    const name = o.name.toLowerCase();
    return inTransaction(this.d.db, async (trx): Promise<SignInResult> => {
      const refuse = async (reason: string) => {
        await recordSecurity(this.d.keys, trx, now, 'anonymous', `user:${name}`, 'signin.failed', {
          method: 'oidc',
          reason,
          subject: o.subject,
          from,
        });
        return { ok: false } as const;
      };
      if (!USER_NAME.test(name)) return refuse('the provider gave no usable preferred_username');
      if (!o.roles.length) return refuse(`none of the user's ${o.groups} groups is mapped to a role`);
      const existing = await trx
        .selectFrom('identity_user')
        .selectAll()
        .where('subject', '=', o.subject)
        .executeTakeFirst();
      const clash = await trx.selectFrom('identity_user').select(['id']).where('name', '=', name).executeTakeFirst();
      if (clash && clash.id !== existing?.id) return refuse(`the name ${name} belongs to another account`);
      const roles = JSON.stringify([...new Set(o.roles)]);
      let user: UserRow;
      if (existing) {
        if (Number(existing.disabled)) return refuse('disabled');
        user = { ...existing, name, display_name: o.displayName, roles, last_sign_in_at: now, updated_at: now };
        await trx
          .updateTable('identity_user')
          .set({ name, display_name: o.displayName, roles, last_sign_in_at: now, updated_at: now })
          .where('id', '=', existing.id)
          .execute();
        if (roles !== existing.roles)
          await recordSecurity(this.d.keys, trx, now, 'oidc', `user:${name}`, 'user.updated', {
            roles: o.roles,
            previousRoles: rolesOf(existing.roles),
          });
      } else {
        user = {
          id: randomUUID(),
          name,
          display_name: o.displayName,
          source: 'oidc',
          subject: o.subject,
          password_hash: null,
          roles,
          disabled: 0,
          failed_attempts: 0,
          locked_until: null,
          last_sign_in_at: now,
          created_at: now,
          updated_at: now,
        };
        await trx.insertInto('identity_user').values(user).execute();
        await recordSecurity(this.d.keys, trx, now, 'oidc', `user:${name}`, 'user.created', {
          roles: o.roles,
          source: 'oidc',
        });
      }
      await recordSecurity(this.d.keys, trx, now, `user:${name}`, `user:${name}`, 'signin', {
        method: 'oidc',
        roles: o.roles,
        from,
      });
      return { ok: true, user };
    });
  }
}
