import { readFileSync } from 'node:fs';
import type { Transporter } from 'nodemailer';
import { DAY_MS } from '../../engine/clock.ts';
import { resolveSecret } from '../../config/secrets.ts';
import type { DefenderIntegration } from './config.ts';
import type { ItemState } from './flow.ts';

/** Reminder e-mails over SMTP (nodemailer), one transport per SMTP configuration. */

export class Mailer {
  private readonly transports = new Map<string, Transporter>();

  /** nodemailer is loaded with the first reminder: most processes never send one. */
  private async transport(i: DefenderIntegration): Promise<Transporter> {
    const smtp = i.notifications.smtp;
    if (!smtp) throw new Error(`integration ${i.name} has no notifications.smtp`);
    const key = JSON.stringify(smtp);
    let t = this.transports.get(key);
    if (!t) {
      const { default: nodemailer } = await import('nodemailer');
      t = this.transports.get(key); // another reminder may have made it meanwhile
      if (t) return t;
      t = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.starttls === 'require',
        ignoreTLS: smtp.starttls === 'off',
        auth: smtp.username
          ? { user: smtp.username, pass: smtp.password ? resolveSecret(smtp.password).reveal() : '' }
          : undefined,
        tls: smtp.caFile ? { ca: readFileSync(smtp.caFile) } : undefined,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 30_000,
      });
      this.transports.set(key, t);
    }
    return t;
  }

  async send(i: DefenderIntegration, to: string[], subject: string, text: string): Promise<void> {
    if (!to.length) return;
    await (await this.transport(i)).sendMail({ from: i.notifications.smtp!.from, to, subject, text });
  }

  /** Connect, say EHLO, authenticate, quit: the SMTP half of "Test setup". */
  async verify(i: DefenderIntegration): Promise<void> {
    await (await this.transport(i)).verify();
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
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
