import type { Operation, Records } from './records.ts';
import { SYSTEM_ACTOR } from './seed.ts';
import type { Row, TableStore } from './store.ts';

/**
 * Roles as an instance keeps them: `sys_user_role` (the roles) and `sys_user_has_role` (grants:
 * user → role, state `active`). They are the source of every ACL decision; `sys_user.roles` is a
 * computed copy kept in step for display and older readers.
 */

/** Roles every sandbox instance has (the base system has hundreds; these are the ones ACLs use). */
const BASE_ROLES: [string, string][] = [
  ['admin', 'System administrator: passes every ACL'],
  ['itil', 'Fulfiller: reads and writes task tables (incident, change, problem, catalog tasks)'],
  ['snc_internal', 'Internal user: may use the APIs and see the tickets they raised'],
];

export class Roles {
  private byUser = new Map<string, string[]>();
  private builtAt = '';

  constructor(private readonly store: TableStore) {}

  /** Active role names of a user. Rebuilt only when a role table changed. */
  of(userSysId: string): string[] {
    const version = `${this.store.version('sys_user_has_role')}:${this.store.version('sys_user_role')}`;
    if (version !== this.builtAt) {
      const m = new Map<string, string[]>();
      for (const g of this.store.rows('sys_user_has_role')) {
        if (g.state !== 'active') continue;
        const name = this.store.get('sys_user_role', g.role)?.name;
        if (!name) continue;
        const list = m.get(g.user);
        if (!list) m.set(g.user, [name]);
        else if (!list.includes(name)) list.push(name);
      }
      this.byUser = m;
      this.builtAt = version;
    }
    return this.byUser.get(userSysId) ?? [];
  }

  /** sys_user.roles ← the grants (no sys_mod_count bump, no notification: it is derived). */
  sync(userSysId: string): void {
    const u = this.store.get('sys_user', userSysId);
    if (!u) return;
    const roles = this.of(userSysId).join(',');
    if (u.roles === roles) return;
    u.roles = roles;
    this.store.save('sys_user', u);
  }

  /** Change listener (Records.listeners): a grant changed, so its user's computed copy does. */
  readonly onChange = (table: string, _op: Operation, row: Row): void => {
    if (table === 'sys_user_has_role') this.sync(row.user);
    if (table === 'sys_user_role') for (const u of this.store.rows('sys_user')) this.sync(u.sys_id);
  };

  /**
   * Base roles, and grants from each user's `roles` text when there are no grants yet: a fresh
   * seed, or a state file written before the role tables existed.
   */
  seed(records: Records, rolesOf: (userName: string) => string | undefined): void {
    const ids = new Map(this.store.rows('sys_user_role').map((r) => [r.name, r.sys_id]));
    this.store.docs.transaction(() => {
      for (const [name, description] of BASE_ROLES) {
        if (ids.has(name)) continue;
        ids.set(name, records.insert('sys_user_role', { name, description }, SYSTEM_ACTOR, { seeding: true }).sys_id);
      }
      if (this.store.count('sys_user_has_role') > 0) return;
      for (const u of this.store.rows('sys_user')) {
        const names = (u.roles || rolesOf(u.user_name) || '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const name of names) {
          if (!ids.has(name))
            ids.set(name, records.insert('sys_user_role', { name }, SYSTEM_ACTOR, { seeding: true }).sys_id);
          records.insert('sys_user_has_role', { user: u.sys_id, role: ids.get(name), state: 'active' }, SYSTEM_ACTOR, {
            seeding: true,
          });
        }
      }
      for (const u of this.store.rows('sys_user')) this.sync(u.sys_id);
    });
  }
}
