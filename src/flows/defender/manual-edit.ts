import { z } from 'zod';
import { DAY_MS } from '../../engine/clock.ts';
import { HttpProblem } from '../../http/server.ts';
import type { DefenderIntegration } from './config.ts';
import type { Deps } from './effects.ts';
import { FLOW, type DefenderEvent, type ItemState } from './flow.ts';
import type { ManualEdit } from './manual-decide.ts';
import { defenderDb } from './tables.ts';

/**
 * Editing and deleting a manual assignment (PATCH / DELETE /api/defender/assignments/{id}), and the
 * list the console edits them from. Each change is one event to the item's flow: its state, the jobs
 * that carry it to the ticket and to Defender, and its audit row are written in one transaction.
 */

const when = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

export const manualEditBody = z
  .object({
    /** The new owner: assigned to on the ticket and every governance assignment's owner. */
    assignedTo: z.email().optional(),
    caller: z.email().optional(),
    /** The remediation due date (a date is midnight UTC); or give remediationTimeframeDays. */
    dueDate: when.optional(),
    /** Days from when the assignment's ticket was opened. */
    remediationTimeframeDays: z.number().int().min(1).max(3650).optional(),
    gracePeriod: z.boolean().optional(),
    notifications: z.object({ owner: z.boolean().optional(), manager: z.boolean().optional() }).strict().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.dueDate !== undefined && b.remediationTimeframeDays !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['dueDate'],
        message: 'give dueDate or remediationTimeframeDays, not both',
      });
    const given = Object.values(b).filter((v) => v !== undefined);
    if (!given.length)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'nothing to change: give assignedTo, caller, dueDate, remediationTimeframeDays, gracePeriod or notifications',
      });
  });
export type ManualEditInput = z.infer<typeof manualEditBody>;

export const manualAssignmentDetail = z.object({
  id: z.string(),
  integration: z.string(),
  assessmentKey: z.string(),
  title: z.string(),
  resources: z.number(),
  ticketType: z.string(),
  owner: z.string(),
  caller: z.string().nullable(),
  dueDate: z.string(),
  gracePeriod: z.boolean(),
  notifications: z.object({ owner: z.boolean(), manager: z.boolean() }),
  /** open · ticket_open · resolving · resolved · closed_unhealthy · deleted */
  status: z.string(),
  overdue: z.boolean(),
  ticket: z.object({ key: z.string(), link: z.string(), status: z.string() }).nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});
type Detail = z.infer<typeof manualAssignmentDetail>;

const invalid = (path: string, message: string) =>
  new HttpProblem(400, 'invalid_request', `${path}: ${message}`, [{ path: `body.${path}`, message }]);

interface Row {
  id: string;
  integration: string;
  item: string;
  ticket_type: string;
  created_by: string;
  created_at: number | string | bigint;
}

function detail(row: Row, s: ItemState, i: DefenderIntegration | undefined): Detail {
  const m = s.manual!;
  return {
    id: row.id,
    integration: row.integration,
    assessmentKey: s.assessmentKey,
    title: s.title,
    resources: s.members,
    ticketType: m.ticketType,
    owner: s.owner ?? '',
    caller: m.caller ?? i?.mapping.caller ?? null,
    dueDate: new Date(s.dueAt).toISOString(),
    gracePeriod: s.grace,
    notifications: { owner: m.notifyOwner, manager: m.notifyManager },
    status: s.status,
    overdue: s.overdue,
    ticket: s.ticket ? { key: s.ticket.key, link: s.ticket.link, status: s.ticket.status } : null,
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)).toISOString(),
  };
}

async function stateOf(d: Deps, item: string): Promise<ItemState | undefined> {
  const row = await defenderDb(d.app.store.db)
    .selectFrom('flow_state')
    .select('state')
    .where('flow', '=', FLOW)
    .where('id', '=', item)
    .executeTakeFirst();
  return row && (JSON.parse(row.state) as ItemState);
}

async function find(d: Deps, id: string): Promise<{ row: Row; s: ItemState }> {
  const row = await defenderDb(d.app.store.db)
    .selectFrom('defender_manual_assignment')
    .select(['id', 'integration', 'item', 'ticket_type', 'created_by', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  const s = row && (await stateOf(d, row.item));
  if (!row || !s?.manual) throw new HttpProblem(404, 'not_found', `no manual assignment with the id "${id}"`);
  return { row, s };
}

/** Owner and caller must be people the ITSM knows, as on create: refused naming the field. */
export async function checkPeople(d: Deps, i: DefenderIntegration, b: { assignedTo?: string; caller?: string }) {
  const port = d.app.connections.itsm(i.itsm);
  for (const [field, email] of [
    ['assignedTo', b.assignedTo],
    ['caller', b.caller],
  ] as const) {
    if (email && !(await port.findPerson(email)))
      throw invalid(field, `no person with the e-mail ${email} in ITSM ${i.itsm}`);
  }
}

export async function editManualAssignment(d: Deps, id: string, b: ManualEditInput, actor: string): Promise<Detail> {
  const { row, s } = await find(d, id);
  if (s.status === 'deleted')
    throw new HttpProblem(409, 'conflict', `the manual assignment ${id} is deleted: there is nothing to edit`);
  const i = d.integrations.get(row.integration);
  if (!i) throw new HttpProblem(409, 'conflict', `the integration ${row.integration} is gone`);
  const n = b.notifications ?? {};
  const notifyOwner = n.owner ?? s.manual!.notifyOwner;
  const notifyManager = n.manager ?? s.manual!.notifyManager;
  if ((notifyOwner || notifyManager) && !i.notifications.smtp)
    throw invalid('notifications', `e-mail notifications need smtp on the integration ${i.name}`);
  await checkPeople(d, i, b);
  const dueAt =
    b.dueDate !== undefined
      ? Date.parse(b.dueDate.length === 10 ? `${b.dueDate}T00:00:00Z` : b.dueDate)
      : b.remediationTimeframeDays !== undefined
        ? s.openedAt + b.remediationTimeframeDays * DAY_MS
        : undefined;
  const edit: ManualEdit = {
    ...(b.assignedTo !== undefined ? { owner: b.assignedTo } : {}),
    ...(b.caller !== undefined ? { caller: b.caller } : {}),
    ...(dueAt !== undefined ? { dueAt } : {}),
    ...(b.gracePeriod !== undefined ? { grace: b.gracePeriod } : {}),
    ...(n.owner !== undefined ? { notifyOwner: n.owner } : {}),
    ...(n.manager !== undefined ? { notifyManager: n.manager } : {}),
  };
  const event: DefenderEvent = { type: 'manual_edited', edit, by: actor };
  const applied = await d.app.engine.dispatch<ItemState>(FLOW, row.item, event, actor);
  return detail(row, applied.state ?? s, i);
}

export async function deleteManualAssignment(d: Deps, id: string, actor: string): Promise<Detail> {
  const { row, s } = await find(d, id);
  // Deleting twice is the same delete: the flow ignores the second, the answer is the same.
  const event: DefenderEvent = { type: 'manual_deleted', by: actor };
  const applied = await d.app.engine.dispatch<ItemState>(FLOW, row.item, event, actor);
  return detail(row, applied.state ?? s, d.integrations.get(row.integration));
}

export async function getManualAssignment(d: Deps, id: string): Promise<Detail> {
  const { row, s } = await find(d, id);
  return detail(row, s, d.integrations.get(row.integration));
}

/** An integration's manual assignments that are not deleted, newest first. */
export async function listManualAssignments(d: Deps, integration: string, limit: number): Promise<Detail[]> {
  const db = defenderDb(d.app.store.db);
  const rows = await db
    .selectFrom('defender_manual_assignment')
    .select(['id', 'integration', 'item', 'ticket_type', 'created_by', 'created_at'])
    .where('integration', '=', integration)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  if (!rows.length) return [];
  const states = await db
    .selectFrom('flow_state')
    .select(['id', 'state'])
    .where('flow', '=', FLOW)
    .where(
      'id',
      'in',
      rows.map((r) => r.item),
    )
    .execute();
  const byItem = new Map(states.map((r) => [r.id, JSON.parse(r.state) as ItemState]));
  const i = d.integrations.get(integration);
  return rows.flatMap((r) => {
    const s = byItem.get(r.item);
    return s?.manual && s.status !== 'deleted' ? [detail(r, s, i)] : [];
  });
}
