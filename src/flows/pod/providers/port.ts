/**
 * The authorization-provider port: what permissions on demand needs of a cloud, whatever the cloud.
 * Azure RBAC / PIM and Entra groups / PIM for Groups implement it (providers/azure/, providers/entra/);
 * AWS IAM Identity Center and GCP IAM come next through the same interface, so it is asynchronous
 * from the start: a write may answer `pending` with an operation to poll through `status()`.
 *
 * Failures are the engine's typed errors (engine/errors.ts): HttpError (retryable by status),
 * RetryableError (with Retry-After), PermanentError. Nothing here retries; the engine decides.
 */

/** Who receives the permission: an Entra user or a workload identity (service principal / managed identity). */
export interface Principal {
  type: 'user' | 'servicePrincipal';
  /** The directory object id. */
  id: string;
}

/** One concrete assignment: this principal holds this permission at this scope. */
export interface AssignmentTarget {
  principal: Principal;
  /** The provider's id of what is granted: a role definition GUID (Azure), a group object id (Entra). */
  permission: string;
  /** Where: an ARM scope (`/subscriptions/…`); for Entra groups, `/groups/{groupId}`. */
  scope: string;
}

export interface GrantInput extends AssignmentTarget {
  /**
   * Stable for one grant across retries (the ledger's assignment key + a generation): the same key
   * makes the same provider write, e.g. the deterministic GUID name of an Azure role assignment.
   */
  key: string;
  /** When Ticketloop will end the grant. Providers that expire by themselves (PIM) are told; others ignore it. */
  expiresAt: number;
  justification: string;
  ticketNumber?: string;
  /** Ticketloop's request id, for the provider's own records (description, ticketInfo). */
  requestId: string;
}

export interface RevokeInput extends AssignmentTarget {
  /** Stable for one revoke across retries. */
  key: string;
  /** The provider's id of the assignment, from the grant's read-back, when known. */
  ref?: string;
  /**
   * The `key` of the grant being undone, when known: lets a provider whose grant write is named by
   * its key (Azure RBAC) find its own assignment without `ref`, and never someone else's.
   */
  grantKey?: string;
}

export interface ExtendInput extends AssignmentTarget {
  /** Stable for one extension across retries (assignment key, generation and the new end). */
  key: string;
  /** The provider's id of the assignment, from the grant's read-back. */
  ref?: string;
  /** The new end of the assignment: the latest end among the requests holding it (later or earlier). */
  endsAt: number;
  /** No earlier attempt can have written under this key (the job's first run): no look-up by key first. */
  firstAttempt?: boolean;
  justification: string;
  ticketNumber?: string;
  requestId: string;
}

/**
 * Where a provider write stands. A synchronous provider answers `done` (or throws); an asynchronous
 * one answers `pending` and is asked again through `status(operation)` after `pollAfterMs`.
 */
export type Operation =
  | {
      state: 'done';
      /**
       * Grant only: the assignment existed before this write and was not made by this key (Azure's
       * 409 RoleAssignmentExists, Entra's duplicate member). Ticketloop never removes such access.
       */
      preexisting?: boolean;
      /** The provider's id of the assignment, when the write told it. */
      ref?: string;
    }
  | { state: 'pending'; operation: string; pollAfterMs?: number }
  | { state: 'failed'; reason: string; retryable: boolean };

/** An assignment as the provider reports it. */
export interface ActualAssignment extends AssignmentTarget {
  /** The provider's id of the assignment (an ARM role assignment id, `/groups/{g}/members/{m}`). */
  ref: string;
  /** It ends by itself at this time (PIM schedules). */
  endsAt?: number;
  /** Only `direct` assignments are ones a broker could have made; the others come through a group or from above. */
  via: 'direct' | 'group' | 'inherited';
}

/** A permission's name resolved to the provider's id (role name → role definition GUID, group name → group id). */
export interface ResolvedPermission {
  id: string;
  name: string;
  /** E.g. "Read-only access to every resource" — shown in request forms. */
  description?: string;
}

export interface AuthorizationProvider {
  /** `azure-rbac`, `azure-pim`, `entra-group`, `entra-pim-group` (later `aws-sso`, `gcp-iam`). */
  readonly type: string;
  /**
   * What a revoke does not end, in a sentence for people: propagation time and sessions already
   * issued (Azure: up to ~10 minutes; tokens live until they expire).
   */
  readonly revokeCaveat: string;
  /** Seconds a change may take to show everywhere (Azure RBAC: 600). */
  readonly propagationSeconds: number;
  /** Whether an assignment ends by itself at `expiresAt` (PIM): a broker outage then cannot extend access. */
  readonly expiresNatively: boolean;

  /** A name or an id (passed through when it already is one) → the provider's id. Unknown → PermanentError. */
  resolvePermission(nameOrId: string, scope: string): Promise<ResolvedPermission>;
  grant(input: GrantInput): Promise<Operation>;
  revoke(input: RevokeInput): Promise<Operation>;
  /**
   * Move the end of an assignment that ends by itself (`expiresNatively`) to `endsAt`, so a later
   * request sharing it keeps access to its own end (PIM: an AdminUpdate schedule request). Only
   * providers that expire natively have it; the caller reads the new end back with `read`.
   */
  extend?(input: ExtendInput): Promise<Operation>;
  /** The state of a `pending` operation. */
  status(operation: string): Promise<Operation>;
  /** Read-back: the direct assignment of this target as the provider sees it now, or undefined. */
  read(target: AssignmentTarget): Promise<ActualAssignment | undefined>;
  /** Every assignment in a managed scope (of one permission, when given), page by page: the drift check. */
  list(scope: string, permission?: string): AsyncIterable<ActualAssignment[]>;
}
