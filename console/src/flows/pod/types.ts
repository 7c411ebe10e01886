/**
 * What the permissions-on-demand API answers (src/flows/pod/views.ts and routes.ts). Its OpenAPI
 * schema leaves these as open records, so the console names the fields it reads here.
 */

export type RequestStatus =
  | 'submitted'
  | 'approved'
  | 'rejected'
  | 'canceled'
  | 'granting'
  | 'granted'
  | 'grant_failed'
  | 'revoking'
  | 'revoked'
  | 'expired'
  | 'revoke_failed';

export interface PodRequest {
  id: string;
  status: RequestStatus;
  requester: string;
  identity: { type: 'user' | 'servicePrincipal'; id: string };
  system: string;
  provider: string;
  permission: string;
  permissionId: string;
  permissionDisplayName: string;
  scope: string;
  duration: string;
  justification: string;
  ticketNumber: string | null;
  ticket: { system: string; key: string; link: string } | null;
  policy: { name: string; quorum: number; approvers: string[]; breakGlass: boolean; autoApproved: string | null };
  approvals: {
    actor: string;
    decision: 'approved' | 'rejected';
    comment: string;
    at: string | null;
    via: string;
    /** The Entra approver group the approver was found a member of. */
    group?: string | null;
  }[];
  submittedAt: string | null;
  decidedAt: string | null;
  grant: {
    grantedAt: string | null;
    expiresAt: string | null;
    revokedAt: string | null;
    providerState: string | null;
    preexisting: boolean;
    /** When the provider ends it by itself (PIM), as read back. */
    providerEndsAt?: string | null;
    /** Why the provider's end could not be moved to this grant's end. */
    providerEndError?: string | null;
  } | null;
  ended: { by: string; reason: string; at: string | null } | null;
  error: string | null;
  revokeCaveat: string;
}

export interface PodJob {
  id: string;
  kind: string;
  state: string;
  attempts: number;
  last_error: string | null;
  run_at: string;
}

export interface CatalogPolicy {
  name: string;
  maxDuration: string;
  defaultDuration: string;
  requireJustification: boolean;
  requireTicket: boolean;
  breakGlass: boolean;
}

export interface CatalogPermission {
  name: string;
  system: string;
  description: string | null;
  scopes: string[];
  readOnly: boolean;
  policy: CatalogPolicy | null;
}

export interface Catalog {
  systems: { name: string; provider: string; scopes: string[] }[];
  permissions: CatalogPermission[];
}

export interface DriftRow {
  integration: string;
  system: string;
  kind: 'missing' | 'leftover' | 'outside';
  target: string;
  detail: string;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
}
