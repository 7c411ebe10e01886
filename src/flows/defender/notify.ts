import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import { resolveSecret } from '../../config/load.ts';
import { str, type ServiceNowClient } from '../../connectors/servicenow/client.ts';
import { q } from '../../connectors/servicenow/query.ts';
import type { DefenderIntegration } from './config.ts';
import type { ItemState } from './flow.ts';

/**
 * People and mail: owner email → sys_user (for assigned_to / caller), the owner's manager from
 * `sys_user.manager`, and reminder emails over SMTP (nodemailer). Lookups are cached for an hour
 * so a reconcile that opens many tickets asks ServiceNow once per person.
 */

export interface SnUser {
  sysId: string;
  email: string;
  managerEmail?: string;
}

const USER_TTL_MS = 60 * 60_000;

export class People {
  private readonly cache = new Map<string, { at: number; user: Promise<SnUser | undefined> }>();

  /** The sys_user with this email (and their manager's email), or undefined. */
  lookup(client: ServiceNowClient, email: string): Promise<SnUser | undefined> {
    const key = `${client.baseUrl}|${email.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < USER_TTL_MS) return hit.user;
    const user = (async () => {
      const page = await client.list('sys_user', { query: q().eq('email', email), fields: ['sys_id', 'email', 'manager'], pageSize: 2, noCount: true, excludeReferenceLink: true });
      const rec = page.records.find((r) => str(r.email).toLowerCase() === email.toLowerCase());
      if (!rec) return undefined;
      const managerId = str(rec.manager);
      const manager = managerId ? await client.get('sys_user', managerId, { fields: ['email'] }) : undefined;
      return { sysId: str(rec.sys_id), email: str(rec.email), managerEmail: manager ? str(manager.email) || undefined : undefined };
    })();
    user.catch(() => this.cache.delete(key)); // never cache a failure
    this.cache.set(key, { at: Date.now(), user });
    return user;
  }
}

export class Mailer {
  private readonly transports = new Map<string, Transporter>();

  private transport(i: DefenderIntegration): Transporter {
    const smtp = i.notifications.smtp;
    if (!smtp) throw new Error(`integration ${i.name} has no notifications.smtp`);
    const key = JSON.stringify(smtp);
    let t = this.transports.get(key);
    if (!t) {
      t = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.starttls === 'require',
        ignoreTLS: smtp.starttls === 'off',
        auth: smtp.username ? { user: smtp.username, pass: smtp.password ? resolveSecret(smtp.password).reveal() : '' } : undefined,
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
    await this.transport(i).sendMail({ from: i.notifications.smtp!.from, to, subject, text });
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }
}

export function reminderText(s: ItemState, now: number): { subject: string; text: string } {
  const due = new Date(s.dueAt).toISOString().slice(0, 10);
  const days = Math.ceil((s.dueAt - now) / 86_400_000);
  const when = days > 0 ? `due in ${days} day(s) (${due})` : `overdue since ${due}`;
  const ticket = s.ticket ? `${s.ticket.number} (${s.ticket.link})` : 'not yet opened';
  return {
    subject: `[Ticketloop] ${s.ticket?.number ?? 'Defender'}: "${s.title}" is ${when}`,
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
