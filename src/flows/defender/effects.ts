import { createHash } from 'node:crypto';
import type { Ticketloop } from '../../app/build.ts';
import type { GovernanceAssignmentProperties } from '../../connectors/microsoft/arm.ts';
import type { FlowEvent } from '../../engine/apply.ts';
import type { JobHandler } from '../../engine/engine.ts';
import { PermanentError, RetryableError } from '../../engine/errors.ts';
import { loadFlowState } from '../../engine/flow.ts';
import type { OpenTicketInput, Ticket } from '../../itsm/port.ts';
import { correlationKey } from '../../itsm/watch.ts';
import { ticketloopReminds, type DefenderIntegration } from './config.ts';
import { ACTIVE, FLOW, ticketCorrelationItem, type DefenderEvent, type ItemState, type TicketInfo } from './flow.ts';
import type { Integrations } from './integrations.ts';
import { reminderText, type Mailer } from './notify.ts';
import { mappingFor, notificationsFor, ticketTypeFor } from './overrides.ts';
import { resolvePeople } from './people.ts';
import { defenderDb } from './tables.ts';

/**
 * Effect handlers: the flow's decisions carried out against ServiceNow (through the ITSM port),
 * ARM (governance assignments) and SMTP. Each reads the item's current state first, so a job that
 * runs late or twice does nothing wrong; results go back to the flow as events.
 */

export interface MetadataInfo {
  displayName: string;
  severity: 'Low' | 'Medium' | 'High' | 'Critical';
  description?: string;
  remediation?: string;
}

export interface Deps {
  app: Ticketloop;
  integrations: Integrations;
  mailer: Mailer;
  metadata(key: string): Promise<MetadataInfo | undefined>;
}

/** The caller-chosen governance assignment key: a GUID derived from integration + assessment. */
export function governanceKey(integration: string, resourceId: string, assessmentKey: string): string {
  const h = createHash('sha1')
    .update(`ticketloop:defender:${integration}:${resourceId.toLowerCase()}:${assessmentKey.toLowerCase()}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `additionalData.ticketNumber` is int32: INC0010001 → 10001 (the full number goes in the link/status). */
export function ticketNumberInt(number: string): number | undefined {
  const digits = number.replace(/\D/g, '');
  if (!digits) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) && n <= 2_147_483_647 ? n : undefined;
}

const STATUS_WORD: Record<TicketInfo['status'], string> = {
  open: 'Active',
  resolved: 'Resolved',
  closed: 'Closed',
  canceled: 'Canceled',
};

export function governanceProperties(
  i: DefenderIntegration,
  s: ItemState,
  t: TicketInfo,
): GovernanceAssignmentProperties {
  const ticketNumber = ticketNumberInt(t.key);
  const notifications = notificationsFor(i, s);
  return {
    ...(s.owner ? { owner: s.owner } : {}),
    remediationDueDate: new Date(s.dueAt).toISOString(),
    isGracePeriod: s.grace,
    governanceEmailNotification: defenderEmails({ ...i, notifications }),
    additionalData: {
      ...(ticketNumber !== undefined ? { ticketNumber } : {}),
      ticketLink: t.link,
      ticketStatus: `${STATUS_WORD[t.status]} (${t.key})`,
    },
  };
}

/** Defender's own reminder e-mails: on only where it, not Ticketloop, is the integration's sender. */
export function defenderEmails(
  i: DefenderIntegration,
): NonNullable<GovernanceAssignmentProperties['governanceEmailNotification']> {
  const n = i.notifications;
  const defender = n.sender === 'defender';
  return {
    disableOwnerEmailNotification: !(defender && n.owner),
    disableManagerEmailNotification: !(defender && n.manager),
  };
}

export function toInfo(t: Ticket): TicketInfo {
  return { ...t.ref, status: t.status };
}

function render(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/** Run `fn` over `items`, `width` at a time; results in order, first error rethrown after all settle. */
export async function pool<T, R>(
  items: T[],
  width: number,
  fn: (t: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const k = next++;
        try {
          out[k] = { status: 'fulfilled', value: await fn(items[k]) };
        } catch (e) {
          out[k] = { status: 'rejected', reason: e };
        }
      }
    }),
  );
  return out;
}

const ev = (id: string, event: DefenderEvent): FlowEvent => ({ flow: FLOW, id, event });

export function effectHandlers(d: Deps): Record<string, JobHandler> {
  const db = defenderDb(d.app.store.db);

  /** The item and its integration, or undefined when the job no longer applies. */
  async function load(p: {
    flowId: string;
    gen?: number;
  }): Promise<{ s: ItemState; i: DefenderIntegration } | undefined> {
    const s = await loadFlowState<ItemState>(d.app.store.db, FLOW, p.flowId);
    if (!s || (p.gen !== undefined && p.gen !== s.gen)) return undefined;
    const i = d.integrations.any(s.integration);
    if (!i) throw new PermanentError(`defender integration ${s.integration} is unknown`);
    return { s, i };
  }
  const itsm = (i: DefenderIntegration) => d.app.connections.itsm(i.itsm);

  async function ticketContent(
    i: DefenderIntegration,
    s: ItemState,
    flowId: string,
  ): Promise<Omit<OpenTicketInput, 'kind' | 'correlation'>> {
    const m = await d.metadata(s.assessmentKey);
    const example =
      s.resourceId ??
      (
        await db
          .selectFrom('defender_assessment')
          .select('resource_id')
          .where('integration', '=', s.integration)
          .where('item', '=', flowId)
          .limit(1)
          .executeTakeFirst()
      )?.resource_id;
    const vars = {
      title: s.title,
      severity: s.severity,
      count: s.members,
      resourceId: example ?? '',
      assessmentKey: s.assessmentKey,
      description: m?.description ?? '',
      remediation: m?.remediation ?? '',
      portalLink: `https://portal.azure.com/#view/Microsoft_Azure_Security/GenericRecommendationDetailsBlade/assessmentKey/${s.assessmentKey}`,
      dueDate: new Date(s.dueAt).toISOString().slice(0, 10),
      integration: s.integration,
    };
    const map = mappingFor(i, s);
    const port = itsm(i);
    const fields: Record<string, string> = {};
    if (map.mode === 'customized') {
      if (map.assignmentGroup) fields.assignment_group = map.assignmentGroup;
      if (map.impact) fields.impact = map.impact;
      if (map.urgency) fields.urgency = map.urgency;
      if (map.category) fields.category = map.category;
      for (const [k, v] of Object.entries(map.fields ?? {})) fields[k] = render(v, vars);
    }
    // Reconcile stops while a person is unknown; one removed since then fails the job (retried), not the ticket.
    const people = await resolvePeople(port, { ...i, mapping: map });
    if (people.problems.length) throw new RetryableError(people.problems.map((p) => p.message).join('; '));
    return {
      origin: 'Ticketloop Defender for Cloud',
      title: render(map.shortDescription, vars),
      description: render(map.description, vars),
      assignee: people.assignee?.id,
      caller: people.caller?.id,
      ...(map.mode === 'customized' && map.callerField ? { callerField: map.callerField } : {}),
      fields,
    };
  }

  return {
    async open(p: { flowId: string; gen: number }) {
      const x = await load(p);
      if (!x || x.s.ticket || x.s.status === 'deleted') return {};
      const { ticket } = await itsm(x.i).openTicket({
        kind: ticketTypeFor(x.i, x.s),
        correlation: correlationKey(FLOW, ticketCorrelationItem(p.flowId, p.gen)),
        ...(await ticketContent(x.i, x.s, p.flowId)),
      });
      return { events: [ev(p.flowId, { type: 'ticket_opened', gen: p.gen, ticket: toInfo(ticket) })] };
    },

    /** Write (or rewrite) the governance assignment of every member not yet carrying this ticket. */
    async govern(p: { flowId: string; gen: number; sweep: number; all?: boolean }, ctx) {
      // Always answer `governed`, so the item knows the sweep is over (and may start the next).
      const done = { events: [ev(p.flowId, { type: 'governed', gen: p.gen, sweep: p.sweep })] };
      const x = await load(p);
      if (!x || !x.s.ticket || x.s.status !== 'ticket_open') return done;
      const { s, i } = x;
      const t = x.s.ticket!;
      const arm = d.app.connections.microsoft().arm;
      const props = governanceProperties(i, s, t);
      // `all` (after an edit): every member in id order, since each already carries this ticket.
      let after = '';
      for (;;) {
        const rows = await db
          .selectFrom('defender_assessment')
          .select(['id', 'resource_id', 'name'])
          .where('integration', '=', s.integration)
          .where('item', '=', p.flowId)
          .where((eb) =>
            p.all
              ? eb('id', '>', after)
              : eb.or([eb('governed_ticket', 'is', null), eb('governed_ticket', '!=', t.key)]),
          )
          .orderBy('id')
          .limit(200)
          .execute();
        after = rows.at(-1)?.id ?? after;
        if (!rows.length) return done;
        const results = await pool(rows, 8, (r) =>
          arm.putGovernanceAssignment(
            r.resource_id,
            r.name,
            governanceKey(s.integration, r.resource_id, r.name),
            props,
          ),
        );
        const ok = rows.filter((_, k) => results[k].status === 'fulfilled').map((r) => r.id);
        if (ok.length) {
          await db
            .updateTable('defender_assessment')
            .set({ governed_ticket: t.key })
            .where('integration', '=', s.integration)
            .where('id', 'in', ok)
            .execute();
        }
        const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        if (failed) throw failed.reason;
        await ctx.heartbeat();
        if (rows.length < 200) return done;
      }
    },

    async resolve(p: { flowId: string; gen: number }) {
      const x = await load(p);
      if (!x || !x.s.ticket || x.s.status !== 'resolving') return {};
      const { s } = x;
      let ticket = s.ticket!;
      if (ticket.status === 'open') {
        const notes = `Defender for Cloud reports "${s.title}" healthy on every resource this ticket covered. Resolved by Ticketloop (integration ${s.integration}).`;
        ticket = toInfo(await itsm(x.i).resolveTicket(ticket, { notes }));
      }
      return { events: [ev(p.flowId, { type: 'ticket_resolved', gen: p.gen, ticket })] };
    },

    async reopen(p: { flowId: string; gen: number }) {
      const x = await load(p);
      if (!x || !x.s.ticket || x.s.status !== 'ticket_open' || x.s.ticket.status === 'open') return {};
      const note = `Reopened by Ticketloop: Defender for Cloud still reports "${x.s.title}" unhealthy on ${x.s.members} resource(s).`;
      const t = await itsm(x.i).reopenTicket(x.s.ticket, note);
      return { events: [ev(p.flowId, { type: 'ticket_changed', ticket: t, source: 'reconcile' })] };
    },

    async comment(p: { flowId: string; gen: number }) {
      const x = await load(p);
      if (!x || !x.s.ticket) return {};
      await itsm(x.i).addComment(
        x.s.ticket,
        `This ticket was closed, but Defender for Cloud still reports "${x.s.title}" unhealthy on ${x.s.members} resource(s).`,
      );
      return {};
    },

    async note(p: { flowId: string; gen: number; what: 'overdue' | 'deleted' | 'unassigned'; by?: string }) {
      const x = await load(p);
      if (!x || !x.s.ticket) return {};
      const text = {
        overdue: `Remediation of "${x.s.title}" is overdue: it was due ${new Date(x.s.dueAt).toISOString().slice(0, 10)}.`,
        deleted: `The Ticketloop integration "${x.s.integration}" was deleted: this ticket is no longer tracked and its Defender governance assignments were removed.`,
        unassigned: `The manual assignment of "${x.s.title}" was deleted in Ticketloop${p.by ? ` by ${p.by}` : ''}: this ticket is no longer tracked and its Defender governance assignments were removed.`,
      }[p.what];
      await itsm(x.i).addWorkNote(x.s.ticket, text);
      return {};
    },

    due: async (p: { flowId: string; gen: number }) => ({ events: [ev(p.flowId, { type: 'due', gen: p.gen })] }),

    async remind(p: { flowId: string; gen: number; n: number; at: number }) {
      const x = await load(p);
      // A deleted integration's mail settings (and secret) are gone with it: no more reminders.
      if (!x || !ACTIVE.includes(x.s.status) || !d.integrations.get(x.s.integration)) return {};
      // Defender sends them (or nobody does): the next reminder is still chained, in case that changes.
      const { s, i } = x;
      const to: string[] = [];
      const notifications = notificationsFor(i, s);
      const mine = ticketloopReminds({ ...i, notifications });
      if (mine && s.owner && notifications.owner) to.push(s.owner);
      if (mine && s.owner && notifications.manager) {
        const owner = await itsm(i).findPerson(s.owner);
        if (owner?.managerEmail) to.push(owner.managerEmail);
      }
      if (to.length) {
        const m = reminderText(s, d.app.clock.now());
        await d.mailer.send(i, to, m.subject, m.text);
      }
      return { events: [ev(p.flowId, { type: 'reminded', gen: p.gen, n: p.n, at: p.at })] };
    },
  };
}
