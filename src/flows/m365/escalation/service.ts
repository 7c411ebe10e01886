import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Ticketloop } from '../../../app/build.ts';
import { AzureSupportClient, type SupportSeverity } from '../../../connectors/microsoft/support.ts';
import type { JobSpec } from '../../../engine/jobs.ts';
import { HttpProblem } from '../../../http/server.ts';
import { boundText, type Ticket } from '../../../itsm/port.ts';
import { appendAudit } from '../../../store/audit.ts';
import type { Database } from '../../../store/schema.ts';
import type { M365Integration } from '../config.ts';
import { FLOW } from '../flow.ts';
import { HealthStore, type StoredIssue } from '../health/store.ts';
import type { EscalationKind } from './config.ts';
import { chooseKind, resolveClassification } from './kind.ts';
import { EscalationStore, isFinished, type EscalationRow } from './store.ts';
import { ADMIN_CENTER_SUPPORT_URL, TEST_ENVIRONMENT_MARK, guidedSummary } from './summary.ts';

/**
 * What an administrator does with escalations: open one (an Azure support ticket, created by a durable
 * job that follows the long-running operation; or a guided hand-off with its summary), record a guided
 * case's number and status, reply on an Azure ticket. Each change is one transaction with its audit
 * row and the jobs that carry it to the incident and to Microsoft.
 */

export const GUIDED_STATUSES = ['awaiting-case', 'open', 'waiting-on-microsoft', 'waiting-on-us', 'resolved', 'closed'];

export interface EscalateInput {
  integration?: string;
  incident: { sys_id?: string; number?: string };
  kind?: EscalationKind;
  severity: SupportSeverity;
  title?: string;
  description?: string;
  service?: string;
  problemClassification?: string;
  issues?: string[];
  affectedUsers?: string;
}

const bad = (field: string, message: string) =>
  new HttpProblem(400, 'invalid_request', `${field}: ${message}`, [{ path: `body.${field}`, message }]);

/** A work note written once (the job key and the notes table both keep it to one). */
export const noteJob = (id: string, name: string, text: string): JobSpec => ({
  kind: `${FLOW}.escalation-note`,
  key: `m365-escalation-note:${id}:${name}`,
  payload: { id, name, text },
});

/**
 * The support API for an integration. A job waits for an operation at most `operationTimeoutMs`, kept
 * under the engine's lease so that no second worker starts the same create meanwhile.
 */
export function supportClient(
  app: Ticketloop,
  i: M365Integration,
  o: { operationTimeoutMs?: number } = {},
): AzureSupportClient {
  return new AzureSupportClient(app.connections.microsoft().arm, {
    subscriptionId: i.escalation.subscription,
    operationTimeoutMs: o.operationTimeoutMs,
    now: () => app.clock.now(),
  });
}

export class EscalationService {
  readonly store: EscalationStore;

  constructor(private readonly app: Ticketloop) {
    this.store = new EscalationStore(app.store.db);
  }

  async escalate(i: M365Integration, input: EscalateInput, actor: string): Promise<EscalationRow> {
    const kind = chooseKind(i.escalation.mode, input);
    const incident = await this.findIncident(i, input.incident);
    const now = this.app.clock.now();
    const test = i.testEnvironment ? `${TEST_ENVIRONMENT_MARK}: ` : '';
    const title = boundText(test + (input.title ?? (incident.fields.short_description || incident.ref.key)), 200);
    const id = `esc-${randomUUID()}`;
    const base = {
      id,
      integration: i.name,
      kind,
      incident: JSON.stringify(incident.ref),
      incident_key: incident.ref.key,
      title,
      severity: input.severity,
      ticket_name: null,
      ticket_number: null,
      case_number: null,
      error: null,
      created_by: actor,
      created_at: now,
      updated_at: now,
      activity_at: now,
      reminded_at: null,
    };
    let row: EscalationRow;
    let job: JobSpec;
    if (kind === 'azure-support') {
      const { service, classification } = await resolveClassification(supportClient(this.app, i), input);
      const description = [
        ...(i.testEnvironment
          ? [`${TEST_ENVIRONMENT_MARK}. This ticket tests an integration; no one needs to call.`]
          : []),
        input.description ?? incident.fields.short_description ?? '',
        `Opened from ${incident.ref.key} (${incident.ref.link}) by Ticketloop.`,
      ]
        .filter(Boolean)
        .join('\n\n');
      const request = {
        serviceId: service.id,
        problemClassificationId: classification.id,
        title,
        description: boundText(description, 10_000),
        severity: input.severity,
        advancedDiagnosticConsent: 'No' as const,
      };
      row = {
        ...base,
        status: 'creating',
        service: service.displayName,
        classification: classification.displayName,
        ticket_name: `tl-${incident.ref.key.replace(/[^A-Za-z0-9_-]/g, '')}-${randomUUID().slice(0, 8)}`,
        request: JSON.stringify(request),
        summary: '',
      };
      job = { kind: `${FLOW}.escalation-create`, key: `m365-escalation-create:${id}`, payload: { id } };
    } else {
      const issues = await this.issues(i, input.issues ?? []);
      const summary = guidedSummary({
        incident: { key: incident.ref.key, link: incident.ref.link, title: incident.fields.short_description ?? '' },
        title,
        service: input.service ?? issues[0]?.issue.service ?? 'Microsoft 365',
        severity: input.severity,
        symptoms: input.description ?? incident.fields.short_description ?? '',
        affectedUsers: input.affectedUsers,
        issues,
        contact: i.escalation.contact,
        testEnvironment: i.testEnvironment,
        incidentUpdatedAt: incident.updatedAt,
        preparedAt: new Date(now).toISOString(),
      });
      row = {
        ...base,
        status: 'awaiting-case',
        service: input.service ?? issues[0]?.issue.service ?? 'Microsoft 365',
        classification: '',
        request: '{}',
        summary,
      };
      job = noteJob(
        id,
        'handoff',
        `Guided hand-off to Microsoft 365 support prepared by ${actor} (Microsoft 365 has no public case API). ` +
          `Open ${ADMIN_CENTER_SUPPORT_URL}, paste the summary below, and record the case number in Ticketloop.\n\n${summary}`,
      );
    }
    await this.change(row.id, actor, { action: 'escalated', kind, incident: incident.ref.key }, [job], (trx) =>
      this.store.insert(trx, row),
    );
    return row;
  }

  async recordCase(id: string, caseNumber: string, actor: string): Promise<EscalationRow> {
    const row = await this.guided(id);
    const status = row.status === 'awaiting-case' ? 'open' : row.status;
    const note = noteJob(id, `case:${caseNumber}`, `Microsoft 365 support case ${caseNumber} recorded by ${actor}.`);
    await this.change(id, actor, { action: 'case-recorded', caseNumber }, [note], (trx) =>
      this.store.update(trx, id, { case_number: caseNumber, status, updated_at: this.now(), activity_at: this.now() }),
    );
    return (await this.store.get(id))!;
  }

  async setStatus(id: string, status: string, actor: string): Promise<EscalationRow> {
    const row = await this.guided(id);
    if (row.status === status) return row;
    const text = `Microsoft 365 support case ${row.case_number ?? '(no number yet)'}: status ${row.status} → ${status}, set by ${actor}.`;
    const note = noteJob(id, `status:${status}:${this.now()}`, text);
    await this.change(id, actor, { action: 'status-set', from: row.status, to: status }, [note], (trx) =>
      this.store.update(trx, id, { status, updated_at: this.now(), activity_at: this.now() }),
    );
    return (await this.store.get(id))!;
  }

  /** Queue a reply; the job sends it as a communication whose name makes a retry find, not repeat, it. */
  async reply(id: string, message: string, actor: string): Promise<{ communication: string }> {
    const row = await this.get(id);
    if (row.kind !== 'azure-support')
      throw new HttpProblem(409, 'conflict', 'a guided case has no API: reply in the Microsoft 365 admin center');
    if (!row.ticket_number)
      throw new HttpProblem(409, 'conflict', `the support ticket is ${row.status}: reply once it is open`);
    if (isFinished(row)) throw new HttpProblem(409, 'conflict', `the support ticket is ${row.status}`);
    const communication = `tl-reply-${randomUUID()}`;
    const job: JobSpec = {
      kind: `${FLOW}.escalation-reply`,
      key: `m365-escalation-reply:${id}:${communication}`,
      payload: { id, name: communication, message, actor },
      priority: 'urgent',
    };
    await this.change(id, actor, { action: 'reply', communication }, [job], async () => {});
    return { communication };
  }

  /**
   * Close an Azure ticket from Ticketloop: a job sends the support API's update (`status: closed`);
   * closing is idempotent at Microsoft, so the job key alone keeps it to one.
   */
  async close(id: string, actor: string, reason?: string): Promise<EscalationRow> {
    const row = await this.get(id);
    if (row.kind !== 'azure-support')
      throw new HttpProblem(
        409,
        'conflict',
        'a guided case has no API: close it in the Microsoft 365 admin center, then set its status here',
      );
    if (!row.ticket_number)
      throw new HttpProblem(409, 'conflict', `the support ticket is ${row.status}: there is no ticket to close yet`);
    if (isFinished(row)) throw new HttpProblem(409, 'conflict', `the support ticket is already ${row.status}`);
    const job: JobSpec = {
      kind: `${FLOW}.escalation-close`,
      // Closing twice is harmless at Microsoft; a time in the key lets a close that failed be asked again.
      key: `m365-escalation-close:${id}:${this.now()}`,
      payload: { id, actor, ...(reason ? { reason } : {}) },
      priority: 'urgent',
    };
    await this.change(id, actor, { action: 'close', ...(reason ? { reason } : {}) }, [job], async () => {});
    return row;
  }

  async get(id: string): Promise<EscalationRow> {
    const row = await this.store.get(id);
    if (!row) throw new HttpProblem(404, 'not_found', `no escalation ${id}`);
    return row;
  }

  private now() {
    return this.app.clock.now();
  }

  private async guided(id: string): Promise<EscalationRow> {
    const row = await this.get(id);
    if (row.kind !== 'guided')
      throw new HttpProblem(
        409,
        'conflict',
        `${id} is an Azure support ticket: its status and number come from Microsoft`,
      );
    return row;
  }

  /** The state change, its audit row and its jobs in one transaction. */
  private async change(
    id: string,
    actor: string,
    detail: Record<string, unknown>,
    jobs: JobSpec[],
    write: (trx: Kysely<Database>) => Promise<void>,
  ): Promise<void> {
    await this.app.store.db.transaction().execute(async (trx) => {
      await write(trx);
      await appendAudit(
        trx,
        [{ kind: 'state', actor, subject: `${FLOW}/${id}`, detail }],
        this.now(),
        this.app.store.keys,
      );
      await this.app.engine.enqueue(jobs, trx);
    });
    this.app.engine.wake();
  }

  private async findIncident(i: M365Integration, ref: EscalateInput['incident']): Promise<Ticket> {
    const port = this.app.connections.itsm(i.itsm);
    let ticket: Ticket | undefined;
    if (ref.sys_id) ticket = await port.getTicket({ kind: 'incident', id: ref.sys_id });
    else if (ref.number) {
      if (!port.findByKey)
        throw bad('incident.number', `the ITSM ${i.itsm} cannot look tickets up by number: give the id`);
      ticket = await port.findByKey('incident', ref.number);
    } else throw bad('incident', 'give sys_id or number');
    if (!ticket)
      throw new HttpProblem(404, 'not_found', `no incident ${ref.sys_id ?? ref.number} in ${i.itsm}`, [
        { path: ref.sys_id ? 'body.incident.sys_id' : 'body.incident.number', message: 'not found' },
      ]);
    return ticket;
  }

  private async issues(i: M365Integration, ids: string[]): Promise<StoredIssue[]> {
    const health = new HealthStore(this.app.store.db);
    const out: StoredIssue[] = [];
    for (const [n, id] of ids.entries()) {
      const s = await health.issue(i.name, id);
      if (!s) throw bad(`issues.${n}`, `no service health issue ${id} in integration ${i.name}`);
      out.push(s);
    }
    return out;
  }
}
