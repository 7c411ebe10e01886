import type { Ticketloop } from '../../app/build.ts';
import type { JobSpec } from '../../engine/jobs.ts';
import { appendAudit } from '../../store/audit.ts';
import type { DefenderIntegration } from './config.ts';
import { withoutSecrets, type Integrations } from './integrations.ts';
import { defenderDb } from './tables.ts';

/**
 * An integration removed from the configuration file is deleted like one removed over the API —
 * its governance assignments removed, its open tickets annotated (cleanup.ts) — but only after
 * `removalGraceHours` (default 24 h), in case it comes back. At each start the file's integrations
 * are compared with those last seen; one missing gets `gone_at` and a delayed purge job, which does
 * nothing if the integration is back by then (or went again later: the job names its `gone_at`).
 */

const DEFAULT_GRACE_HOURS = 24;
const HOUR_MS = 3_600_000;

/** The purge run of a removal: tells cleanup.ts which `gone_at` it belongs to. */
export const removalRun = (goneAt: number) => `gone-${goneAt}`;

export async function trackConfigFile(app: Ticketloop, integrations: Integrations): Promise<void> {
  const now = app.clock.now();
  const inFile = new Map(
    integrations
      .list()
      .filter((e) => e.source === 'config')
      .map((e) => [e.config.name, e.config]),
  );
  await app.store.db.transaction().execute(async (trx) => {
    const tx = defenderDb(trx);
    const seen = await tx.selectFrom('defender_config_integration').selectAll().execute();
    const audit: Parameters<typeof appendAudit>[1] = [];
    const jobs: JobSpec[] = [];
    for (const [name, config] of inFile) {
      const row = { name, config: JSON.stringify(withoutSecrets(config)), gone_at: null, updated_at: now };
      if (seen.find((r) => r.name === name)?.gone_at != null)
        audit.push({ kind: 'admin', actor: 'ticketloop', subject: `defender/${name}`, detail: { action: 'returned' } });
      await tx
        .insertInto('defender_config_integration')
        .values(row)
        .onConflict((oc) => oc.column('name').doUpdateSet({ config: row.config, gone_at: null, updated_at: now }))
        .execute();
    }
    for (const r of seen) {
      if (inFile.has(r.name)) continue;
      const config = JSON.parse(r.config) as DefenderIntegration;
      // Its settings stay reachable for the jobs finishing after it (notes on its tickets).
      integrations.retire(r.name, config);
      if (r.gone_at != null || integrations.get(r.name)) continue; // already counting down / now an API one
      const graceHours = config.removalGraceHours ?? DEFAULT_GRACE_HOURS;
      const purgeAt = now + graceHours * HOUR_MS;
      await tx
        .updateTable('defender_config_integration')
        .set({ gone_at: now, updated_at: now })
        .where('name', '=', r.name)
        .execute();
      const run = removalRun(now);
      jobs.push({
        kind: 'defender.purge',
        key: `defender-purge:${r.name}:${run}:0`,
        runAt: purgeAt,
        payload: { integration: r.name, run, round: 0 },
      });
      audit.push({
        kind: 'admin',
        actor: 'ticketloop',
        subject: `defender/${r.name}`,
        detail: { action: 'removed-from-config', purgeAt: new Date(purgeAt).toISOString(), graceHours },
      });
      app.log.warn(
        { integration: r.name, purgeAt: new Date(purgeAt).toISOString() },
        'defender integration gone from the configuration file: deleted after the grace period unless it comes back',
      );
    }
    if (jobs.length) await app.engine.enqueue(jobs, trx);
    if (audit.length) await appendAudit(trx, audit, now, app.store.keys);
  });
}

/** Whether a purge job still applies: an API delete always; a removal only while that very removal stands. */
export async function purgeApplies(app: Ticketloop, integration: string, run: string): Promise<boolean> {
  if (!run.startsWith('gone-')) return true;
  const row = await defenderDb(app.store.db)
    .selectFrom('defender_config_integration')
    .select('gone_at')
    .where('name', '=', integration)
    .executeTakeFirst();
  return row?.gone_at != null && removalRun(Number(row.gone_at)) === run;
}
