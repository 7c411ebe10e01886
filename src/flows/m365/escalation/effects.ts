import type { Ticketloop } from '../../../app/build.ts';
import type { SupportCommunication } from '../../../connectors/microsoft/support.ts';
import type { JobHandler } from '../../../engine/engine.ts';
import { HttpError, PermanentError, RetryableError } from '../../../engine/errors.ts';
import type { JobSpec } from '../../../engine/jobs.ts';
import type { TicketRef } from '../../../itsm/port.ts';
import { Notifier } from '../../../notify/channels.ts';
import type { MessageInput } from '../../../notify/message.ts';
import { appendAudit } from '../../../store/audit.ts';
import { parseDuration } from '../../../config/duration.ts';
import type { M365Integration } from '../config.ts';
import { FLOW } from '../flow.ts';
import { noteJob, supportClient } from './service.ts';
import { EscalationStore, isFinished, type EscalationRow } from './store.ts';
import { ADMIN_CENTER_SUPPORT_URL } from './summary.ts';

/**
 * The escalation jobs: create the Azure ticket (following its long-running operation), send a reply as
 * a communication, read status and Microsoft's messages back on a schedule (and remind about quiet
 * guided cases), and write each of those to the incident as a work note exactly once: a note has a
 * name, its job key carries the name, and the notes table remembers it once written.
 */

/** The contact and the configured recipients, when e-mail can be sent at all. */
function reminderRecipients(i: M365Integration): string[] {
  if (!i.notifications?.smtp) return [];
  const all = [i.escalation.contact?.primaryEmailAddress, ...(i.escalation.reminderRecipients ?? [])];
  const byLowerCase = new Map<string, string>();
  for (const address of all)
    if (address && !byLowerCase.has(address.toLowerCase())) byLowerCase.set(address.toLowerCase(), address);
  return [...byLowerCase.values()];
}

function reminderMessage(row: EscalationRow, text: string, to: string[]): MessageInput {
  const incident = JSON.parse(row.incident) as TicketRef;
  return {
    event: 'm365.escalation-reminder',
    title: row.case_number
      ? `Reminder: Microsoft 365 support case ${row.case_number} (${incident.key}) has had no update`
      : `Reminder: the Microsoft 365 support case for ${incident.key} has no case number yet`,
    summary: text,
    facts: [
      { name: 'Incident', value: `${incident.key}: ${row.title}` },
      { name: 'Service', value: row.service },
      { name: 'Status', value: row.status },
      ...(row.case_number ? [{ name: 'Case number', value: row.case_number }] : []),
      { name: 'Last update', value: new Date(Number(row.activity_at)).toISOString() },
    ],
    links: [
      ...(incident.link ? [{ title: `Open ${incident.key}`, url: incident.link }] : []),
      { title: 'Microsoft 365 admin center support', url: ADMIN_CENTER_SUPPORT_URL },
    ],
    recipients: { emails: to },
  };
}

const reminderMailJob = (row: EscalationRow, name: string, to: string[], message: MessageInput): JobSpec => ({
  kind: `${FLOW}.escalation-mail`,
  key: `m365-escalation-mail:${row.id}:${name}`,
  payload: { id: row.id, name, message },
  maxAttempts: 8,
});

const fromMicrosoft = (c: SupportCommunication) => c.direction.toLowerCase() !== 'outbound';

function communicationNote(row: EscalationRow, c: SupportCommunication): string {
  const who = fromMicrosoft(c)
    ? `Message from Microsoft support (${c.sender || 'Microsoft'})`
    : `Sent to Microsoft support (${c.sender || 'us'})`;
  return `${who}, ticket ${row.ticket_number}, ${c.createdDate}:\n${c.subject}\n\n${c.body}`;
}

export function escalationEffects(
  app: Ticketloop,
  integration: (name: string) => M365Integration | undefined,
): Record<string, JobHandler> {
  const store = new EscalationStore(app.store.db);
  const now = () => app.clock.now();
  const notifiers = new Map<string, { config: string; notifier: Notifier }>();
  /** The integration's SMTP notifier, made on first use and again when its configuration changed. */
  const notifierOf = (i: M365Integration): Notifier | undefined => {
    if (!i.notifications?.smtp) return undefined;
    const config = JSON.stringify(i.notifications);
    const known = notifiers.get(i.name);
    if (known?.config === config) return known.notifier;
    void known?.notifier.close();
    const notifier = new Notifier(i.notifications, { recorder: app.outbound, log: app.log });
    notifiers.set(i.name, { config, notifier });
    return notifier;
  };
  const load = async (id: string) => {
    const row = await store.get(id);
    if (!row) throw new PermanentError(`escalation ${id} is gone`);
    const i = integration(row.integration);
    if (!i) throw new PermanentError(`m365 integration ${row.integration} is not configured (escalation ${id})`);
    return { row, i };
  };
  const audit = (trx: Parameters<typeof appendAudit>[0], id: string, detail: Record<string, unknown>) =>
    appendAudit(trx, [{ kind: 'state', actor: 'ticketloop', subject: `${FLOW}/${id}`, detail }], now(), app.store.keys);
  const update = (id: string, patch: Partial<EscalationRow>, detail: Record<string, unknown>, jobs: JobSpec[] = []) =>
    app.store.db.transaction().execute(async (trx) => {
      await store.update(trx, id, { ...patch, updated_at: now() });
      await audit(trx, id, detail);
      await app.engine.enqueue(jobs, trx);
    });

  /** Status and new messages of one Azure ticket; each change becomes one named note. */
  async function syncTicket(i: M365Integration, row: EscalationRow): Promise<void> {
    const support = supportClient(app, i);
    const ticket = await support.getTicket(row.ticket_name!);
    if (!ticket) return app.log.warn({ escalation: row.id, ticket: row.ticket_name }, 'support ticket not found');
    const written = await store.written(row.id);
    const jobs: JobSpec[] = [];
    for (const c of await support.listCommunications(row.ticket_name!))
      if (!written.has(c.name)) jobs.push(noteJob(row.id, c.name, communicationNote(row, c)));
    const statusChanged = ticket.status && ticket.status !== row.status;
    if (statusChanged)
      jobs.push(
        noteJob(
          row.id,
          `status:${ticket.status}@${ticket.modifiedDate ?? now()}`,
          `Microsoft support ticket ${row.ticket_number}: status ${row.status} → ${ticket.status}` +
            (ticket.supportEngineerEmail ? ` (engineer ${ticket.supportEngineerEmail})` : '') +
            '.',
        ),
      );
    if (!jobs.length) return;
    await update(
      row.id,
      { status: ticket.status || row.status, activity_at: now() },
      { action: 'synced', status: ticket.status, notes: jobs.length },
      jobs,
    );
  }

  /** A guided case quiet for `remindAfter`: one reminder per quiet period. */
  async function remind(i: M365Integration, row: EscalationRow): Promise<void> {
    const every = parseDuration(i.escalation.remindAfter)!;
    const periods = Math.floor((now() - Number(row.activity_at)) / every);
    if (periods < 1) return;
    const name = `reminder:${row.activity_at}:${periods}`;
    if ((await store.written(row.id)).has(name)) return;
    const days = Math.round((now() - Number(row.activity_at)) / 86_400_000);
    const text = row.case_number
      ? `Reminder: Microsoft 365 support case ${row.case_number} has had no update in Ticketloop for ${days} day(s). ` +
        'Check it in the admin center and set its status in Ticketloop.'
      : `Reminder: the guided hand-off prepared ${days} day(s) ago has no case number yet. ` +
        'Open the case in the Microsoft 365 admin center and record its number in Ticketloop.';
    const to = reminderRecipients(i);
    const mail = to.length ? [reminderMailJob(row, name, to, reminderMessage(row, text, to))] : [];
    await update(row.id, { reminded_at: now() }, { action: 'reminded', periods, emails: to.length }, [
      noteJob(row.id, name, text),
      ...mail,
    ]);
  }

  return {
    async 'escalation-create'(p: { id: string }) {
      const { row, i } = await load(p.id);
      if (row.ticket_number || row.status === 'failed') return;
      if (!i.escalation.contact) throw new PermanentError(`${i.name}: escalation.contact is not configured`);
      let ticket;
      try {
        ticket = await supportClient(app, i, { operationTimeoutMs: 20_000 }).createTicket(row.ticket_name!, {
          ...JSON.parse(row.request),
          contact: i.escalation.contact,
        });
      } catch (e) {
        // A 404 after our PUT met 409: an earlier attempt's ticket is still being created — try again later.
        if (e instanceof HttpError && e.status === 404)
          throw new RetryableError(`support ticket ${row.ticket_name} is still being created`);
        // Retryable failures go back to the engine; a refusal (4xx, a Failed operation) ends the escalation.
        if (!(e instanceof PermanentError) && !(e instanceof HttpError && !e.retryable)) throw e;
        const error = (e as Error).message.slice(0, 1000);
        const note = noteJob(row.id, 'create-failed', `The Azure support ticket could not be created: ${error}`);
        return update(row.id, { status: 'failed', error }, { action: 'create-failed', error }, [note]);
      }
      const note = noteJob(
        row.id,
        'created',
        `Escalated to Microsoft support: Azure support ticket ${ticket.supportTicketId} (${ticket.serviceDisplayName} / ` +
          `${ticket.problemClassificationDisplayName}), severity ${ticket.severity}, status ${ticket.status}. ` +
          "Microsoft's messages will appear here as work notes; reply through Ticketloop.",
      );
      await update(
        row.id,
        { status: ticket.status || 'Open', ticket_number: ticket.supportTicketId, activity_at: now() },
        { action: 'ticket-created', ticket: ticket.supportTicketId },
        [note],
      );
    },

    async 'escalation-reply'(p: { id: string; name: string; message: string; actor: string }) {
      const { row, i } = await load(p.id);
      const c = await supportClient(app, i, { operationTimeoutMs: 20_000 })
        .createCommunication(row.ticket_name!, p.name, {
          subject: `Re: ${row.title}`.slice(0, 200),
          body: p.message,
          sender: i.escalation.contact?.primaryEmailAddress,
        })
        .catch((e) => {
          // As for the ticket: 409 then 404 is an earlier attempt's message, still being added.
          if (e instanceof HttpError && e.status === 404)
            throw new RetryableError(`communication ${p.name} is still being added`);
          throw e;
        });
      await update(row.id, { activity_at: now() }, { action: 'reply-sent', communication: c.name, by: p.actor }, [
        noteJob(row.id, c.name, communicationNote(row, { ...c, sender: `${p.actor}, as ${c.sender}` })),
      ]);
    },

    async 'escalation-close'(p: { id: string; actor: string; reason?: string }) {
      const { row, i } = await load(p.id);
      if (!row.ticket_name || /^(closed|failed)$/i.test(row.status)) return;
      const ticket = await supportClient(app, i).updateTicket(row.ticket_name, { status: 'closed' });
      const text =
        `Microsoft support ticket ${row.ticket_number} closed from Ticketloop by ${p.actor}` +
        (p.reason ? `: ${p.reason}` : '.');
      await update(
        row.id,
        { status: ticket.status || 'Closed', activity_at: now() },
        { action: 'ticket-closed', by: p.actor, status: ticket.status },
        [noteJob(row.id, 'closed', text)],
      );
    },

    /** One reminder e-mail per quiet period: recorded under `mail:<reminder>` once the SMTP server took it. */
    async 'escalation-mail'(p: { id: string; name: string; message: MessageInput }) {
      const { row, i } = await load(p.id);
      const written = `mail:${p.name}`;
      if ((await store.written(row.id)).has(written)) return;
      const n = notifierOf(i);
      if (!n)
        return app.log.warn({ escalation: row.id }, 'reminder e-mail: notifications.smtp is no longer configured');
      await n.send(p.message, { type: 'email' });
      await store.markWritten(row.id, written, now());
    },

    async 'escalation-note'(p: { id: string; name: string; text: string }) {
      const { row } = await load(p.id);
      if ((await store.written(p.id)).has(p.name)) return;
      await app.connections
        .itsm(integration(row.integration)!.itsm)
        .addWorkNote(JSON.parse(row.incident) as TicketRef, p.text);
      await store.markWritten(p.id, p.name, now());
    },

    async 'escalation-sync'(p: { integration: string }) {
      const i = integration(p.integration);
      if (!i) return;
      for (const row of await store.list(i.name, { limit: 1000 })) {
        if (isFinished(row)) continue;
        if (row.kind === 'azure-support' && row.ticket_number) await syncTicket(i, row);
        if (row.kind === 'guided') await remind(i, row);
      }
    },
  };
}
