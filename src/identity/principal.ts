import type { Role } from './roles.ts';

/**
 * Who is calling: a signed-in user (session cookie) or an API token. `actor` is what the audit
 * log records for everything the request does: `user:<name>` or `token:<name>`.
 */
export interface Principal {
  actor: string;
  kind: 'user' | 'token';
  name: string;
  roles: Role[];
  via: 'session' | 'token';
  /** The user (session, personal token). */
  userId?: string;
  tokenId?: string;
  tokenKind?: 'personal' | 'service' | 'legacy';
  /** When the credential stops working (tokens: tokens it creates expire no later). */
  expiresAt?: number;
  /** Cookie sessions: its id (hash) and the CSRF token unsafe requests must echo. */
  session?: { id: string; csrf: string };
}
