import type { Kysely, Migration } from 'kysely';
import type { JobHandler } from '../../engine/engine.ts';
import type { Dialect } from '../../store/db.ts';
import { jsonText } from '../../store/json.ts';
import type { Database } from '../../store/schema.ts';
import { assignmentItem, type AssignmentEvent, type AssignmentState } from './assignment.ts';
import type { PodIntegration } from './config.ts';
import { FLOW } from './flow.ts';
import { covers, isAtOrBelow } from './policy.ts';
import type { ActualAssignment, AssignmentTarget } from './providers/port.ts';
import type { ProviderRegistry } from './providers/registry.ts';

/**
 * The ledger reconciles: on a schedule, every managed scope's actual assignments are read from the
 * provider and compared with what Ticketloop holds. Three kinds of drift:
 *   missing  — Ticketloop made an assignment the provider no longer has;
 *   leftover — the provider still has one Ticketloop revoked;
 *   outside  — a direct assignment of a managed permission that Ticketloop neither made nor found before.
 * Findings are rows in `pod_drift` (first and last seen; resolved when the drift is gone), reported
 * through GET /api/pod/drift and notified when new.
 */

export interface PodDriftTable {
  integration: string;
  /** The target, as `system|type|principal|permission|scope`. */
  key: string;
  kind: 'missing' | 'leftover' | 'outside';
  system: string;
  detail: string;
  first_seen: number;
  last_seen: number;
  resolved_at: number | null;
}

type DriftDb = Kysely<Database & { pod_drift: PodDriftTable }>;

export function podMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0008_pod_drift': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('pod_drift')
          .addColumn('integration', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('system', 'text', (c) => c.notNull())
          .addColumn('detail', 'text', (c) => c.notNull())
          .addColumn('first_seen', bigint, (c) => c.notNull())
          .addColumn('last_seen', bigint, (c) => c.notNull())
          .addColumn('resolved_at', bigint)
          .addPrimaryKeyConstraint('pod_drift_pk', ['integration', 'key', 'kind'])
          .execute();
      },
    },
  };
}

const targetKey = (system: string, t: AssignmentTarget) =>
  [system, t.principal.type, t.principal.id, t.permission, t.scope].join('|').toLowerCase();

export interface Finding {
  key: string;
  kind: PodDriftTable['kind'];
  system: string;
  detail: string;
  /** For missing and leftover: the ledger's assignment (and the provider's ref) a fix acts on. */
  ledger?: { state: AssignmentState; ref?: string };
}

/** Compare one system's ledger with what its provider lists in the managed scopes (pure). */
/**
 * The ledger is read before and after the provider's list: an assignment judged missing or leftover
 * must have stood still (same status and generation) across the list, and one the provider shows is
 * "outside" only if the ledger did not know it even afterwards — a grant or revoke that ran while
 * the list was being read is not drift.
 */
export function compare(
  system: string,
  before: AssignmentState[],
  after: AssignmentState[],
  actual: ActualAssignment[],
  managed: Set<string>,
): Finding[] {
  const findings: Finding[] = [];
  const seen = new Map(actual.filter((a) => a.via === 'direct').map((a) => [targetKey(system, a), a]));
  const earlier = new Map(before.map((a) => [targetKey(system, a.target), a]));
  const known = new Set<string>();
  for (const a of after) {
    const key = targetKey(system, a.target);
    known.add(key);
    const was = earlier.get(key);
    if (!was || was.status !== a.status || was.generation !== a.generation) continue;
    const there = seen.get(key);
    if (a.status === 'present' && !a.preexisting && !there)
      findings.push({
        key,
        kind: 'missing',
        system,
        detail: `granted by Ticketloop for ${a.holders.join(', ')} but gone from the provider`,
        ledger: { state: a },
      });
    if (a.status === 'absent' && a.generation > 0 && there)
      findings.push({
        key,
        kind: 'leftover',
        system,
        detail: `revoked by Ticketloop but still assigned (${there.ref})`,
        ledger: { state: a, ref: there.ref },
      });
  }
  for (const [key, a] of seen)
    if (!known.has(key) && managed.has(a.permission.toLowerCase()))
      findings.push({
        key,
        kind: 'outside',
        system,
        detail: `assigned outside Ticketloop (${a.ref}) on a managed permission`,
      });
  return findings;
}

export interface DriftDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  providers: ProviderRegistry;
  integrations: () => PodIntegration[];
  now: () => number;
  /** Called once per new finding. */
  onNew(integration: string, f: Finding): Promise<void>;
}

export function reconcileHandler(d: DriftDeps): JobHandler {
  return async (p: { integration: string }) => {
    const i = d.integrations().find((x) => x.name === p.integration);
    if (!i) return;
    const now = d.now();
    const readLedger = async () =>
      (
        await d.db
          .selectFrom('flow_state')
          .select('state')
          .where('flow', '=', FLOW)
          .where('id', 'like', 'a:%')
          .where(jsonText(d.dialect, 'state', 'integration'), '=', i.name)
          .execute()
      ).map((r) => JSON.parse(r.state) as AssignmentState);
    const before = await readLedger();
    const listed: {
      system: string;
      scopes: string[];
      actual: ActualAssignment[];
      managed: Set<string>;
      fixable: Set<string>;
    }[] = [];
    for (const system of i.systems) {
      const provider = d.providers.get(i.name, system.name);
      const permissions = i.permissions.filter((x) => x.system === system.name);
      const ids = await Promise.all(
        permissions.map((x) => d.providers.resolve(i.name, system.name, x.grants, system.scopes[0] ?? '/')),
      );
      const scopes = system.provider.startsWith('entra') ? ids.map((x) => `/groups/${x.id}`) : system.scopes;
      const actual: ActualAssignment[] = [];
      for (const scope of scopes) for await (const page of provider.list(scope)) actual.push(...page);
      const fixedBy = (name: string) => i.policies.some((p) => p.fixDrift && covers(p, name));
      listed.push({
        system: system.name,
        scopes,
        actual,
        managed: new Set(ids.map((x) => x.id.toLowerCase())),
        fixable: new Set(ids.filter((_, n) => fixedBy(permissions[n].name)).map((x) => x.id.toLowerCase())),
      });
    }
    const after = await readLedger();
    const findings: Finding[] = [];
    const fixes = [];
    for (const l of listed) {
      const inScope = (ledger: AssignmentState[]) =>
        ledger.filter((a) => a.system === l.system && l.scopes.some((s) => isAtOrBelow(a.target.scope, s)));
      for (const f of compare(l.system, inScope(before), inScope(after), l.actual, l.managed)) {
        const fix = f.ledger && l.fixable.has(f.ledger.state.target.permission.toLowerCase()) ? fixEvent(f) : undefined;
        findings.push(fix ? { ...f, detail: `${f.detail}; fixing it (fixDrift)` } : f);
        if (fix) fixes.push(fix);
      }
    }
    await record(d, i.name, findings, now);
    // Applied when this job finishes, in one transaction with it; a stale fix (the ledger moved) does nothing.
    return { events: fixes };
  };
}

/**
 * What fixes a finding, when its policy says so: a missing grant is granted again, a leftover is
 * revoked again. Access assigned outside Ticketloop is reported only — Ticketloop never removes
 * access it did not grant.
 */
function fixEvent(f: Finding) {
  const a = f.ledger!.state;
  const event: AssignmentEvent = {
    type: 'fix_drift',
    generation: a.generation,
    drift: f.kind === 'missing' ? 'missing' : 'leftover',
    ref: f.ledger!.ref,
  };
  const id = assignmentItem(
    a.integration,
    a.system,
    { identity: a.target.principal, scope: a.target.scope },
    a.target.permission,
  );
  return { flow: FLOW, id, event };
}

async function record(d: DriftDeps, integration: string, findings: Finding[], now: number): Promise<void> {
  const db = d.db as unknown as DriftDb;
  const open = await db
    .selectFrom('pod_drift')
    .selectAll()
    .where('integration', '=', integration)
    .where('resolved_at', 'is', null)
    .execute();
  const openKeys = new Set(open.map((r) => `${r.key}\u0000${r.kind}`));
  const found = new Set(findings.map((f) => `${f.key}\u0000${f.kind}`));
  for (const f of findings) {
    const isNew = !openKeys.has(`${f.key}\u0000${f.kind}`);
    await db
      .insertInto('pod_drift')
      .values({
        integration,
        key: f.key,
        kind: f.kind,
        system: f.system,
        detail: f.detail,
        first_seen: now,
        last_seen: now,
        resolved_at: null,
      })
      .onConflict((oc) =>
        oc
          .columns(['integration', 'key', 'kind'])
          .doUpdateSet(
            isNew
              ? { detail: f.detail, first_seen: now, last_seen: now, resolved_at: null }
              : { detail: f.detail, last_seen: now },
          ),
      )
      .execute();
    if (isNew) await d.onNew(integration, { key: f.key, kind: f.kind, system: f.system, detail: f.detail });
  }
  for (const r of open)
    if (!found.has(`${r.key}\u0000${r.kind}`))
      await db
        .updateTable('pod_drift')
        .set({ resolved_at: now })
        .where('integration', '=', integration)
        .where('key', '=', r.key)
        .where('kind', '=', r.kind)
        .execute();
}

/** Open drift (or all, with `resolved`), newest first. */
export async function listDrift(db: Kysely<Database>, o: { integration?: string; includeResolved: boolean }) {
  let q = (db as unknown as DriftDb).selectFrom('pod_drift').selectAll();
  if (o.integration) q = q.where('integration', '=', o.integration);
  if (!o.includeResolved) q = q.where('resolved_at', 'is', null);
  const rows = await q.orderBy('first_seen', 'desc').limit(1000).execute();
  return rows.map((r) => ({
    integration: r.integration,
    system: r.system,
    kind: r.kind,
    target: r.key,
    detail: r.detail,
    firstSeen: new Date(Number(r.first_seen)).toISOString(),
    lastSeen: new Date(Number(r.last_seen)).toISOString(),
    resolvedAt: r.resolved_at === null ? null : new Date(Number(r.resolved_at)).toISOString(),
  }));
}
