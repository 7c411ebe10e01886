import { randomUUID } from 'node:crypto';
import { DAY_MS } from '../engine/clock.ts';
import { inTransaction } from '../engine/apply.ts';
import type { IdentityTokenTable } from '../store/schema.ts';
import { recordSecurity } from './audit.ts';
import { newToken, sha256 } from './credentials.ts';
import type { Principal } from './principal.ts';
import { isRole, type Role } from './roles.ts';
import { IdentityError, rolesOf, type IdentityDeps, type UserRow } from './users.ts';

/**
 * API tokens for scripts and CI, sent as `Authorization: Bearer`. Personal tokens belong to a user
 * and never hold more than the user does now (their roles ∩ the user's; a disabled user's tokens
 * stop). Service tokens belong to nobody and are created by admins. Every token has an expiry (the
 * app's clock decides); only its SHA-256 is stored, the token is shown once.
 */

export interface TokenView {
  id: string;
  /** Personal tokens are `<user>/<name>`. */
  name: string;
  kind: 'personal' | 'service';
  owner: string | null;
  roles: Role[];
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  active: boolean;
}

export interface NewToken {
  kind: 'personal' | 'service';
  name: string;
  /** Default: every role of the owner (personal); required for service tokens. */
  roles?: Role[];
  days?: number;
  owner?: UserRow;
  /** The token may not outlive this (a token creating a token: not past its own expiry). */
  notAfter?: number;
}

export const TOKEN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PREFIX = { personal: 'tlp', service: 'tlsvc' } as const;
const USE_TOUCH_MS = 60_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export class ApiTokens {
  constructor(private readonly d: IdentityDeps) {}

  view(r: IdentityTokenTable & { owner?: string | null }, now = this.d.clock.now()): TokenView {
    return {
      id: r.id,
      name: r.name,
      kind: r.kind,
      owner: r.owner ?? null,
      roles: rolesOf(r.roles),
      createdBy: r.created_by,
      createdAt: iso(r.created_at)!,
      expiresAt: iso(r.expires_at)!,
      lastUsedAt: iso(r.last_used_at),
      revokedAt: iso(r.revoked_at),
      active: r.revoked_at === null && Number(r.expires_at) > now,
    };
  }

  async create(o: NewToken, actor: string): Promise<{ token: string; view: TokenView }> {
    if (!TOKEN_NAME.test(o.name)) throw new IdentityError('invalid', 'the token name must be 1-64 of a-z 0-9 . _ -');
    const { defaultDays, maxDays } = this.d.config.tokens;
    const days = o.days ?? defaultDays;
    if (!Number.isInteger(days) || days < 1 || days > maxDays)
      throw new IdentityError('invalid', `days must be a whole number from 1 to ${maxDays}`);
    let roles: Role[];
    if (o.kind === 'personal') {
      if (!o.owner) throw new IdentityError('invalid', 'a personal token needs its user');
      const held = rolesOf(o.owner.roles);
      roles = o.roles ?? held;
      const extra = roles.filter((r) => !held.includes(r));
      if (extra.length)
        throw new IdentityError('forbidden', `a personal token cannot hold roles its user lacks: ${extra.join(', ')}`);
    } else {
      roles = o.roles ?? [];
      if (!roles.length) throw new IdentityError('invalid', 'a service token needs at least one role');
    }
    if (!roles.every(isRole)) throw new IdentityError('invalid', 'unknown role');
    if (!roles.length) throw new IdentityError('invalid', 'the token would hold no role');
    const now = this.d.clock.now();
    const expiresAt = Math.min(now + days * DAY_MS, o.notAfter ?? Infinity);
    const token = newToken(PREFIX[o.kind]);
    const name = o.kind === 'personal' ? `${o.owner!.name}/${o.name}` : o.name;
    const row: IdentityTokenTable = {
      id: randomUUID(),
      name,
      kind: o.kind,
      user_id: o.owner?.id ?? null,
      hash: sha256(token),
      roles: JSON.stringify([...new Set(roles)]),
      created_by: actor,
      created_at: now,
      expires_at: expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    await inTransaction(this.d.db, async (trx) => {
      if (await trx.selectFrom('identity_token').select('id').where('name', '=', name).executeTakeFirst())
        throw new IdentityError('conflict', `a token named "${name}" already exists`);
      await trx.insertInto('identity_token').values(row).execute();
      await recordSecurity(this.d.keys, trx, now, actor, `token:${name}`, 'token.created', {
        kind: o.kind,
        roles: rolesOf(row.roles),
        expiresAt: iso(expiresAt),
      });
    });
    return { token, view: this.view({ ...row, owner: o.owner?.name ?? null }, now) };
  }

  /** Every token, or only this user's. */
  async list(userId?: string): Promise<TokenView[]> {
    let q = this.d.db
      .selectFrom('identity_token as t')
      .leftJoin('identity_user as u', 'u.id', 't.user_id')
      .selectAll('t')
      .select('u.name as owner')
      .orderBy('t.created_at', 'desc')
      .orderBy('t.name');
    if (userId) q = q.where('t.user_id', '=', userId);
    const now = this.d.clock.now();
    return (await q.execute()).map((r) => this.view(r, now));
  }

  get(id: string): Promise<IdentityTokenTable | undefined> {
    return this.d.db.selectFrom('identity_token').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** By id or name (the CLI). */
  async find(idOrName: string): Promise<IdentityTokenTable> {
    const t =
      (await this.d.db.selectFrom('identity_token').selectAll().where('name', '=', idOrName).executeTakeFirst()) ??
      (/^[0-9a-f-]{36}$/i.test(idOrName) ? await this.get(idOrName) : undefined);
    if (!t) throw new IdentityError('not_found', `no token "${idOrName}"`);
    return t;
  }

  async revoke(id: string, actor: string): Promise<TokenView> {
    const now = this.d.clock.now();
    return inTransaction(this.d.db, async (trx) => {
      const t = await trx.selectFrom('identity_token').selectAll().where('id', '=', id).executeTakeFirst();
      if (!t) throw new IdentityError('not_found', `no token with id ${id}`);
      if (t.revoked_at === null) {
        await trx.updateTable('identity_token').set({ revoked_at: now }).where('id', '=', id).execute();
        await recordSecurity(this.d.keys, trx, now, actor, `token:${t.name}`, 'token.revoked', { kind: t.kind });
      }
      return this.view({ ...t, revoked_at: t.revoked_at ?? now }, now);
    });
  }

  /** The caller a bearer token stands for, or undefined (unknown, revoked, expired, owner disabled). */
  async resolve(token: string): Promise<Principal | undefined> {
    const t = await this.d.db
      .selectFrom('identity_token as t')
      .leftJoin('identity_user as u', 'u.id', 't.user_id')
      .selectAll('t')
      .select(['u.roles as owner_roles', 'u.disabled as owner_disabled', 'u.name as owner'])
      .where('t.hash', '=', sha256(token))
      .executeTakeFirst();
    const now = this.d.clock.now();
    if (!t || t.revoked_at !== null || Number(t.expires_at) <= now) return undefined;
    let roles = rolesOf(t.roles);
    if (t.kind === 'personal') {
      if (t.owner_roles === null || Number(t.owner_disabled)) return undefined;
      const held = rolesOf(t.owner_roles);
      roles = roles.filter((r) => held.includes(r));
    }
    if (t.last_used_at === null || now - Number(t.last_used_at) >= USE_TOUCH_MS)
      await this.d.db.updateTable('identity_token').set({ last_used_at: now }).where('id', '=', t.id).execute();
    return {
      actor: `token:${t.name}`,
      kind: 'token',
      name: t.name,
      roles,
      via: 'token',
      userId: t.user_id ?? undefined,
      tokenId: t.id,
      tokenKind: t.kind,
      expiresAt: Number(t.expires_at),
    };
  }
}
