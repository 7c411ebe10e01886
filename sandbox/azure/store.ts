import { DocStore } from '../shared/persist.ts';

/**
 * The Azure sandbox's state in `${dataDir}/azure.db`. Small things (management groups,
 * subscriptions, connectors, generation settings) are DocStore documents; assessments, status
 * overrides and governance assignments get their own tables so a page of a large list is one
 * indexed range query instead of a scan.
 */

export interface ManagementGroup {
  name: string;
  displayName: string;
  /** Subscriptions directly below this group (a subscription has one parent group). */
  subscriptions: string[];
  /** Name of the parent group; absent means the tenant root group (which itself has none). */
  parent?: string;
  updatedTime?: string;
}

export interface Subscription {
  subscriptionId: string;
  displayName: string;
  state?: 'Enabled' | 'Warned' | 'PastDue' | 'Disabled' | 'Deleted';
  tags?: Record<string, string>;
}

export interface ResourceGroup {
  subscriptionId: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
}

/** An RBAC deny: `principalId` (oid or app id) may not perform `actions` at or below `scope`. */
export interface DenyRule {
  id: string;
  principalId: string;
  scope: string;
  /** Action patterns; `*` matches any characters (`*\/read`, `Microsoft.Security/*`). */
  actions: string[];
}

export interface SecurityConnector {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  environment: 'AWS' | 'GCP';
  /** AWS account id or GCP project id. */
  hierarchyIdentifier: string;
  /**
   * `environmentData.organizationalData`: an AWS organization's management account or a GCP
   * organization ("master" connector, `Organization`) or one of its members (`Member`, with the
   * master's hierarchy id as parent). A master connector's scope covers its members' resources.
   */
  organizationMembershipType?: 'Organization' | 'Member';
  parentHierarchyId?: string;
}

/** A generated set: assessment i is derived from (seed, i); only flips are stored. */
export interface Generation {
  subscriptionId: string;
  count: number;
  unhealthyRatio: number;
  recommendations: number;
  seed: number;
  createdAt: string;
}

/** An explicitly stored (seeded or PUT) assessment. */
export interface StoredAssessment {
  resourceId: string;
  name: string;
  resourceDetails: Record<string, unknown>;
  code: 'Healthy' | 'Unhealthy' | 'NotApplicable';
  cause?: string;
  description?: string;
  firstEvaluationDate: string;
  statusChangeDate: string;
  additionalData?: Record<string, string>;
  /** Set for assessments of AWS/GCP resources: the security connector they belong to. */
  connectorId?: string;
}

export interface Override {
  code: StoredAssessment['code'];
  cause: string | null;
  changedAt: string;
}

export interface GovernanceRow {
  seq: number;
  id: string;
  name: string;
  properties: Record<string, unknown>;
}

export const assessmentId = (resourceId: string, name: string) =>
  `${resourceId}/providers/Microsoft.Security/assessments/${name}`;

export class AzureStore {
  readonly docs: DocStore;
  private readonly q;

  constructor(file: string) {
    this.docs = new DocStore(file);
    const db = this.docs.db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS az_assessments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id_lc TEXT NOT NULL UNIQUE,
        sub TEXT NOT NULL,
        connector_lc TEXT,
        body TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS az_assessments_sub ON az_assessments (sub, seq);
      CREATE INDEX IF NOT EXISTS az_assessments_conn ON az_assessments (connector_lc, seq);
      CREATE TABLE IF NOT EXISTS az_overrides (
        sub TEXT NOT NULL, idx INTEGER NOT NULL, code TEXT NOT NULL, cause TEXT, changed_at TEXT NOT NULL,
        PRIMARY KEY (sub, idx)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS az_governance (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        scope_lc TEXT NOT NULL, assessment_lc TEXT NOT NULL, key_lc TEXT NOT NULL,
        id TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
        UNIQUE (scope_lc, assessment_lc, key_lc));
      CREATE INDEX IF NOT EXISTS az_governance_assessment ON az_governance (assessment_lc, seq);`);
    this.q = {
      getA: db.prepare('SELECT body FROM az_assessments WHERE id_lc = ?'),
      putA: db.prepare(
        `INSERT INTO az_assessments (id_lc, sub, connector_lc, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (id_lc) DO UPDATE SET body = excluded.body, connector_lc = excluded.connector_lc`,
      ),
      delA: db.prepare('DELETE FROM az_assessments WHERE id_lc = ?'),
      pageBySub: db.prepare('SELECT seq, body FROM az_assessments WHERE sub = ? AND seq > ? ORDER BY seq LIMIT ?'),
      pageByConn: db.prepare(
        'SELECT seq, body FROM az_assessments WHERE connector_lc = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      overridesIn: db.prepare(
        'SELECT idx, code, cause, changed_at FROM az_overrides WHERE sub = ? AND idx >= ? AND idx < ?',
      ),
      putOverride: db.prepare(
        `INSERT INTO az_overrides (sub, idx, code, cause, changed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sub, idx) DO UPDATE SET code = excluded.code, cause = excluded.cause, changed_at = excluded.changed_at`,
      ),
      clearOverrides: db.prepare('DELETE FROM az_overrides WHERE sub = ?'),
      getG: db.prepare(
        'SELECT seq, id, name, body FROM az_governance WHERE scope_lc = ? AND assessment_lc = ? AND key_lc = ?',
      ),
      insG: db.prepare(
        'INSERT INTO az_governance (scope_lc, assessment_lc, key_lc, id, name, body) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      updG: db.prepare('UPDATE az_governance SET body = ? WHERE seq = ?'),
      delG: db.prepare('DELETE FROM az_governance WHERE scope_lc = ? AND assessment_lc = ? AND key_lc = ?'),
      // A scope also covers the resources below it ("all of your resources inside a scope"):
      // '/' sorts just before '0', so [scope + '/', scope + '0') is exactly the scope's subtree.
      pageG: db.prepare(
        `SELECT seq, id, name, body FROM az_governance
         WHERE assessment_lc = ? AND (scope_lc = ? OR (scope_lc >= ? AND scope_lc < ?)) AND seq > ? ORDER BY seq LIMIT ?`,
      ),
    };
  }

  // --- management groups, subscriptions, connectors -------------------------------------------

  subscription(id: string): Subscription | undefined {
    return this.docs.get<Subscription>('sub', id.toLowerCase());
  }
  putSubscription(s: Subscription): Subscription {
    return this.docs.put('sub', s.subscriptionId.toLowerCase(), s);
  }
  subscriptions(): Subscription[] {
    return this.docs.list<Subscription>('sub');
  }
  managementGroup(name: string): ManagementGroup | undefined {
    return this.docs.get<ManagementGroup>('mg', name.toLowerCase());
  }
  putManagementGroup(mg: ManagementGroup): ManagementGroup {
    return this.docs.put('mg', mg.name.toLowerCase(), mg);
  }
  managementGroups(): ManagementGroup[] {
    return this.docs.list<ManagementGroup>('mg');
  }
  resourceGroup(subscriptionId: string, name: string): ResourceGroup | undefined {
    return this.docs.get<ResourceGroup>('rg', `${subscriptionId}/${name}`.toLowerCase());
  }
  putResourceGroup(rg: ResourceGroup): ResourceGroup {
    return this.docs.put('rg', `${rg.subscriptionId}/${rg.name}`.toLowerCase(), rg);
  }
  resourceGroups(subscriptionId: string): ResourceGroup[] {
    const sub = subscriptionId.toLowerCase();
    return this.docs.list<ResourceGroup>('rg').filter((g) => g.subscriptionId.toLowerCase() === sub);
  }
  denyRules(): DenyRule[] {
    return this.docs.list<DenyRule>('rbac-deny');
  }
  putDenyRule(r: DenyRule): DenyRule {
    return this.docs.put('rbac-deny', r.id, r);
  }
  deleteDenyRule(id: string): void {
    this.docs.delete('rbac-deny', id);
  }
  connector(id: string): SecurityConnector | undefined {
    return this.docs.get<SecurityConnector>('connector', id.toLowerCase());
  }
  putConnector(c: SecurityConnector): SecurityConnector {
    return this.docs.put('connector', c.id.toLowerCase(), c);
  }
  connectors(): SecurityConnector[] {
    return this.docs.list<SecurityConnector>('connector');
  }

  // --- explicit assessments --------------------------------------------------------------------

  assessment(id: string): StoredAssessment | undefined {
    const row = this.q.getA.get(id.toLowerCase()) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as StoredAssessment) : undefined;
  }
  putAssessment(subscriptionId: string, a: StoredAssessment): StoredAssessment {
    const id = assessmentId(a.resourceId, a.name).toLowerCase();
    this.q.putA.run(id, subscriptionId.toLowerCase(), a.connectorId?.toLowerCase() ?? null, JSON.stringify(a));
    return a;
  }
  deleteAssessment(id: string): boolean {
    return this.q.delA.run(id.toLowerCase()).changes > 0;
  }
  /** Up to `limit` assessments of a subscription (or of a security connector) after `afterSeq`. */
  assessmentPage(by: { subscriptionId?: string; connectorId?: string }, afterSeq: number, limit: number) {
    const rows = (
      by.connectorId
        ? this.q.pageByConn.all(by.connectorId.toLowerCase(), afterSeq, limit)
        : this.q.pageBySub.all(by.subscriptionId!.toLowerCase(), afterSeq, limit)
    ) as Array<{ seq: number; body: string }>;
    return rows.map((r) => ({ seq: r.seq, a: JSON.parse(r.body) as StoredAssessment }));
  }

  // --- generated assessments -------------------------------------------------------------------

  generation(subscriptionId: string): Generation | undefined {
    return this.docs.get<Generation>('generation', subscriptionId.toLowerCase());
  }
  /** Replacing a generated set drops the old set's flips: indexes mean different things now. */
  putGeneration(g: Generation): Generation {
    return this.docs.transaction(() => {
      this.q.clearOverrides.run(g.subscriptionId.toLowerCase());
      return this.docs.put('generation', g.subscriptionId.toLowerCase(), g);
    });
  }
  overrides(subscriptionId: string, from: number, to: number): Map<number, Override> {
    const rows = this.q.overridesIn.all(subscriptionId.toLowerCase(), from, to) as Array<{
      idx: number;
      code: Override['code'];
      cause: string | null;
      changed_at: string;
    }>;
    return new Map(rows.map((r) => [r.idx, { code: r.code, cause: r.cause, changedAt: r.changed_at }]));
  }
  putOverrides(subscriptionId: string, indexes: number[], o: Override): void {
    this.docs.transaction(() => {
      for (const i of indexes) this.q.putOverride.run(subscriptionId.toLowerCase(), i, o.code, o.cause, o.changedAt);
    });
  }

  // --- governance assignments ------------------------------------------------------------------

  governance(scope: string, assessmentName: string, key: string): GovernanceRow | undefined {
    const row = this.q.getG.get(scope.toLowerCase(), assessmentName.toLowerCase(), key.toLowerCase()) as
      { seq: number; id: string; name: string; body: string } | undefined;
    return row ? { seq: row.seq, id: row.id, name: row.name, properties: JSON.parse(row.body) } : undefined;
  }
  /** Insert or replace; true when it was created. */
  putGovernance(scope: string, assessmentName: string, key: string, id: string, properties: object): boolean {
    return this.docs.transaction(() => {
      const existing = this.governance(scope, assessmentName, key);
      if (existing) {
        this.q.updG.run(JSON.stringify(properties), existing.seq);
        return false;
      }
      this.q.insG.run(
        scope.toLowerCase(),
        assessmentName.toLowerCase(),
        key.toLowerCase(),
        id,
        key,
        JSON.stringify(properties),
      );
      return true;
    });
  }
  deleteGovernance(scope: string, assessmentName: string, key: string): boolean {
    return this.q.delG.run(scope.toLowerCase(), assessmentName.toLowerCase(), key.toLowerCase()).changes > 0;
  }
  governancePage(scope: string, assessmentName: string, afterSeq: number, limit: number): GovernanceRow[] {
    const lc = scope.toLowerCase();
    const rows = this.q.pageG.all(assessmentName.toLowerCase(), lc, `${lc}/`, `${lc}0`, afterSeq, limit) as Array<{
      seq: number;
      id: string;
      name: string;
      body: string;
    }>;
    return rows.map((r) => ({ seq: r.seq, id: r.id, name: r.name, properties: JSON.parse(r.body) }));
  }

  close(): void {
    this.docs.close();
  }
}
