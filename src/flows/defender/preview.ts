import type { Ticketloop } from '../../app/build.ts';
import { DAY_MS } from '../../engine/clock.ts';
import { timeframeDays, type DefenderIntegration, type Severity } from './config.ts';
import { ACTIVE, FLOW, type ItemState } from './flow.ts';
import { assessmentJudge, itemIdFor } from './assessments.ts';
import { runtime } from './runtime.ts';

/**
 * A dry-run reconcile: the tickets a pass of this integration would open now, read from ARM with
 * the same filter and grouping as the real pass, writing nothing and calling no ITSM.
 */

export interface PreviewTicket {
  title: string;
  severity: Severity;
  resources: number;
  /** Example resource. */
  resourceId: string;
  dueDate: string;
}

export interface Preview {
  assessments: number;
  unhealthy: number;
  /** Would be opened by the next pass (within the daily cap). */
  open: PreviewTicket[];
  /** Already have a live ticket. */
  tracked: number;
  /** Over the daily cap: opened on later days. */
  capped: number;
}

export async function previewReconcile(app: Ticketloop, i: DefenderIntegration): Promise<Preview> {
  const d = runtime(app);
  const judge = assessmentJudge(i);
  await d.meta.prime();
  const items = new Map<string, PreviewTicket>();
  let assessments = 0;
  let unhealthy = 0;
  for await (const page of app.connections.microsoft().arm.listAssessments(i.scope, { pageSize: i.pageSize })) {
    for (const a of page.value) {
      assessments++;
      const { entry, unhealthy: bad } = judge(a, await d.meta.get(a.name));
      if (!bad) continue;
      unhealthy++;
      const id = itemIdFor(i, entry.name, entry.resourceId);
      const t = items.get(id);
      if (t) t.resources++;
      else {
        const due = app.clock.now() + timeframeDays(i, entry.severity) * DAY_MS;
        items.set(id, {
          title: entry.title,
          severity: entry.severity,
          resources: 1,
          resourceId: entry.resourceId,
          dueDate: new Date(due).toISOString().slice(0, 10),
        });
      }
    }
  }
  const live = new Set<string>();
  const ids = [...items.keys()];
  for (let k = 0; k < ids.length; k += 1000) {
    const rows = await app.store.db
      .selectFrom('flow_state')
      .select(['id', 'state'])
      .where('flow', '=', FLOW)
      .where('id', 'in', ids.slice(k, k + 1000))
      .execute();
    for (const r of rows) if (ACTIVE.includes((JSON.parse(r.state) as ItemState).status)) live.add(r.id);
  }
  const fresh = ids.filter((id) => !live.has(id)).map((id) => items.get(id)!);
  const cap = i.dailyCap === 0 ? fresh.length : i.dailyCap;
  return {
    assessments,
    unhealthy,
    open: fresh.slice(0, cap),
    tracked: live.size,
    capped: Math.max(0, fresh.length - cap),
  };
}
