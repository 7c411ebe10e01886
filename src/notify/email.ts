import { readFileSync } from 'node:fs';
import type { SendMailOptions, Transporter } from 'nodemailer';
import type { SecretRef } from '../config/common.ts';
import { resolveSecret } from '../config/secrets.ts';
import { PermanentError, RetryableError } from '../engine/errors.ts';
import type { NotificationMessage } from './message.ts';

/**
 * E-mail over SMTP (nodemailer): one cached transport per SMTP configuration, shared by every
 * sender (Defender's reminders, the notifier), and a neutral message rendered as plain text plus a
 * simple HTML part in which every value is escaped.
 */

/** `notifications.smtp` (the shape Defender's configuration has had from the start). */
export interface SmtpSettings {
  host: string;
  port: number;
  /** true = TLS from the first byte (465); otherwise STARTTLS per `starttls`. */
  secure: boolean;
  starttls: 'auto' | 'require' | 'off';
  from: string;
  username?: string;
  password?: SecretRef;
  caFile?: string;
}

export class SmtpTransports {
  private readonly transports = new Map<string, Transporter>();

  /** `env`: where `password: {env: NAME}` is looked up. */
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** nodemailer is loaded with the first message: most processes never send one. */
  async get(smtp: SmtpSettings): Promise<Transporter> {
    const key = JSON.stringify(smtp);
    let t = this.transports.get(key);
    if (!t) {
      const { default: nodemailer } = await import('nodemailer');
      t = this.transports.get(key); // another sender may have made it meanwhile
      if (t) return t;
      t = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        requireTLS: smtp.starttls === 'require',
        ignoreTLS: smtp.starttls === 'off',
        auth: smtp.username
          ? { user: smtp.username, pass: smtp.password ? resolveSecret(smtp.password, this.env).reveal() : '' }
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

  async send(smtp: SmtpSettings, mail: SendMailOptions): Promise<{ messageId?: string; response?: string }> {
    const info = (await (await this.get(smtp)).sendMail({ from: smtp.from, ...mail })) as {
      messageId?: string;
      response?: string;
    };
    return { messageId: info.messageId, response: info.response };
  }

  /** Connect, say EHLO, authenticate, quit. */
  async verify(smtp: SmtpSettings): Promise<void> {
    await (await this.get(smtp)).verify();
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }
}

/**
 * A failed SMTP exchange in the engine's terms (RFC 5321 §4.2.1): a 4yz reply and a lost or refused
 * connection are transient, a 5yz reply is permanent (no such mailbox, authentication refused).
 */
export function smtpFailure(e: unknown): Error {
  const err = e as { code?: string; responseCode?: number; message?: string };
  const what = `SMTP: ${err.message ?? String(e)}`;
  if (typeof err.responseCode === 'number') {
    if (err.responseCode >= 500) return new PermanentError(what);
    if (err.responseCode >= 400) return new RetryableError(what);
  }
  if (['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET'].includes(err.code ?? ''))
    return new RetryableError(what);
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE') return new PermanentError(what);
  return e instanceof Error ? e : new Error(what);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const html = (text: string) => escapeHtml(text).replace(/\n/g, '<br>');

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Subject `[Ticketloop] <title>`; the text part readable on its own (links as `title: url`). */
export function renderEmail(m: NotificationMessage): RenderedEmail {
  const text = [
    m.title,
    '',
    m.summary,
    ...(m.facts.length ? ['', ...m.facts.map((f) => `${f.name}: ${f.value.replace(/\n/g, '\n  ')}`)] : []),
    ...(m.links.length ? ['', ...m.links.map((l) => `${l.title}: ${l.url}`)] : []),
    '',
    '-- ',
    'Sent by Ticketloop.',
  ].join('\n');
  const cell = 'style="padding:4px 12px 4px 0;vertical-align:top"';
  const body = [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"></head>',
    '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#242424">',
    `<h2 style="font-size:18px;margin:0 0 12px">${html(m.title)}</h2>`,
    `<p style="margin:0 0 12px">${html(m.summary)}</p>`,
    m.facts.length
      ? `<table style="border-collapse:collapse;margin:0 0 12px">${m.facts
          .map((f) => `<tr><th align="left" ${cell}>${html(f.name)}</th><td ${cell}>${html(f.value)}</td></tr>`)
          .join('')}</table>`
      : '',
    m.links.length
      ? `<p style="margin:0 0 12px">${m.links
          .map((l) => `<a href="${escapeHtml(l.url)}" style="margin-right:16px">${html(l.title)}</a>`)
          .join(' ')}</p>`
      : '',
    '<p style="color:#707070;font-size:12px;margin:24px 0 0">Sent by Ticketloop.</p>',
    '</body></html>',
  ].join('\n');
  return { subject: `[Ticketloop] ${m.title}`, text, html: body };
}
