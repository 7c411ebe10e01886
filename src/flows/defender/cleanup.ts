import { HttpError } from '../../connectors/http.ts';
import type { JobHandler, JobResult } from '../../engine/engine.ts';
import type { FlowDispatch } from '../../engine/flow.ts';
import { governanceKey, jobError, pool, type Deps } from './effects.ts';
import { FLOW } from './flow.ts';

/**
 * Removing what Ticketloop wrote into Defender: governance assignments of healed assessments
 * (queued by reconcile), and the whole cascade when an integration is deleted — its governance
 * assignments removed, its rows dropped, its open tickets annotated (via the flow).
 */

const PURGE_BATCH = 500;

async function deleteAssignments(d: Deps, integration: string, pairs: [string, string][]): Promise<void> {
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

export function cleanupHandlers(d: Deps): Record<string, JobHandler> {
  const db = d.app.store.db;
  return {
    'defender.ungovern': async (p: { integration: string; pairs: [string, string][] }) => {
      try {
        await deleteAssignments(d, p.integration, p.pairs);
        return {};
      } catch (e) {
        throw jobError(e);
      }
    },

    /** One batch of the deletion cascade; chains itself until the integration's rows are gone. */
    'defender.purge': async (p: { integration: string; run: string; round: number }, ctx): Promise<JobResult> => {
      if (d.integrations.get(p.integration)) return {}; // re-created meanwhile: not ours to purge
      try {
        const rows = await db
          .selectFrom('defender_assessment')
          .select(['id', 'resource_id', 'name', 'gov'])
          .where('integration', '=', p.integration)
          .limit(PURGE_BATCH)
          .execute();
        await deleteAssignments(d, p.integration, rows.filter((r) => r.gov).map((r) => [r.resource_id, r.name]));
        if (rows.length) await db.deleteFrom('defender_assessment').where('integration', '=', p.integration).where('id', 'in', rows.map((r) => r.id)).execute();
        await ctx.heartbeat();
        if (rows.length === PURGE_BATCH) {
          return { jobs: [{ kind: 'defender.purge', key: `defender-purge:${p.integration}:${p.run}:${p.round + 1}`, payload: { ...p, round: p.round + 1 } }] };
        }
        // Rows done: tell every item of the integration, which annotates its open ticket.
        const prefix = `${p.integration}:`;
        const items = await db.selectFrom('flow_state').select('id').where('flow', '=', FLOW).where('id', 'like', `${prefix}%`).execute();
        const events: FlowDispatch[] = items.filter((r) => r.id.startsWith(prefix)).map((r) => ({ flow: FLOW, id: r.id, event: { type: 'integration_deleted' } }));
        return { events };
      } catch (e) {
        throw jobError(e);
      }
    },
  };
}
