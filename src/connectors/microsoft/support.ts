import { randomBytes } from 'node:crypto';
import { HttpError, PermanentError, RetryableError } from '../../engine/errors.ts';
import { parseRetryAfter, type HttpResponse } from '../http.ts';
import { boundText } from '../../itsm/port.ts';
import type { ArmClient } from './arm.ts';

/**
 * Azure support tickets (Microsoft.Support 2024-04-01; wire-format.md §6) on the ARM client: the
 * services and problem classifications are discovered (the spec asks clients never to hard-code
 * them), a ticket or communication is created as the long-running operation it is (202 →
 * Azure-AsyncOperation polled to Succeeded, then the resource read at its own URL), and status and
 * messages are read back. Retries of ordinary calls are the engine's (HttpClient throws typed
 * HttpErrors); only the operation's polling waits here, honouring Retry-After, within a deadline.
 * Every string read from Azure is bounded before it goes anywhere.
 */

export const SUPPORT_API_VERSION = '2024-04-01';

export type SupportSeverity = 'minimal' | 'moderate' | 'critical' | 'highestcriticalimpact';

export interface SupportService {
  id: string;
  name: string;
  displayName: string;
  resourceTypes: string[];
}

export interface ProblemClassification {
  id: string;
  name: string;
  displayName: string;
}

export interface SupportContact {
  firstName: string;
  lastName: string;
  preferredContactMethod: 'email' | 'phone';
  primaryEmailAddress: string;
  preferredTimeZone: string;
  /** ISO 3166-1 alpha-3, e.g. "usa". */
  country: string;
  /** e.g. "en-us". */
  preferredSupportLanguage: string;
  additionalEmailAddresses?: string[];
  phoneNumber?: string;
}

export interface CreateTicketInput {
  serviceId: string;
  problemClassificationId: string;
  title: string;
  description: string;
  severity: SupportSeverity;
  contact: SupportContact;
  advancedDiagnosticConsent: 'Yes' | 'No';
  problemStartTime?: string;
  /** For a technical ticket about one Azure resource. */
  resourceId?: string;
  require24X7Response?: boolean;
}

export interface SupportTicket {
  name: string;
  id: string;
  supportTicketId: string;
  title: string;
  /** A free string in the API: Open, Updating, Closed, … */
  status: string;
  severity: string;
  serviceDisplayName: string;
  problemClassificationDisplayName: string;
  supportEngineerEmail?: string;
  createdDate?: string;
  modifiedDate?: string;
}

export interface SupportCommunication {
  name: string;
  /** `inbound` = from Microsoft, `outbound` = from the customer (the spec's example). */
  direction: string;
  type: string;
  sender: string;
  subject: string;
  body: string;
  createdDate: string;
}

export interface AzureSupportOptions {
  /** Subscription-level tickets when set; tenant-level (`/providers/Microsoft.Support/…`) otherwise. */
  subscriptionId?: string;
  /** Used when the operation's answer has no Retry-After (default 2000 ms). */
  pollIntervalMs?: number;
  /** Give up waiting for an operation after this long (default 2 minutes): a RetryableError. */
  operationTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** How long a field read from Azure may be. */
const MAX = { name: 200, title: 500, display: 300, status: 60, body: 32_000, email: 320, date: 40 };
type Json = Record<string, any>;
const s = (v: unknown, max: number) => (typeof v === 'string' ? boundText(v, max) : '');
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** A fresh resource name for a ticket or communication: `prefix-<time>-<random>`. */
export function supportResourceName(prefix = 'tl'): string {
  const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60);
  return `${clean}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class AzureSupportClient {
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly arm: ArmClient,
    private readonly o: AzureSupportOptions = {},
  ) {
    this.pollIntervalMs = o.pollIntervalMs ?? 2_000;
    this.timeoutMs = o.operationTimeoutMs ?? 120_000;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = o.now ?? Date.now;
  }

  // --- discovery ---------------------------------------------------------------------------------

  async listServices(): Promise<SupportService[]> {
    const r = await this.get<Json>('/providers/Microsoft.Support/services');
    return (Array.isArray(r.value) ? r.value : []).map((v: Json) => ({
      id: s(v.id, MAX.name * 2),
      name: s(v.name, MAX.name),
      displayName: s(v.properties?.displayName, MAX.display),
      resourceTypes: Array.isArray(v.properties?.resourceTypes)
        ? v.properties.resourceTypes.slice(0, 50).map((t: unknown) => s(t, MAX.display))
        : [],
    }));
  }

  async listProblemClassifications(serviceName: string): Promise<ProblemClassification[]> {
    const r = await this.get<Json>(
      `/providers/Microsoft.Support/services/${encodeURIComponent(serviceName)}/problemClassifications`,
    );
    return (Array.isArray(r.value) ? r.value : []).map((v: Json) => ({
      id: s(v.id, MAX.name * 3),
      name: s(v.name, MAX.name),
      displayName: s(v.properties?.displayName, MAX.display),
    }));
  }

  /** Services whose display name has every one of `words` (case-insensitive), e.g. ['active directory', 'sign-in']. */
  async findServices(words: string[]): Promise<SupportService[]> {
    const want = words.map((w) => w.toLowerCase());
    return (await this.listServices()).filter((svc) => want.every((w) => svc.displayName.toLowerCase().includes(w)));
  }

  /**
   * The first service whose name has all `serviceWords`, with its first classification whose name has
   * all `classificationWords` (any classification when none are given); undefined when none fits.
   */
  async findClassification(
    serviceWords: string[],
    classificationWords: string[] = [],
  ): Promise<{ service: SupportService; classification: ProblemClassification } | undefined> {
    const want = classificationWords.map((w) => w.toLowerCase());
    for (const service of await this.findServices(serviceWords)) {
      const classification = (await this.listProblemClassifications(service.name)).find((c) =>
        want.every((w) => c.displayName.toLowerCase().includes(w)),
      );
      if (classification) return { service, classification };
    }
    return undefined;
  }

  // --- tickets -----------------------------------------------------------------------------------

  async isNameAvailable(name: string): Promise<boolean> {
    const r = await this.arm.http.request<Json>({
      method: 'POST',
      path: `${this.scope()}/providers/Microsoft.Support/checkNameAvailability`,
      query: { 'api-version': SUPPORT_API_VERSION },
      json: { name: checkName(name), type: 'Microsoft.Support/supportTickets' },
    });
    return r.body?.nameAvailable === true;
  }

  /**
   * Create the ticket and wait for it. The name is the idempotency key: if an earlier attempt's
   * answer was lost, the PUT meets 409 and the ticket made then is returned.
   */
  async createTicket(name: string, i: CreateTicketInput): Promise<SupportTicket> {
    const path = this.ticketPath(name);
    const properties: Json = {
      serviceId: i.serviceId,
      problemClassificationId: i.problemClassificationId,
      title: i.title,
      description: i.description,
      severity: i.severity,
      advancedDiagnosticConsent: i.advancedDiagnosticConsent,
      contactDetails: i.contact,
      ...(i.problemStartTime ? { problemStartTime: i.problemStartTime } : {}),
      ...(i.require24X7Response !== undefined ? { require24X7Response: i.require24X7Response } : {}),
      ...(i.resourceId ? { technicalTicketDetails: { resourceId: i.resourceId } } : {}),
    };
    const body = await this.runOperation(path, { properties });
    return toTicket(body);
  }

  async getTicket(name: string): Promise<SupportTicket | undefined> {
    try {
      return toTicket(await this.get<Json>(this.ticketPath(name)));
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Tickets of the scope, newest first; `filter` is the API's `$filter` (e.g. `Status eq 'Open'`). */
  async *listTickets(o: { filter?: string; top?: number } = {}): AsyncGenerator<SupportTicket> {
    yield* this.pages(`${this.scope()}/providers/Microsoft.Support/supportTickets`, o, toTicket);
  }

  async updateTicket(
    name: string,
    u: { status?: 'open' | 'closed'; severity?: SupportSeverity; contact?: Partial<SupportContact> },
  ): Promise<SupportTicket> {
    const json: Json = {};
    if (u.status) json.status = u.status;
    if (u.severity) json.severity = u.severity;
    if (u.contact) json.contactDetails = u.contact;
    const r = await this.arm.http.request<Json>({
      method: 'PATCH',
      path: this.ticketPath(name),
      query: { 'api-version': SUPPORT_API_VERSION },
      json,
    });
    return toTicket(r.body);
  }

  // --- communications ----------------------------------------------------------------------------

  /** Every message on the ticket, both directions; `since` (ISO) keeps the newer ones (`createdDate ge`). */
  async listCommunications(ticketName: string, o: { since?: string } = {}): Promise<SupportCommunication[]> {
    const filter = o.since ? `createdDate ge ${new Date(o.since).toISOString()}` : undefined;
    const out: SupportCommunication[] = [];
    for await (const c of this.pages(`${this.ticketPath(ticketName)}/communications`, { filter }, toCommunication))
      out.push(c);
    return out;
  }

  async createCommunication(
    ticketName: string,
    name: string,
    c: { subject: string; body: string; sender?: string },
  ): Promise<SupportCommunication> {
    const path = `${this.ticketPath(ticketName)}/communications/${encodeURIComponent(checkName(name))}`;
    const properties: Json = { subject: boundText(c.subject, 200), body: c.body };
    if (c.sender) properties.sender = c.sender;
    return toCommunication(await this.runOperation(path, { properties }));
  }

  // --- plumbing ----------------------------------------------------------------------------------

  private scope(): string {
    return this.o.subscriptionId ? `/subscriptions/${encodeURIComponent(this.o.subscriptionId)}` : '';
  }

  private ticketPath(name: string): string {
    return `${this.scope()}/providers/Microsoft.Support/supportTickets/${encodeURIComponent(checkName(name))}`;
  }

  private async get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    return (
      await this.arm.http.request<T>({ method: 'GET', path, query: { 'api-version': SUPPORT_API_VERSION, ...query } })
    ).body;
  }

  /** PUT, then follow the operation (final state via Azure-AsyncOperation), then GET the resource. */
  private async runOperation(path: string, json: Json): Promise<Json> {
    let r: HttpResponse<Json>;
    try {
      r = await this.arm.http.request<Json>({
        method: 'PUT',
        path,
        query: { 'api-version': SUPPORT_API_VERSION },
        json,
      });
    } catch (e) {
      // Names are ours and fresh: a conflict means an earlier attempt of this very call got through.
      if (e instanceof HttpError && e.status === 409) return this.get<Json>(path);
      throw e;
    }
    if (r.status === 200 || r.status === 201) return r.body;
    const operation = header(r, 'azure-asyncoperation') ?? header(r, 'location');
    if (!operation) return this.get<Json>(path);
    const deadline = this.now() + this.timeoutMs;
    let wait = parseRetryAfter(r.headers['retry-after']) ?? this.pollIntervalMs;
    for (;;) {
      if (this.now() + wait > deadline)
        throw new RetryableError(`Azure support operation for ${path} did not finish in ${this.timeoutMs} ms`);
      await this.sleep(wait);
      const p = await this.arm.http.request<Json>({ method: 'GET', path: operation });
      const status = String(p.body?.status ?? (p.status === 202 ? 'InProgress' : 'Succeeded'));
      if (/^succeeded$/i.test(status)) return this.get<Json>(path);
      if (/^(failed|canceled|cancelled)$/i.test(status)) {
        const err = p.body?.error ?? {};
        throw new PermanentError(
          `Azure support operation ${status}: ${s(err.code, 100)} ${s(err.message, 1000)}`.trim(),
        );
      }
      wait = parseRetryAfter(p.headers['retry-after']) ?? this.pollIntervalMs;
    }
  }

  private async *pages<T>(path: string, o: { filter?: string; top?: number }, map: (v: Json) => T): AsyncGenerator<T> {
    let r = await this.arm.http.request<Json>({
      method: 'GET',
      path,
      query: { 'api-version': SUPPORT_API_VERSION, $filter: o.filter, $top: o.top },
    });
    for (let pages = 0; pages < 1000; pages++) {
      for (const v of Array.isArray(r.body?.value) ? r.body.value : []) yield map(v);
      const next = typeof r.body?.nextLink === 'string' && r.body.nextLink ? r.body.nextLink : undefined;
      if (!next) return;
      r = await this.arm.http.request<Json>({ method: 'GET', path: next });
    }
  }
}

function header(r: HttpResponse, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v || undefined;
}

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new PermanentError(
      `support resource name ${JSON.stringify(name)}: use 1–128 letters, digits, '-' or '_' (supportResourceName() makes one)`,
    );
  return name;
}

function toTicket(v: Json): SupportTicket {
  const p = (v?.properties ?? {}) as Json;
  return {
    name: s(v?.name, MAX.name),
    id: s(v?.id, MAX.name * 3),
    supportTicketId: s(p.supportTicketId, MAX.name),
    title: s(p.title, MAX.title),
    status: s(p.status, MAX.status),
    severity: s(p.severity, MAX.status),
    serviceDisplayName: s(p.serviceDisplayName, MAX.display),
    problemClassificationDisplayName: s(p.problemClassificationDisplayName, MAX.display),
    supportEngineerEmail: s(p.supportEngineer?.emailAddress, MAX.email) || undefined,
    createdDate: s(p.createdDate, MAX.date) || undefined,
    modifiedDate: s(p.modifiedDate, MAX.date) || undefined,
  };
}

function toCommunication(v: Json): SupportCommunication {
  const p = (v?.properties ?? {}) as Json;
  return {
    name: s(v?.name, MAX.name),
    direction: s(p.communicationDirection, MAX.status),
    type: s(p.communicationType, MAX.status),
    sender: s(p.sender, MAX.email),
    subject: s(p.subject, MAX.title),
    body: s(p.body, MAX.body),
    createdDate: s(p.createdDate, MAX.date),
  };
}
