import type { Kysely } from 'kysely';
import type { Ticketloop } from '../../../app/build.ts';
import type { HealthIssue } from '../../../connectors/microsoft/service-health.ts';
import { inTransaction } from '../../../engine/apply.ts';
import type { Database } from '../../../store/schema.ts';
import type { M365Integration } from '../config.ts';
import { FLOW, itemId, type IssueSeenEvent } from '../flow.ts';
import { HealthStore } from '../health/store.ts';

/**
 * How the health sync feeds the incidents flow: every new or changed issue is an `issue_seen` event,
 * applied in the sync's own write transaction (the store and the flow move together). After the pass,
 * open issues that have no incident item yet — kept before incidents were switched on — get theirs too.
 */

export function issueSeen(i: M365Integration, issue: HealthIssue): { flow: string; id: string; event: IssueSeenEvent } {
  return {
    flow: FLOW,
    id: itemId(i.name, issue.id),
    event: {
      type: 'issue_seen',
      integration: i.name,
      issueId: issue.id,
      kind: i.incidents.kind,
      resolveWhenResolved: i.incidents.resolveWhenResolved,
      isResolved: issue.isResolved,
      posts: issue.posts.map((p) => p.createdDateTime),
    },
  };
}

const actor = (i: M365Integration) => `health-sync:${i.name}`;

/** Apply the changed issues' events inside the sync's transaction. */
export async function applyChanged(app: Ticketloop, i: M365Integration, trx: Kysely<Database>, issues: HealthIssue[]) {
  await app.engine.applyIn(
    trx,
    issues.map((x) => issueSeen(i, x)),
    actor(i),
  );
}

/** Open issues without an incident item yet: two id reads when there are none. Returns how many were fed. */
export async function catchUpIncidents(app: Ticketloop, i: M365Integration): Promise<number> {
  const db = app.store.db;
  const store = new HealthStore(db);
  const open = await store.openIssueIds(i.name);
  if (!open.length) return 0;
  const items = await db
    .selectFrom('flow_state')
    .select('id')
    .where('flow', '=', FLOW)
    .where(
      'id',
      'in',
      open.map((id) => itemId(i.name, id)),
    )
    .execute();
  const have = new Set(items.map((r) => r.id));
  const missing = open.filter((id) => !have.has(itemId(i.name, id)));
  if (!missing.length) return 0;
  const issues: HealthIssue[] = [];
  for (const id of missing) {
    const stored = await store.issue(i.name, id);
    if (stored) issues.push(stored.issue);
  }
  await inTransaction(db, (trx) => applyChanged(app, i, trx, issues));
  return issues.length;
}
