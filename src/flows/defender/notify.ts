import { DAY_MS } from '../../engine/clock.ts';
import { SmtpTransports, type SmtpSettings } from '../../notify/email.ts';
import type { DefenderIntegration } from './config.ts';
import type { ItemState } from './flow.ts';

/** Reminder e-mails over SMTP, through the shared transport cache of notify/email.ts. */

export class Mailer {
  private readonly transports = new SmtpTransports();

  private smtp(i: DefenderIntegration): SmtpSettings {
    const smtp = i.notifications.smtp;
    if (!smtp) throw new Error(`integration ${i.name} has no notifications.smtp`);
    return smtp;
  }

  async send(i: DefenderIntegration, to: string[], subject: string, text: string): Promise<void> {
    if (!to.length) return;
    await this.transports.send(this.smtp(i), { to, subject, text });
  }

  /** Connect, say EHLO, authenticate, quit: the SMTP half of "Test setup". */
  async verify(i: DefenderIntegration): Promise<void> {
    await this.transports.verify(this.smtp(i));
  }

  close(): void {
    this.transports.close();
  }
}

export function reminderText(s: ItemState, now: number): { subject: string; text: string } {
  const due = new Date(s.dueAt).toISOString().slice(0, 10);
  const days = Math.ceil((s.dueAt - now) / DAY_MS);
  const when = days > 0 ? `due in ${days} day(s) (${due})` : `overdue since ${due}`;
  const ticket = s.ticket ? `${s.ticket.key} (${s.ticket.link})` : 'not yet opened';
  return {
    subject: `[Ticketloop] ${s.ticket?.key ?? 'Defender'}: "${s.title}" is ${when}`,
    text: [
      `Defender for Cloud recommendation: ${s.title} (${s.severity})`,
      `Unhealthy resources: ${s.members}${s.resourceId ? ` — ${s.resourceId}` : ''}`,
      `Remediation ${when}.`,
      `Ticket: ${ticket}`,
      '',
      'You receive this because you own this remediation (or manage its owner).',
    ].join('\n'),
  };
}
