import { HttpError, PermanentError } from '../../engine/errors.ts';
import {
  boundText,
  type AccessRequestPhase,
  type AccessRequestPort,
  type AccessRequestUpdate,
  type ApprovalDecision,
  type ApprovalRecord,
  type ApprovalState,
  type FormAnswers,
  type IncomingAccessRequest,
  type TicketRef,
} from '../port.ts';
import { checkCorrelationId } from './correlation.ts';
import { str, type ServiceNowClient } from './client.ts';
import { boundFields, DEFAULT_FIELD_LIMIT } from './limits.ts';
import { toRef, type MapContext } from './map.ts';
import { keysetPage, LOOK_BACK_MS } from './keyset.ts';
import { checkField, formatSnDate, parseSnDate, q } from './query.ts';

/**
 * Access requests on ServiceNow (pod-wire-format.md §6): a catalog item's requested items
 * (`sc_req_item`), their variables read where the platform stores them — one `sc_item_option` per
 * variable, tied to the item by `sc_item_option_mtom`, named by its `item_option_new` — and one
 * `sysapproval_approver` row per approver (`sysapproval` = the RITM, `state` requested / approved /
 * rejected / not_required). New items and decided approvals are polled with the watch's watermark
 * pattern: `sys_updated_on`, then `sys_id` as the tie-break, a page per call.
 */

const RITM = 'sc_req_item';
const APPROVAL = 'sysapproval_approver';
const SYS_ID = /^[0-9a-f]{32}$/i;

/** The RITM's stage and state for each phase (sc_req_item stage choices; task states 1/2/3/4, wire-format §1.7). */
const PHASES: Record<AccessRequestPhase, { stage: string; state: string }> = {
  awaiting_approval: { stage: 'waiting_for_approval', state: '1' },
  approved: { stage: 'request_approved', state: '2' },
  fulfilled: { stage: 'delivery', state: '2' },
  completed: { stage: 'completed', state: '3' },
  incomplete: { stage: 'completed', state: '4' },
};

const APPROVAL_STATES: Record<string, ApprovalState> = {
  requested: 'requested',
  approved: 'approved',
  rejected: 'rejected',
  not_required: 'not_required',
};

export interface AccessRequestOptions {
  client: ServiceNowClient;
  ctx: MapContext;
  now: () => number;
  limits: Readonly<Record<string, number>>;
}

const iso = (sn: string) => {
  const ms = parseSnDate(sn);
  return ms === undefined ? '' : new Date(ms).toISOString();
};

export class ServiceNowAccessRequests implements AccessRequestPort {
  private readonly client: ServiceNowClient;

  constructor(private readonly o: AccessRequestOptions) {
    this.client = o.client;
  }

  async pollNew(
    offering: string,
    watermark: string | undefined,
    o: { directoryIdAttribute?: string; pageSize?: number } = {},
  ) {
    const item = SYS_ID.test(offering) ? q().eq('cat_item', offering) : q().eq('cat_item.name', offering);
    const filter = `${item.eq('active', 'true').isEmpty('correlation_id').build()}^`;
    const idField = o.directoryIdAttribute && `requested_for.${checkField(o.directoryIdAttribute)}`;
    const fields = [
      'sys_id',
      'number',
      'sys_created_on',
      'sys_updated_on',
      'requested_for.email',
      'opened_by.email',
      ...(idField ? [idField] : []),
    ];
    const { records, next, more } = await this.page(RITM, filter, fields, watermark, o.pageSize ?? 100);
    const answers = await this.answersOf(records.map((r) => str(r.sys_id)));
    const requests: IncomingAccessRequest[] = records.map((r) => ({
      ref: toRef(this.o.ctx, RITM, r),
      createdAt: iso(str(r.sys_created_on)),
      requestedFor: {
        email: (str(r['requested_for.email']) || str(r['opened_by.email'])).toLowerCase(),
        directoryId: (idField && str(r[idField])) || undefined,
      },
      answers: answers.get(str(r.sys_id)) ?? {},
    }));
    return { requests, watermark: next, more };
  }

  async requestApprovals(ref: TicketRef, approverEmails: string[]) {
    const existing = new Set((await this.listApprovals(ref)).map((a) => a.approverEmail));
    const wanted = [...new Set(approverEmails.map((e) => e.toLowerCase()))];
    const missing = wanted.filter((e) => !existing.has(e));
    const users = await this.usersByEmail(missing);
    const unknown = missing.filter((e) => !users.has(e));
    for (const email of missing.filter((e) => users.has(e)))
      await this.client.create(APPROVAL, this.approvalRow(ref, users.get(email)!, 'requested'), { fields: ['sys_id'] });
    return { requested: wanted.filter((e) => !unknown.includes(e)), unknown };
  }

  async listApprovals(ref: TicketRef): Promise<ApprovalRecord[]> {
    const page = await this.client.list(APPROVAL, {
      query: q().eq('sysapproval', ref.id).orderBy('sys_created_on').orderBy('sys_id'),
      fields: ['sys_id', 'state', 'approver.email', 'sys_updated_on'],
      excludeReferenceLink: true,
      pageSize: 200,
      noCount: true,
    });
    return page.records.map((r) => ({
      id: str(r.sys_id),
      approverEmail: str(r['approver.email']).toLowerCase(),
      state: APPROVAL_STATES[str(r.state)] ?? 'other',
      updatedAt: iso(str(r.sys_updated_on)),
    }));
  }

  async decideApproval(ref: TicketRef, approverEmail: string, decision: 'approved' | 'rejected', comment: string) {
    const email = approverEmail.toLowerCase();
    const mine = (await this.listApprovals(ref)).filter((a) => a.approverEmail === email);
    if (mine.some((a) => a.state === decision)) return 'unchanged';
    const comments = this.bound('comments', comment.trim() || `${decision} in Ticketloop`);
    const open = mine.find((a) => a.state === 'requested') ?? mine[0];
    if (open) {
      await this.write(APPROVAL, open.id, { state: decision, comments });
      return 'written';
    }
    const user = (await this.usersByEmail([email])).get(email);
    if (!user) return 'no_approver';
    await this.client.create(APPROVAL, { ...this.approvalRow(ref, user, decision), comments }, { fields: ['sys_id'] });
    return 'written';
  }

  async closeLeftoverApprovals(ref: TicketRef): Promise<number> {
    const open = (await this.listApprovals(ref)).filter((a) => a.state === 'requested');
    for (const a of open) await this.write(APPROVAL, a.id, { state: 'not_required' });
    return open.length;
  }

  async pollDecisions(prefix: string, watermark: string | undefined, o: { pageSize?: number } = {}) {
    checkCorrelationId(prefix);
    const filter = `${q().in('state', ['approved', 'rejected']).startsWith('sysapproval.correlation_id', prefix).build()}^`;
    const fields = [
      'sys_id',
      'state',
      'sys_updated_on',
      'sys_mod_count',
      'approver.email',
      'sysapproval',
      'sysapproval.number',
      'sysapproval.sys_class_name',
      'sysapproval.correlation_id',
    ];
    const { records, next, more } = await this.page(APPROVAL, filter, fields, watermark, o.pageSize ?? 100);
    // STARTSWITH ignores case on most instances' databases: keep exact prefixes only.
    const ours = records.filter((r) => str(r['sysapproval.correlation_id']).startsWith(prefix));
    const comments = await this.latestComments(ours.map((r) => str(r.sys_id)));
    const decisions: ApprovalDecision[] = ours.map((r) => ({
      id: str(r.sys_id),
      approverEmail: str(r['approver.email']).toLowerCase(),
      state: str(r.state) as 'approved' | 'rejected',
      updatedAt: iso(str(r.sys_updated_on)),
      request: toRef(this.o.ctx, str(r['sysapproval.sys_class_name']) || RITM, {
        sys_id: str(r.sysapproval),
        number: str(r['sysapproval.number']),
      }),
      correlation: str(r['sysapproval.correlation_id']),
      comment: comments.get(str(r.sys_id)) ?? '',
      version: str(r.sys_mod_count),
    }));
    return { decisions, watermark: next, more };
  }

  async updateRequest(ref: TicketRef, u: AccessRequestUpdate): Promise<void> {
    const fields: Record<string, string> = {};
    if (u.phase) Object.assign(fields, PHASES[u.phase]);
    if (u.approval) fields.approval = u.approval;
    if (u.correlation) {
      fields.correlation_id = checkCorrelationId(u.correlation);
      fields.correlation_display = 'Ticketloop permissions on demand';
    }
    if (u.note?.trim()) fields.comments = u.note;
    if (Object.keys(fields).length) await this.write(ref.kind, ref.id, fields);
  }

  /** A comment (`sys_journal_field`, element `comments`) with exactly this (bounded) text since `since`. */
  async hasNote(ref: TicketRef, note: string, since: number): Promise<boolean> {
    const page = await this.client.list('sys_journal_field', {
      query: q()
        .eq('element_id', ref.id)
        .eq('element', 'comments')
        .gte('sys_created_on', formatSnDate(since - LOOK_BACK_MS))
        .orderByDesc('sys_created_on'),
      fields: ['value'],
      pageSize: 100,
      noCount: true,
    });
    const want = this.bound('comments', note).trim();
    return page.records.some((r) => str(r.value).trim() === want);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** One keyset page of `table` after the watermark (keyset.ts), `filter` on every block. */
  private page(table: string, filter: string, fields: string[], watermark: string | undefined, size: number) {
    return keysetPage({ client: this.client, table, filter, fields, watermark, size, now: this.o.now });
  }

  /** The answers of these RITMs, by variable name: one read of sc_item_option_mtom for the page. */
  private async answersOf(ids: string[]): Promise<Map<string, FormAnswers>> {
    const out = new Map<string, FormAnswers>();
    if (!ids.length) return out;
    for await (const r of this.client.listAll('sc_item_option_mtom', {
      query: q().in('request_item', ids).orderBy('sys_id'),
      fields: ['request_item', 'sc_item_option.item_option_new.name', 'sc_item_option.value'],
      excludeReferenceLink: true,
      pageSize: 1000,
      noCount: true,
    })) {
      const name = str(r['sc_item_option.item_option_new.name']);
      if (!name) continue;
      const id = str(r.request_item);
      const answers = out.get(id) ?? {};
      answers[name] = boundText(str(r['sc_item_option.value']), DEFAULT_FIELD_LIMIT);
      out.set(id, answers);
    }
    return out;
  }

  /** The newest comment of each approval (journal entries are not returned on the record itself). */
  private async latestComments(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!ids.length) return out;
    const page = await this.client.list('sys_journal_field', {
      query: q().in('element_id', ids).eq('element', 'comments').orderByDesc('sys_created_on'),
      fields: ['element_id', 'value'],
      pageSize: 1000,
      noCount: true,
    });
    for (const r of page.records) if (!out.has(str(r.element_id))) out.set(str(r.element_id), str(r.value));
    return out;
  }

  private async usersByEmail(emails: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!emails.length) return out;
    const page = await this.client.list('sys_user', {
      query: q().in('email', emails).eq('active', 'true'),
      fields: ['sys_id', 'email'],
      pageSize: emails.length * 2 + 10,
      noCount: true,
    });
    // `IN` may match case-insensitively: keep the exact (lower-cased) addresses asked for.
    for (const r of page.records) {
      const email = str(r.email).toLowerCase();
      if (emails.includes(email) && !out.has(email)) out.set(email, str(r.sys_id));
    }
    return out;
  }

  private approvalRow(ref: TicketRef, approver: string, state: string): Record<string, string> {
    return { sysapproval: ref.id, document_id: ref.id, source_table: ref.kind, approver, state };
  }

  private bound(field: string, text: string): string {
    return boundText(text, this.o.limits[field] ?? DEFAULT_FIELD_LIMIT);
  }

  private async write(table: string, id: string, fields: Record<string, string>): Promise<void> {
    try {
      await this.client.update(table, id, boundFields(fields, this.o.limits), { fields: ['sys_id'] });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404)
        throw new PermanentError(`${table} ${id} no longer exists (or is hidden by ACL)`);
      throw e;
    }
  }
}
