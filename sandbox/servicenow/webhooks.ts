import { createHmac, randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { Clock } from '../../src/engine/clock.ts';
import type { Faults } from '../shared/faults.ts';
import type { Formatter } from './format.ts';
import type { Operation } from './records.ts';
import type { Settings, WebhookConfig } from './settings.ts';
import type { Row } from './store.ts';

/**
 * Business-rule webhooks: what an instance admin builds with an async business rule +
 * RESTMessageV2 (fact sheet §1.12), configured here through `PUT /_sandbox/servicenow/webhooks`.
 * The full wire contract is in WEBHOOKS.md next to this file. In short:
 *
 *   POST <url>
 *   Content-Type: application/json
 *   User-Agent: ServiceNow/1.0
 *   X-Sn-Delivery: <uuid>            same value on every retry of one delivery (dedupe on it)
 *   X-Sn-Timestamp: <unix seconds>   sandbox-clock time of sending; signed (below)
 *   X-Sn-Event: <table>.<operation>
 *   X-Sn-Attempt: <1..4>
 *   X-Sn-Signature: sha256=<hex>     hmac auth only: lower-case hex HMAC-SHA256 over
 *                                    "<X-Sn-Timestamp>.<exact raw body bytes>" (UTF-8), key = the
 *                                    secret's UTF-8 bytes
 *   Authorization: Basic …|Bearer …  basic / bearer auth only
 *
 *   {"table":"incident","operation":"insert|update|delete","sys_id":"…","record":{…}}
 *
 * `record` is the row as the Table API returns it with sysparm_exclude_reference_link=true (all
 * strings, references as plain sys_ids, journal fields empty), taken at the moment of the change;
 * for a delete it is the row as it was just before. Deliveries are asynchronous (the API response
 * never waits) and may arrive out of order under retries: order by record.sys_updated_on /
 * sys_mod_count. A failed attempt (network error, timeout, 408, 429, 5xx) is retried after 0.5 s,
 * 2 s and 5 s; other 4xx answers are final. `faults.dropWebhookRate` silently drops deliveries.
 */

export type DeliverySource = 'webhook' | 'business_rule';

export interface DeliveryLog {
  id: string;
  source: DeliverySource;
  table: string;
  operation: Operation;
  sys_id: string;
  url: string;
  state: 'pending' | 'delivered' | 'failed' | 'dropped';
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

const RETRY_DELAYS_MS = [500, 2000, 5000];
const ATTEMPT_TIMEOUT_MS = 10_000;
const LOG_SIZE = 500;

/** The signature of WEBHOOKS.md: over "<timestamp>.<body>" (v1 business rules: over the body alone). */
export function signBody(secret: string, body: string, timestamp?: string): string {
  const message = timestamp === undefined ? body : `${timestamp}.${body}`;
  return 'sha256=' + createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

export class Webhooks {
  readonly log: DeliveryLog[] = [];
  private readonly agent: Agent;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly fmt: Formatter,
    private readonly faults: Faults,
    private readonly clock: Clock,
    ca: string,
  ) {
    // Targets may be http:// or https:// signed by the sandbox CA or a public CA.
    this.agent = new Agent({ connect: { ca: [ca, ...rootCertificates] } });
  }

  /** Change listener (Records.listeners): snapshot now, deliver later. */
  readonly onChange = (table: string, operation: Operation, row: Row): void => {
    for (const hook of this.settings.value.webhooks)
      if (hook.table === table && hook.events.includes(operation)) this.deliver(hook, table, operation, row);
  };

  /**
   * Send one change to one target, asynchronously: the configured webhooks above, and the
   * installed Ticketloop business rule (rules.ts, `source: 'business_rule'`). The rule's script
   * makes one RESTMessageV2 call with only Content-Type, Accept and X-Sn-Signature, so such
   * deliveries get exactly those headers and no retry; the body is the same.
   */
  deliver(
    hook: WebhookConfig,
    table: string,
    operation: Operation,
    row: Row,
    source: DeliverySource = 'webhook',
    /** The installed rule's version: v1 signed the body alone and sent no timestamp. */
    ruleVersion = 2,
  ): void {
    if (this.closed) return;
    const record = this.fmt.format(table, row, { display: 'false', excludeRefLink: true });
    const body = JSON.stringify({ table, operation, sys_id: row.sys_id, record });
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    const entry: DeliveryLog = {
      id: randomUUID(),
      source,
      table,
      operation,
      sys_id: row.sys_id,
      url: hook.url,
      state: 'pending',
      attempts: 0,
    };
    this.log.push(entry);
    if (this.log.length > LOG_SIZE) this.log.shift();
    if (!this.faults.deliverWebhook()) {
      entry.state = 'dropped';
      return;
    }
    this.schedule(0, () => this.attempt(hook, entry, body, timestamp, ruleVersion));
  }

  private schedule(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }

  private headers(
    hook: WebhookConfig,
    entry: DeliveryLog,
    body: string,
    timestamp: string,
    ruleVersion: number,
  ): Record<string, string> {
    if (entry.source === 'business_rule') {
      // What docs/servicenow-business-rule.js sets (User-Agent is RESTMessageV2's default).
      const h: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': 'ServiceNow/1.0',
      };
      if (hook.auth?.type === 'hmac') {
        if (ruleVersion >= 2) h['x-sn-timestamp'] = timestamp;
        h['x-sn-signature'] = signBody(hook.auth.secret, body, ruleVersion >= 2 ? timestamp : undefined);
      }
      return h;
    }
    const h: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'ServiceNow/1.0',
      'x-sn-delivery': entry.id,
      'x-sn-timestamp': timestamp,
      'x-sn-event': `${entry.table}.${entry.operation}`,
      'x-sn-attempt': String(entry.attempts),
    };
    const a = hook.auth;
    if (a?.type === 'hmac') h['x-sn-signature'] = signBody(a.secret, body, timestamp);
    if (a?.type === 'basic') h.authorization = 'Basic ' + Buffer.from(`${a.username}:${a.password}`).toString('base64');
    if (a?.type === 'bearer') h.authorization = `Bearer ${a.token}`;
    return h;
  }

  private async attempt(
    hook: WebhookConfig,
    entry: DeliveryLog,
    body: string,
    timestamp: string,
    ruleVersion: number,
  ): Promise<void> {
    if (this.closed) return;
    entry.attempts++;
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = setTimeout(() => ac.abort(), ATTEMPT_TIMEOUT_MS);
    let retry = false;
    try {
      const res = await request(hook.url, {
        method: 'POST',
        body,
        headers: this.headers(hook, entry, body, timestamp, ruleVersion),
        dispatcher: this.agent,
        signal: ac.signal,
      });
      await res.body.dump();
      entry.lastStatus = res.statusCode;
      entry.lastError = undefined;
      if (res.statusCode >= 200 && res.statusCode < 300) entry.state = 'delivered';
      else retry = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
      if (!retry && entry.state !== 'delivered') entry.state = 'failed';
    } catch (err) {
      entry.lastError = (err as Error).message;
      retry = true;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
    if (!retry) return;
    const delay = entry.source === 'business_rule' ? undefined : RETRY_DELAYS_MS[entry.attempts - 1];
    if (delay === undefined || this.closed) {
      entry.state = 'failed';
      return;
    }
    this.schedule(delay, () => this.attempt(hook, entry, body, timestamp, ruleVersion));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.inflight) ac.abort();
    await this.agent.close().catch(() => undefined);
  }
}
