import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/db.ts';
import { jsonText } from '../../store/json.ts';
import type { Database } from '../../store/schema.ts';
import { formatDuration } from '../../config/duration.ts';
import { FLOW } from './flow.ts';
import type { RequestState, RequestStatus } from './request.ts';

/** What the API shows of requests and grants, and the queries behind the lists and the report. */

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function requestView(id: string, s: RequestState) {
  return {
    id,
    status: s.status,
    requester: s.requester,
    identity: s.identity,
    system: s.system,
    provider: s.provider,
    permission: s.permission.name,
    permissionId: s.permission.id,
    permissionDisplayName: s.permission.displayName,
    scope: s.scope,
    duration: formatDuration(s.durationMs),
    justification: s.justification,
    ticketNumber: s.ticketNumber ?? null,
    ticket: s.ticket ? { system: s.ticket.system, key: s.ticket.key, link: s.ticket.link } : null,
    policy: {
      name: s.policy.name,
      quorum: s.policy.quorum,
      approvers: s.policy.approvers,
      breakGlass: s.policy.breakGlass,
      autoApproved: s.policy.autoApproved ?? null,
    },
    approvals: s.approvals.map((a) => ({
      actor: a.actor,
      decision: a.decision,
      comment: a.comment,
      at: iso(a.at),
      via: a.via,
      /** The approver group (Entra id) the approver was found a member of, when approved by group. */
      group: a.group ?? null,
    })),
    submittedAt: iso(s.submittedAt),
    decidedAt: iso(s.decidedAt),
    grant: s.grant
      ? {
          grantedAt: iso(s.grant.grantedAt),
          expiresAt: iso(s.grant.expiresAt),
          revokedAt: iso(s.grant.revokedAt),
          providerState: s.grant.providerState ?? null,
          preexisting: !!s.grant.preexisting,
          /** When the provider ends it by itself (PIM), as read back; null when it does not. */
          providerEndsAt: s.grant.providerEndsAt ? iso(s.grant.providerEndsAt) : null,
          providerEndError: s.grant.providerEndError ?? null,
        }
      : null,
    ended: s.ended ? { by: s.ended.by, reason: s.ended.reason, at: iso(s.ended.at) } : null,
    error: s.error ?? null,
    /** What a revoke does not end (propagation, live sessions). */
    revokeCaveat: s.revokeCaveat,
  };
}

export type RequestView = ReturnType<typeof requestView>;

export interface RequestFilter {
  status?: RequestStatus[];
  requester?: string;
  system?: string;
  identity?: string;
  limit: number;
  offset: number;
}

/** Requests, newest first. */
export async function listRequests(db: Kysely<Database>, dialect: Dialect, f: RequestFilter) {
  let q = db
    .selectFrom('flow_state')
    .select(['id', 'state', 'updated_at'])
    .where('flow', '=', FLOW)
    .where('id', 'like', 'r:%');
  if (f.status?.length) q = q.where(jsonText(dialect, 'state', 'status'), 'in', f.status);
  if (f.requester) q = q.where(jsonText(dialect, 'state', 'requester'), '=', f.requester);
  if (f.system) q = q.where(jsonText(dialect, 'state', 'system'), '=', f.system);
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(f.limit + 1)
    .offset(f.offset)
    .execute();
  const out = rows.map((r) => ({ id: r.id.slice(2), state: JSON.parse(r.state) as RequestState }));
  const filtered = f.identity
    ? out.filter((r) => r.state.identity.id.toLowerCase() === f.identity!.toLowerCase())
    : out;
  return { items: filtered.slice(0, f.limit), more: rows.length > f.limit };
}

/** Every request that was granted at some time in [from, to), for the report. */
export async function grantsBetween(db: Kysely<Database>, dialect: Dialect, from: number, to: number) {
  const grantedAt =
    dialect === 'postgres'
      ? sql<string>`(state::json -> 'grant' ->> 'grantedAt')`
      : sql<string>`json_extract(state, '$.grant.grantedAt')`;
  const rows = await db
    .selectFrom('flow_state')
    .select(['id', 'state'])
    .where('flow', '=', FLOW)
    .where('id', 'like', 'r:%')
    .where(grantedAt, 'is not', null)
    .orderBy('created_at')
    .execute();
  return rows
    .map((r) => ({ id: r.id.slice(2), state: JSON.parse(r.state) as RequestState }))
    .filter(({ state }) => {
      const start = state.grant!.grantedAt!;
      const end = state.grant!.revokedAt ?? Infinity;
      return start < to && end >= from;
    });
}

export const REPORT_COLUMNS = [
  'request',
  'system',
  'permission',
  'scope',
  'identity_type',
  'identity_id',
  'requester',
  'approved_by',
  'granted_at',
  'ended_at',
  'end_reason',
  'ticket_number',
  'status',
];

export function reportRow(id: string, s: RequestState): unknown[] {
  const approvedBy =
    s.policy.autoApproved ??
    s.approvals
      .filter((a) => a.decision === 'approved')
      .map((a) => a.actor)
      .join(' ');
  return [
    id,
    s.system,
    s.permission.name,
    s.scope,
    s.identity.type,
    s.identity.id,
    s.requester,
    approvedBy,
    iso(s.grant?.grantedAt),
    iso(s.grant?.revokedAt),
    s.ended?.reason ?? '',
    s.ticketNumber ?? s.ticket?.key ?? '',
    s.status,
  ];
}
