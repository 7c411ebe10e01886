import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { secretRef } from '../config/common.ts';
import { resolveSecret } from '../config/secrets.ts';
import { HttpClient, type OutboundRecorder } from '../connectors/http.ts';
import { PermanentError } from '../engine/errors.ts';
import { renderEmail, smtpFailure, SmtpTransports } from './email.ts';
import { boundMessage, isEmailAddress, LIMITS, type MessageInput, type NotificationMessage } from './message.ts';
import { renderSlack } from './slack.ts';
import { renderTeams } from './teams.ts';

/**
 * Where notifications go: the `notifications` configuration block (an SMTP server and named Teams
 * and Slack incoming webhooks) and the Notifier that sends one message to one channel per call —
 * each send is its own idempotent job in a flow, so a failure here retries that one delivery only.
 * Failures are the engine's typed errors: a 429/5xx (or no answer) retries, honouring Retry-After;
 * another 4xx, a refused mailbox, an unknown channel or a disallowed host never does.
 */

/** The same shape as Defender's `notifications.smtp`. */
export const smtpSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** true = TLS from the first byte (465); otherwise STARTTLS per `starttls`. */
    secure: z.boolean().default(false),
    starttls: z.enum(['auto', 'require', 'off']).default('auto'),
    from: z.string().min(3),
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    caFile: z.string().optional(),
  })
  .strict();

const webhook = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64)'),
    /** The webhook URL is the credential: give it as a secret reference (env or file), not inline. */
    url: secretRef,
    /** Extra CA certificate(s) to trust for this endpoint (the sandbox's CA). */
    caFile: z.string().optional(),
  })
  .strict();

const uniqueNames = (hooks: { name: string }[] | undefined) =>
  !hooks || new Set(hooks.map((h) => h.name)).size === hooks.length;

export const notificationsSchema = z
  .object({
    smtp: smtpSchema.optional(),
    teams: z.array(webhook).max(50).optional(),
    slack: z.array(webhook).max(50).optional(),
  })
  .strict()
  .refine((n) => uniqueNames(n.teams), { message: 'teams webhook names must be unique', path: ['teams'] })
  .refine((n) => uniqueNames(n.slack), { message: 'slack webhook names must be unique', path: ['slack'] });

export type NotificationsConfig = z.output<typeof notificationsSchema>;

export type Channel =
  /** `to` defaults to the message's `recipients.emails`. */
  { type: 'email'; to?: string | string[] } | { type: 'teams'; name: string } | { type: 'slack'; name: string };

/** What was delivered, safe to store and show: never a URL or a credential. */
export interface Delivery {
  /** `email`, `teams:<name>`, `slack:<name>`. */
  channel: string;
  /** E-mail: the number of addresses; 0 = nothing to send (no recipients). */
  recipients?: number;
  messageId?: string;
  /** Chat: the HTTP status of the webhook's answer (Teams 202, Slack 200). */
  status?: number;
}

/** The part of app/allowlist.ts the notifier needs (structural, so notify/ does not depend on app/). */
export interface HostPolicy {
  allows(host: string, port: number): boolean;
  describe(): string;
}

export interface NotifierDeps {
  /** Records every webhook call and SMTP send (URLs reduced to their origin). */
  recorder?: OutboundRecorder;
  log?: Logger;
  /** When given, every host the notifier would reach must pass it (configuration from the API). */
  allowHosts?: HostPolicy;
  /** Share the SMTP transport cache with other senders. */
  transports?: SmtpTransports;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

interface Hook {
  url: string;
  client: HttpClient;
}

export class Notifier {
  readonly #config: NotificationsConfig;
  readonly #deps: NotifierDeps;
  readonly #transports: SmtpTransports;
  readonly #ownTransports: boolean;
  readonly #hooks = new Map<string, Hook>();

  constructor(config: NotificationsConfig, deps: NotifierDeps = {}) {
    this.#config = config;
    this.#deps = deps;
    this.#ownTransports = !deps.transports;
    this.#transports = deps.transports ?? new SmtpTransports(deps.env);
  }

  /** The channels configured (names only), e.g. for a settings page or `doctor`. */
  channels(): Channel[] {
    return [
      ...(this.#config.smtp ? [{ type: 'email' as const }] : []),
      ...(this.#config.teams ?? []).map((h) => ({ type: 'teams' as const, name: h.name })),
      ...(this.#config.slack ?? []).map((h) => ({ type: 'slack' as const, name: h.name })),
    ];
  }

  /** Bound the message, render it for the channel and deliver it: one delivery, no retry here. */
  async send(message: MessageInput | NotificationMessage, channel: Channel): Promise<Delivery> {
    const m = boundMessage(message);
    const delivery =
      channel.type === 'email'
        ? await this.email(m, channel.to)
        : await this.chat(channel.type, channel.name, channel.type === 'teams' ? renderTeams(m) : renderSlack(m));
    this.#deps.log?.debug({ event: m.event, ...delivery }, 'notification delivered');
    return delivery;
  }

  private checkHost(what: string, host: string, port: number): void {
    const policy = this.#deps.allowHosts;
    if (policy && !policy.allows(host, port))
      throw new PermanentError(`${what}: ${host}:${port} is not an allowed host: see ${policy.describe()}`);
  }

  private async email(m: NotificationMessage, to: string | string[] | undefined): Promise<Delivery> {
    const smtp = this.#config.smtp;
    if (!smtp) throw new PermanentError('e-mail notification: notifications.smtp is not configured');
    const list = [...new Set((to === undefined ? m.recipients.emails : [to].flat()).map((a) => a.trim()))];
    if (list.some((a) => !isEmailAddress(a))) throw new PermanentError('e-mail notification: a bad address in to');
    if (list.length > LIMITS.emails) throw new PermanentError(`e-mail notification: over ${LIMITS.emails} recipients`);
    if (!list.length) return { channel: 'email', recipients: 0 };
    this.checkHost('notifications.smtp', smtp.host, smtp.port);
    if (smtp.password)
      try {
        resolveSecret(smtp.password, this.#deps.env);
      } catch (e) {
        throw new PermanentError(`notifications.smtp.password: ${(e as Error).message}`);
      }
    const mail = renderEmail(m);
    const started = performance.now();
    const record = (status: number, error?: string) =>
      this.#deps.recorder?.record({
        upstream: 'smtp',
        method: 'SEND',
        url: `smtp://${smtp.host.includes(':') ? `[${smtp.host}]` : smtp.host}:${smtp.port}`,
        status,
        durationMs: performance.now() - started,
        ...(error ? { error } : {}),
      });
    try {
      const info = await this.#transports.send(smtp, {
        to: list,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        headers: { 'X-Ticketloop-Event': m.event },
      });
      record(250);
      return { channel: 'email', recipients: list.length, messageId: info.messageId };
    } catch (e) {
      const failure = smtpFailure(e);
      record((e as { responseCode?: number }).responseCode ?? 0, failure.message);
      throw failure;
    }
  }

  private hook(type: 'teams' | 'slack', name: string): Hook {
    const entry = (this.#config[type] ?? []).find((h) => h.name === name);
    if (!entry) throw new PermanentError(`${type} notification: no webhook named "${name}" in notifications.${type}`);
    let url: URL;
    try {
      url = new URL(resolveSecret(entry.url, this.#deps.env).reveal());
    } catch (e) {
      // Never the value itself: the message would carry the secret into the job's last error.
      const why = e instanceof TypeError ? 'is not a URL' : (e as Error).message;
      throw new PermanentError(`${type} webhook "${name}": its url ${why}`);
    }
    if (url.protocol !== 'https:') throw new PermanentError(`${type} webhook "${name}": its url must be https`);
    this.checkHost(`${type} webhook "${name}"`, url.hostname, Number(url.port || 443));
    const key = `${type}:${name}`;
    const known = this.#hooks.get(key);
    if (known && known.url === url.href) return known;
    void known?.client.close();
    const hook = {
      url: url.href,
      client: new HttpClient({
        upstream: type,
        baseUrl: url.origin,
        secretUrl: true,
        recorder: this.#deps.recorder,
        timeoutMs: this.#deps.timeoutMs ?? 30_000,
        ca: entry.caFile ? readFileSync(entry.caFile) : undefined,
        connections: 4,
      }),
    };
    this.#hooks.set(key, hook);
    return hook;
  }

  private async chat(type: 'teams' | 'slack', name: string, body: unknown): Promise<Delivery> {
    const hook = this.hook(type, name);
    // The HttpClient throws HttpError on ≥ 400: 429/5xx retry (Retry-After kept), other 4xx never.
    const res = await hook.client.request({ method: 'POST', path: hook.url, json: body, headers: { accept: '*/*' } });
    return { channel: `${type}:${name}`, status: res.status };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#hooks.values()].map((h) => h.client.close()));
    this.#hooks.clear();
    if (this.#ownTransports) this.#transports.close();
  }
}
