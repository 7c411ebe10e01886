import type { Generated } from 'kysely';

/**
 * Table types. Times are epoch milliseconds (bigint in PostgreSQL, integer in SQLite): one
 * representation for both dialects, no time-zone ambiguity.
 */
export interface JobsTable {
  id: string;
  kind: string;
  /** Idempotency key: enqueueing the same key twice is one job. */
  key: string;
  payload: string;
  state: 'ready' | 'running' | 'done' | 'dead';
  run_at: number;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  /** 1 = urgent (claimed before older normal jobs), 0 = normal. */
  priority: number;
}

export interface SchedulesTable {
  name: string;
  interval_ms: number;
  next_run_at: number;
  /** Idempotency key of the job the last tick enqueued (a run still unfinished blocks the next). */
  last_job_key: string | null;
}

export interface FlowStateTable {
  flow: string;
  id: string;
  state: string;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface AuditTable {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  subject: string;
  detail: string;
  prev_hash: string;
  /** SHA-256 over the row and prev_hash: the link of the chain. */
  hash: string;
  /** `<kid>:<hex HMAC-SHA256 of hash>` under the audit key; null on rows from before the chain was keyed. */
  mac: string | null;
}

/** One row: the head of the audit hash chain, locked by every append so the chain stays linear. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface SecretsTable {
  name: string;
  ciphertext: string;
  updated_at: number;
}

/** One row: the id of the key secrets are written with now (a process holding another key must not write). */
export interface SecretKeyStateTable {
  id: number;
  kid: string;
  updated_at: number;
}

/** The ITSM watch: where polling each connection's kind got to (the adapter's opaque watermark). */
export interface ItsmWatermarkTable {
  system: string;
  kind: string;
  watermark: string;
  updated_at: number;
}

/** Every ticket Ticketloop opened and has seen, with its last version (the full reconcile compares them). */
export interface ItsmTicketTable {
  system: string;
  kind: string;
  id: string;
  correlation: string;
  version: string | null;
  updated_at: number;
}

/** A person who signs in: a local account (argon2id password) or one from the OpenID provider. */
export interface IdentityUserTable {
  id: string;
  /** Sign-in name, lower case; for OpenID users their preferred_username. */
  name: string;
  display_name: string;
  source: 'local' | 'oidc';
  /** OpenID users: `oidc:<tid>:<oid>`; null for local accounts. */
  subject: string | null;
  password_hash: string | null;
  /** JSON array of role names. */
  roles: string;
  disabled: number;
  failed_attempts: number;
  locked_until: number | null;
  last_sign_in_at: number | null;
  created_at: number;
  updated_at: number;
}

/** A browser session; `id` is the SHA-256 of the cookie value, never the value itself. */
export interface IdentitySessionTable {
  id: string;
  user_id: string;
  /** The synchronizer token state-changing requests must echo in `x-csrf-token`. */
  csrf: string;
  created_at: number;
  seen_at: number;
  expires_at: number;
}

/** A personal or service API token; `hash` is the SHA-256 of the token, shown once at creation. */
export interface IdentityTokenTable {
  id: string;
  name: string;
  kind: 'personal' | 'service';
  user_id: string | null;
  hash: string;
  roles: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** An OpenID Connect sign-in between /auth/oidc/start and its callback. */
export interface IdentityOidcFlowTable {
  state_hash: string;
  nonce: string;
  verifier: string;
  return_to: string;
  expires_at: number;
}

/** One-time tokens that create the first admin while there is no user. */
export interface IdentitySetupTable {
  hash: string;
  created_at: number;
  expires_at: number;
}

export interface Database {
  jobs: JobsTable;
  schedules: SchedulesTable;
  flow_state: FlowStateTable;
  audit_log: AuditTable;
  audit_head: AuditHeadTable;
  secrets: SecretsTable;
  secret_key_state: SecretKeyStateTable;
  itsm_watermark: ItsmWatermarkTable;
  itsm_ticket: ItsmTicketTable;
  identity_user: IdentityUserTable;
  identity_session: IdentitySessionTable;
  identity_token: IdentityTokenTable;
  identity_oidc_flow: IdentityOidcFlowTable;
  identity_setup: IdentitySetupTable;
}

export type { Generated };
