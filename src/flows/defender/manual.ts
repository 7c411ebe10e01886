import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Assessment } from '../../connectors/microsoft/arm.ts';
import type { FlowEvent } from '../../engine/apply.ts';
import { HttpProblem } from '../../http/server.ts';
import { timeframeDays, type DefenderIntegration } from './config.ts';
import { pool, type Deps } from './effects.ts';
import { checkPeople } from './manual-edit.ts';
import { ACTIVE, FLOW, type DefenderEvent, type ItemInfo, type ItemState, type ManualSettings } from './flow.ts';
import { assessmentJudge, resourceIdOf, rowId } from './assessments.ts';
import { coreDb, defenderDb } from './tables.ts';

/**
 * "Create assignment" by hand, as in Defender: a recommendation, some of its unhealthy resources,
 * and the owner, caller, ticket type, remediation timeframe, grace period and e-mail switches for
 * them. It becomes an item of its own, fed to the flow through the same `members` event a reconcile
 * pass sends, so the same effects open the ticket and write the governance assignments. The item
 * carries the chosen settings (flow.ts keeps them on every later pass); resources taken from an
 * automatic item leave it in the same transaction.
 */

/** As many as the resources list shows for one recommendation (its first 1,000). */
export const MAX_RESOURCES = 1000;

export const manualAssignmentBody = z
  .object({
    integration: z.string().min(1).max(64),
    /** The recommendation: its assessment key. */
    assessmentKey: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9-]+$/, 'an assessment key (GUID)'),
    /** Assessed resources (the `resourceDetails.id` of each unhealthy assessment). */
    resourceIds: z.array(z.string().min(1).max(1024)).min(1).max(MAX_RESOURCES),
    ticketType: z.enum(['incident', 'change_request', 'problem']).optional(),
    /** The owner: assigned to on the ticket and the governance assignment's owner. */
    assignedTo: z.email(),
    caller: z.email().optional(),
    /** Days from now to the remediation due date; the integration's timeframe for the severity when absent. */
    remediationTimeframeDays: z.number().int().min(1).max(3650).optional(),
    gracePeriod: z.boolean().optional(),
    notifications: z
      .object({ owner: z.boolean().default(false), manager: z.boolean().default(false) })
      .strict()
      .prefault({}),
  })
  .strict();
export type ManualAssignmentInput = z.infer<typeof manualAssignmentBody>;

export const manualAssignmentView = z.object({
  id: z.string(),
  integration: z.string(),
  assessmentKey: z.string(),
  resources: z.number(),
  ticketType: z.string(),
  owner: z.string(),
  dueDate: z.string(),
  movedFromAutomatic: z.number(),
});

const invalid = (path: string, message: string) =>
  new HttpProblem(400, 'invalid_request', `${path}: ${message}`, [{ path: `body.${path}`, message }]);

/** Only subscription and resource-group scopes name their resources by prefix; the others are checked by ARM. */
function outsideScope(i: DefenderIntegration, resourceId: string): boolean {
  const scope = `/${i.scope.replace(/^\/+|\/+$/g, '')}`.toLowerCase();
  if (!/^\/subscriptions\/[^/]+(\/resourcegroups\/[^/]+)?$/.test(scope)) return false;
  const id = resourceId.toLowerCase();
  return id !== scope && !id.startsWith(`${scope}/`);
}

/** Each resource's assessment of the recommendation, read from ARM; refuses the body naming what is wrong. */
async function unhealthyAssessments(d: Deps, i: DefenderIntegration, b: ManualAssignmentInput): Promise<Assessment[]> {
  const seen = new Set<string>();
  for (const id of b.resourceIds) {
    if (seen.has(id.toLowerCase())) throw invalid('resourceIds', `${id} is listed twice`);
    seen.add(id.toLowerCase());
  }
  const outside = b.resourceIds.filter((id) => outsideScope(i, id));
  if (outside.length)
    throw invalid('resourceIds', `${outside.length} of them are outside the integration's scope ${i.scope}`);
  const arm = d.app.connections.microsoft().arm;
  const results = await pool(b.resourceIds, 8, (id) => arm.getAssessment(id, b.assessmentKey));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const found = results.map((r) => (r as PromiseFulfilledResult<Assessment | undefined>).value);
  const bad = b.resourceIds.filter((_, k) => found[k]?.properties.status?.code !== 'Unhealthy');
  if (bad.length) {
    const message = `${bad.length} of them are not unhealthy resources of this recommendation`;
    throw new HttpProblem(400, 'invalid_request', `resourceIds: ${message}`, [
      { path: 'body.resourceIds', message },
      ...bad.map((id) => ({
        path: `body.resourceIds.${b.resourceIds.indexOf(id)}`,
        message: `${id} is not unhealthy`,
      })),
    ]);
  }
  return found as Assessment[];
}

/** Item info for an item that only loses members here: its own settings, so nothing changes but the count. */
function ownInfo(s: ItemState): ItemInfo {
  const { integration, assessmentKey, resourceId, title, severity, grace, owner, policy } = s;
  return { integration, assessmentKey, resourceId, title, severity, timeframeDays: 0, grace, owner, policy };
}

export async function createManualAssignment(d: Deps, body: ManualAssignmentInput, actor: string) {
  const i = d.integrations.get(body.integration);
  if (!i) throw invalid('integration', `no defender integration named "${body.integration}"`);
  if ((body.notifications.owner || body.notifications.manager) && !i.notifications.smtp)
    throw invalid('notifications', `e-mail notifications need smtp on the integration ${i.name}`);
  await checkPeople(d, i, body);
  const assessments = await unhealthyAssessments(d, i, body);
  const meta = await d.metadata(body.assessmentKey);
  const judge = assessmentJudge(i);
  const entries = assessments.map((a) => judge(a, meta));
  // A pass would treat what the filters leave out as healed and resolve the ticket at once.
  if (entries.some((e) => !e.unhealthy))
    throw invalid('assessmentKey', `the filters of the integration ${i.name} leave this recommendation out`);
  const { severity, title, name } = entries[0].entry;

  const db = defenderDb(d.app.store.db);
  const now = d.app.clock.now();
  const id = randomBytes(4).toString('hex');
  const item = `${i.name}:${name.toLowerCase()}:m${id}`;
  const ticketType = body.ticketType ?? i.ticketType;
  const days = body.remediationTimeframeDays ?? timeframeDays(i, severity);
  const manual: ManualSettings = {
    id,
    ticketType,
    ...(body.caller ? { caller: body.caller } : {}),
    notifyOwner: body.notifications.owner,
    notifyManager: body.notifications.manager,
    createdBy: actor,
  };
  const info: ItemInfo = {
    integration: i.name,
    assessmentKey: name,
    ...(assessments.length === 1 ? { resourceId: resourceIdOf(assessments[0]) } : {}),
    title,
    severity,
    timeframeDays: days,
    grace: body.gracePeriod ?? i.gracePeriod,
    owner: body.assignedTo,
    policy: {
      closedWhileUnhealthy: i.closedWhileUnhealthy,
      remind: body.notifications.owner || body.notifications.manager,
      daysBefore: i.notifications.daysBefore,
      weekly: i.notifications.weekly,
    },
    manual,
  };
  const rowIds = assessments.map((a) => rowId(a.id));

  const { moved, dueAt } = await db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('defender_assessment')
      .select(['id', 'item'])
      .where('integration', '=', i.name)
      .where('id', 'in', rowIds)
      .execute();
    const owners = [...new Set(rows.map((r) => r.item).filter((x): x is string => !!x))];
    const states = owners.length
      ? await trx
          .selectFrom('flow_state')
          .select(['id', 'state'])
          .where('flow', '=', FLOW)
          .where('id', 'in', owners)
          .execute()
      : [];
    const byItem = new Map(states.map((r) => [r.id, JSON.parse(r.state) as ItemState]));
    const taken = rows.filter(
      (r) => r.item && byItem.get(r.item)?.manual && ACTIVE.includes(byItem.get(r.item)!.status),
    );
    if (taken.length) {
      const tickets = [...new Set(taken.map((r) => byItem.get(r.item!)!.ticket?.key ?? 'ticket pending'))];
      throw new HttpProblem(
        409,
        'conflict',
        `resourceIds: ${taken.length} of them already have a manual assignment (${tickets.join(', ')})`,
        [{ path: 'body.resourceIds', message: `${taken.length} of them already have a manual assignment` }],
      );
    }
    const pass = (
      await trx.selectFrom('defender_pass').select('pass').where('integration', '=', i.name).executeTakeFirst()
    )?.pass;
    await trx
      .insertInto('defender_assessment')
      .values(
        entries.map(({ entry }) => ({
          integration: i.name,
          id: entry.id,
          item,
          name: entry.name,
          resource_id: entry.resourceId,
          severity: entry.severity,
          governed_ticket: null,
          // As seen by the latest pass, so a pass running now does not take it for gone.
          seen: Number(pass ?? 0),
        })),
      )
      .onConflict((oc) => oc.columns(['integration', 'id']).doUpdateSet((eb) => ({ item: eb.ref('excluded.item') })))
      .execute();
    const events: FlowEvent[] = [
      ev(item, { type: 'members', added: entries.length, removed: 0, members: entries.length, info }),
    ];
    const left = new Map<string, number>();
    for (const r of rows) if (r.item && byItem.has(r.item)) left.set(r.item, (left.get(r.item) ?? 0) + 1);
    for (const [from, removed] of left) {
      const count = await trx
        .selectFrom('defender_assessment')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('integration', '=', i.name)
        .where('item', '=', from)
        .executeTakeFirstOrThrow();
      const info = ownInfo(byItem.get(from)!);
      events.push(ev(from, { type: 'members', added: 0, removed, members: Number(count.n), info }));
    }
    const applied = await d.app.engine.applyIn(coreDb(trx), events, actor);
    const made = applied.results[0].state as ItemState | undefined;
    if (!made?.manual) throw new Error(`manual assignment ${item} was not created`);
    await trx
      .insertInto('defender_manual_assignment')
      .values({
        id,
        integration: i.name,
        item,
        assessment_key: name,
        ticket_type: ticketType,
        resources: entries.length,
        created_by: actor,
        created_at: now,
      })
      .execute();
    return { moved: [...left.values()].reduce((a, b) => a + b, 0), dueAt: made.dueAt };
  });
  d.app.engine.wake();
  await d.app.watch.track(d.app.connections.itsm(i.itsm), ticketType);
  return {
    id,
    integration: i.name,
    assessmentKey: name,
    resources: entries.length,
    ticketType,
    owner: body.assignedTo,
    dueDate: new Date(dueAt).toISOString(),
    movedFromAutomatic: moved,
  };
}

const ev = (id: string, event: DefenderEvent): FlowEvent => ({ flow: FLOW, id, event });

/** The ticket kinds of an integration's manual assignments, for the watch at start. */
export async function manualTicketTypes(d: Deps, integration: string): Promise<string[]> {
  const rows = await defenderDb(d.app.store.db)
    .selectFrom('defender_manual_assignment')
    .select('ticket_type')
    .distinct()
    .where('integration', '=', integration)
    .execute();
  return rows.map((r) => r.ticket_type);
}
