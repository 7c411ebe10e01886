import type { AzureStore } from './store.ts';

/**
 * Microsoft.Authorization state in the same `azure.db` as the rest of the ARM sandbox: role
 * assignments (a PIM-activated one is an assignment row with a `pim` schedule), PIM schedule
 * requests, custom role definitions and the control settings. Assignments and requests get their
 * own tables (names are unique tenant-wide, lists are ordered by creation); settings and custom
 * roles are DocStore documents.
 */

/** What PIM adds to an assignment it made: the schedule it belongs to and when it ends. */
export interface PimSchedule {
  scheduleId: string;
  /** The AdminAssign request that created it. */
  requestName: string;
  startDateTime: string;
  /** Absent for NoExpiration. */
  endDateTime?: string;
}

export interface StoredAssignment {
  /** The GUID name (unique in the tenant). */
  name: string;
  /** Canonical scope: `/subscriptions/{s}[/resourceGroups/{rg}…]`, `/providers/Microsoft.Management/managementGroups/{g}` or `/`. */
  scope: string;
  roleGuid: string;
  principalId: string;
  principalType: string;
  description?: string | null;
  condition?: string | null;
  conditionVersion?: string | null;
  createdOn: string;
  updatedOn: string;
  createdBy: string | null;
  updatedBy: string | null;
  pim?: PimSchedule;
}

export interface StoredScheduleRequest {
  name: string;
  scope: string;
  roleGuid: string;
  principalId: string;
  principalType: string;
  requestType: string;
  status: string;
  scheduleInfo: {
    startDateTime: string;
    expiration: { type: string; endDateTime: string | null; duration: string | null };
  };
  justification: string | null;
  ticketInfo: { ticketNumber: string | null; ticketSystem: string | null };
  requestorId: string | null;
  createdOn: string;
  condition: string | null;
  conditionVersion: string | null;
  targetRoleAssignmentScheduleId: string | null;
  targetRoleAssignmentScheduleInstanceId: string | null;
  /** The assignment an AdminAssign made (to cancel one that has not started). */
  assignmentName?: string;
}

export interface AuthorizationSettings {
  /** Page size of the role assignment, request and instance lists. */
  pageSize: number;
  /** PIM role management policy: the longest active assignment, per role GUID, in ms. */
  maxActiveMs: { default: number; roles: Record<string, number> };
  /** Principal ids the directory does not know: a PUT names them in PrincipalNotFound. */
  missingPrincipals: string[];
}

export const DEFAULT_AUTHZ_SETTINGS: AuthorizationSettings = {
  pageSize: 100,
  maxActiveMs: { default: 8 * 3_600_000, roles: {} },
  missingPrincipals: [],
};

export class AuthorizationStore {
  private readonly q;

  constructor(private readonly store: AzureStore) {
    const db = store.docs.db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS az_role_assignments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_lc TEXT NOT NULL UNIQUE,
        triple_lc TEXT NOT NULL,
        body TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS az_role_assignments_triple ON az_role_assignments (triple_lc);
      CREATE TABLE IF NOT EXISTS az_schedule_requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_lc TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL);`);
    addIndexedColumns(db);
    this.q = {
      getA: db.prepare('SELECT body FROM az_role_assignments WHERE name_lc = ?'),
      byTriple: db.prepare('SELECT body FROM az_role_assignments WHERE triple_lc = ? ORDER BY seq'),
      byPrincipal: db.prepare('SELECT body FROM az_role_assignments WHERE principal_lc = ? ORDER BY seq'),
      ended: db.prepare('SELECT name_lc FROM az_role_assignments WHERE pim_end <= ?'),
      insA: db.prepare(
        'INSERT INTO az_role_assignments (name_lc, triple_lc, principal_lc, pim_end, body) VALUES (?, ?, ?, ?, ?)',
      ),
      updA: db.prepare('UPDATE az_role_assignments SET body = ?, pim_end = ? WHERE name_lc = ?'),
      delA: db.prepare('DELETE FROM az_role_assignments WHERE name_lc = ?'),
      allA: db.prepare('SELECT body FROM az_role_assignments ORDER BY seq'),
      getR: db.prepare('SELECT body FROM az_schedule_requests WHERE name_lc = ?'),
      putR: db.prepare(
        `INSERT INTO az_schedule_requests (name_lc, body) VALUES (?, ?)
         ON CONFLICT (name_lc) DO UPDATE SET body = excluded.body`,
      ),
      allR: db.prepare('SELECT body FROM az_schedule_requests ORDER BY seq'),
    };
  }

  static triple(scope: string, principalId: string, roleGuid: string): string {
    return `${scope}|${principalId}|${roleGuid}`.toLowerCase();
  }

  assignment(name: string): StoredAssignment | undefined {
    const row = this.q.getA.get(name.toLowerCase()) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as StoredAssignment) : undefined;
  }
  /** Assignments of one (scope, principal, role); more than one only when seeded that way. */
  assignmentsOf(scope: string, principalId: string, roleGuid: string): StoredAssignment[] {
    const rows = this.q.byTriple.all(AuthorizationStore.triple(scope, principalId, roleGuid)) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as StoredAssignment);
  }
  insertAssignment(a: StoredAssignment): StoredAssignment {
    this.q.insA.run(
      a.name.toLowerCase(),
      AuthorizationStore.triple(a.scope, a.principalId, a.roleGuid),
      a.principalId.toLowerCase(),
      pimEnd(a),
      JSON.stringify(a),
    );
    return a;
  }
  updateAssignment(a: StoredAssignment): StoredAssignment {
    this.q.updA.run(JSON.stringify(a), pimEnd(a), a.name.toLowerCase());
    return a;
  }
  /** One principal's assignments, in creation order (what a `principalId eq` list reads). */
  assignmentsOfPrincipal(principalId: string): StoredAssignment[] {
    const rows = this.q.byPrincipal.all(principalId.toLowerCase()) as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as StoredAssignment);
  }
  /** Names of the PIM assignments whose schedule ended at or before `now`. */
  endedAssignments(now: number): string[] {
    return (this.q.ended.all(now) as { name_lc: string }[]).map((r) => r.name_lc);
  }
  deleteAssignment(name: string): boolean {
    return this.q.delA.run(name.toLowerCase()).changes > 0;
  }
  /** Every assignment in creation order (lists by principal and expiry sweeps use the indexes instead). */
  assignments(): StoredAssignment[] {
    return (this.q.allA.all() as { body: string }[]).map((r) => JSON.parse(r.body) as StoredAssignment);
  }

  request(name: string): StoredScheduleRequest | undefined {
    const row = this.q.getR.get(name.toLowerCase()) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as StoredScheduleRequest) : undefined;
  }
  putRequest(r: StoredScheduleRequest): StoredScheduleRequest {
    this.q.putR.run(r.name.toLowerCase(), JSON.stringify(r));
    return r;
  }
  requests(): StoredScheduleRequest[] {
    return (this.q.allR.all() as { body: string }[]).map((r) => JSON.parse(r.body) as StoredScheduleRequest);
  }

  customRole<T>(guid: string): T | undefined {
    return this.store.docs.get<T>('roledef', guid.toLowerCase());
  }
  putCustomRole<T>(guid: string, role: T): T {
    return this.store.docs.put('roledef', guid.toLowerCase(), role);
  }
  deleteCustomRole(guid: string): boolean {
    return this.store.docs.delete('roledef', guid.toLowerCase());
  }
  customRoles<T>(): T[] {
    return this.store.docs.list<T>('roledef');
  }

  settings(): AuthorizationSettings {
    const s = this.store.docs.get<Partial<AuthorizationSettings>>('authz', 'settings') ?? {};
    return {
      ...DEFAULT_AUTHZ_SETTINGS,
      ...s,
      maxActiveMs: { ...DEFAULT_AUTHZ_SETTINGS.maxActiveMs, ...s.maxActiveMs },
    };
  }
  putSettings(s: AuthorizationSettings): AuthorizationSettings {
    return this.store.docs.put('authz', 'settings', s);
  }

  transaction<R>(fn: () => R): R {
    return this.store.docs.transaction(fn);
  }
}

const pimEnd = (a: StoredAssignment) => (a.pim?.endDateTime ? Date.parse(a.pim.endDateTime) : null);

/**
 * The principal and PIM end as indexed columns, so a read-back by principal and the expiry sweep stay
 * cheap with tens of thousands of assignments. A database from before they existed gets them filled in.
 */
function addIndexedColumns(db: AzureStore['docs']['db']): void {
  const columns = (db.prepare('PRAGMA table_info(az_role_assignments)').all() as { name: string }[]).map((c) => c.name);
  if (!columns.includes('principal_lc')) {
    db.exec('ALTER TABLE az_role_assignments ADD COLUMN principal_lc TEXT');
    db.exec('ALTER TABLE az_role_assignments ADD COLUMN pim_end INTEGER');
    const rows = db.prepare('SELECT name_lc, body FROM az_role_assignments').all() as {
      name_lc: string;
      body: string;
    }[];
    const set = db.prepare('UPDATE az_role_assignments SET principal_lc = ?, pim_end = ? WHERE name_lc = ?');
    for (const r of rows) {
      const a = JSON.parse(r.body) as StoredAssignment;
      set.run(a.principalId.toLowerCase(), pimEnd(a), r.name_lc);
    }
  }
  db.exec(`CREATE INDEX IF NOT EXISTS az_role_assignments_principal ON az_role_assignments (principal_lc);
    CREATE INDEX IF NOT EXISTS az_role_assignments_pim_end ON az_role_assignments (pim_end)`);
}
