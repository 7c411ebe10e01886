import type { FlowEvent } from '../../engine/apply.ts';
import type { JobHandler, JobResult } from '../../engine/engine.ts';
import { HttpError } from '../../engine/errors.ts';
import { governanceKey, pool, type Deps } from './effects.ts';
import { FLOW } from './flow.ts';
import { purgeApplies } from './removal.ts';
import { defenderDb } from './tables.ts';

/**
 * Removing what Ticketloop wrote into Defender: governance assignments of healed assessments
 * (queued by reconcile), and the whole cascade when an integration is deleted (over the API, or
 * gone from the configuration file past its grace period: removal.ts) — its governance
 * assignments removed, its rows dropped, its open tickets annotated (via the flow).
 */

const PURGE_BATCH = 500;

export async function deleteAssignments(d: Deps, integration: string, pairs: [string, string][]): Promise<void> {
  const arm = d.app.connections.microsoft().arm;
  const results = await pool(pairs, 8, async ([resourceId, name]) => {
    try {
      await arm.deleteGovernanceAssignment(resourceId, name, governanceKey(integration, resourceId, name));
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return; // resource itself gone
      throw e;
    }
  });
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason; // DELETE is idempotent: the retry redoes the whole batch safely
}

/** Job handlers `defender.ungovern`, `defender.unassign` and `defender.purge`. */
export function cleanupHandlers(d: Deps): Record<string, JobHandler> {
  const db = defenderDb(d.app.store.db);
  return {
    async ungovern(p: { integration: string; pairs: [string, string][] }) {
      await deleteAssignments(d, p.integration, p.pairs);
      return {};
    },

    /**
     * A deleted manual assignment: its members' governance assignments removed and their rows
     * dropped (batch by batch, each step safe to redo), so the next pass sees the resources as new
     * and takes them into the integration's automatic items.
     */
    async unassign(p: { flowId: string; integration: string }, ctx) {
      for (;;) {
        const rows = await db
          .selectFrom('defender_assessment')
          .select(['id', 'resource_id', 'name', 'governed_ticket'])
          .where('integration', '=', p.integration)
          .where('item', '=', p.flowId)
          .limit(PURGE_BATCH)
          .execute();
        if (!rows.length) return {};
        const governed = rows.filter((r) => r.governed_ticket).map((r): [string, string] => [r.resource_id, r.name]);
        await deleteAssignments(d, p.integration, governed);
        await db
          .deleteFrom('defender_assessment')
          .where('integration', '=', p.integration)
          .where(
            'id',
            'in',
            rows.map((r) => r.id),
          )
          .where('item', '=', p.flowId)
          .execute();
        await ctx.heartbeat();
      }
    },

    /** One batch of the deletion cascade; chains itself until the integration's rows are gone. */
    async purge(p: { integration: string; run: string; round: number }, ctx): Promise<JobResult> {
      if (d.integrations.get(p.integration)) return {}; // re-created (or back in the file) meanwhile: not ours to purge
      if (!(await purgeApplies(d.app, p.integration, p.run))) return {}; // back in the file, gone again later
      const rows = await db
        .selectFrom('defender_assessment')
        .select(['id', 'resource_id', 'name', 'governed_ticket'])
        .where('integration', '=', p.integration)
        .limit(PURGE_BATCH)
        .execute();
      await deleteAssignments(
        d,
        p.integration,
        rows.filter((r) => r.governed_ticket).map((r) => [r.resource_id, r.name]),
      );
      if (rows.length) {
        const ids = rows.map((r) => r.id);
        await db
          .deleteFrom('defender_assessment')
          .where('integration', '=', p.integration)
          .where('id', 'in', ids)
          .execute();
      }
      await ctx.heartbeat();
      if (rows.length === PURGE_BATCH) {
        const next = { ...p, round: p.round + 1 };
        return {
          jobs: [
            { kind: 'defender.purge', key: `defender-purge:${p.integration}:${p.run}:${next.round}`, payload: next },
          ],
        };
      }
      await db.deleteFrom('defender_manual_assignment').where('integration', '=', p.integration).execute();
      // Rows done: tell every item of the integration, which annotates its open ticket.
      const prefix = `${p.integration}:`;
      const items = await db
        .selectFrom('flow_state')
        .select('id')
        .where('flow', '=', FLOW)
        .where('id', 'like', `${prefix}%`)
        .execute();
      const events: FlowEvent[] = items
        .filter((r) => r.id.startsWith(prefix))
        .map((r) => ({ flow: FLOW, id: r.id, event: { type: 'integration_deleted' } }));
      return { events };
    },
  };
}
