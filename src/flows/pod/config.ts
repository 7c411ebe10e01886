import { z } from 'zod';
import type { Integration } from '../../config/schema.ts';
import { notificationsSchema } from '../../notify/channels.ts';
import { parseDuration } from '../../config/duration.ts';

/**
 * A permissions-on-demand integration (type: 'pod'): the authorization systems (provider instances),
 * the permissions people may ask for on them, and the policies that say who may ask, for how long,
 * and who approves. Names are unique across the file: requests name a system and a permission.
 */

export const PROVIDER_TYPES = ['azure-rbac', 'azure-pim', 'entra-group', 'entra-pim-group'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

const NAME = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_" and "-", at most 80 characters');

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  message: 'must be an ISO 8601 duration of days, hours, minutes or seconds, e.g. PT1H or P1D',
});

const system = z
  .object({
    name: NAME,
    provider: z.enum(PROVIDER_TYPES),
    /**
     * The scopes Ticketloop manages on it (ARM scopes for Azure; `/groups/{id}` for Entra groups, or
     * leave empty: a group permission's scope is its group). Requests must be at or below one; drift is
     * checked in these.
     */
    scopes: z.array(z.string().min(1).max(400)).max(200).default([]),
  })
  .strict();

const permission = z
  .object({
    name: NAME,
    system: NAME,
    /** Azure: a role name (`Reader`) or role definition GUID. Entra: a group's display name or object id. */
    grants: z.string().min(1).max(200),
    description: z.string().max(500).optional(),
    /** Where it may be asked for; default: the system's scopes. */
    scopes: z.array(z.string().min(1).max(400)).max(200).optional(),
    /** A read-only permission: policies with `autoApprove.readOnly` approve it without people. */
    readOnly: z.boolean().default(false),
  })
  .strict();

const policy = z
  .object({
    name: NAME,
    /** Permission names this policy covers (`*`: all). */
    permissions: z.array(z.string().min(1)).min(1),
    /** Who may request under it: Ticketloop user names (`*`: every user with the requester role). */
    requesters: z.array(z.string().min(1)).default(['*']),
    maxDuration: duration.default('PT8H'),
    defaultDuration: duration.default('PT1H'),
    requireJustification: z.boolean().default(true),
    requireTicket: z.boolean().default(false),
    approvers: z
      .object({
        /** Ticketloop user names; each must hold the approver role to count. */
        users: z.array(z.string().min(1)).default([]),
        /** Every user holding the approver role. */
        anyApprover: z.boolean().default(false),
        /** The requester's manager, from the ITSM's people look-up (matched to a user by e-mail name). */
        manager: z.boolean().default(false),
        /**
         * Entra groups (object ids or display names): a user signed in with Entra ID (OIDC) who is a
         * member, directly or through nested groups, may approve. Local users cannot be checked in Entra.
         */
        groups: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    /** Approvals needed. */
    quorum: z.number().int().min(1).max(10).default(1),
    allowSelfApproval: z.boolean().default(false),
    autoApprove: z
      .object({
        /** Permissions marked readOnly need no approval. */
        readOnly: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** No approval, a short maximum (≤ PT4H), loud notifications, always reviewed afterwards. */
    breakGlass: z.boolean().default(false),
    /** The requester may extend an active grant without a new approval. */
    selfExtend: z.boolean().default(false),
    /** Drift on this policy's permissions is fixed (a missing grant re-granted, a leftover removed), not only reported. */
    fixDrift: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    const max = parseDuration(p.maxDuration) ?? 0;
    if ((parseDuration(p.defaultDuration) ?? 0) > max)
      ctx.addIssue({ code: 'custom', path: ['defaultDuration'], message: `exceeds maxDuration ${p.maxDuration}` });
    if (p.breakGlass && max > 4 * 3_600_000)
      ctx.addIssue({ code: 'custom', path: ['maxDuration'], message: 'a break-glass policy allows at most PT4H' });
  });

const answerName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,79}$/, 'a form field name: letters, digits and "_"');

/**
 * Requests made in the ITSM (the integration's `itsm` connection): the offering people fill in there
 * (ServiceNow: a catalog item), its form's field names, and how often Ticketloop reads new requests
 * and decided approvals (itsm-front.ts).
 */
const itsmFront = z
  .object({
    /** The catalog item (ServiceNow: its name or sys_id) whose requests become Ticketloop requests. */
    catalogItem: z.string().min(1).max(100),
    /** Default: the ITSM connection's poll interval. */
    pollEvery: duration.optional(),
    /**
     * The ITSM person attribute holding their Entra object id (ServiceNow: a sys_user column that Entra
     * provisioning fills, e.g. u_entra_object_id): the identity of a request for oneself. Without it,
     * requests must name the object id.
     */
    directoryIdAttribute: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,79}$/, 'an attribute (column) name')
      .optional(),
    /** The form's field names for each part of a request. */
    answers: z
      .object({
        system: answerName.default('system'),
        permission: answerName.default('permission'),
        scope: answerName.default('scope'),
        duration: answerName.default('duration'),
        justification: answerName.default('justification'),
        identityType: answerName.default('identity_type'),
        identityId: answerName.default('identity_id'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const podShape = {
  systems: z.array(system).min(1),
  permissions: z.array(permission).min(1),
  policies: z.array(policy).min(1),
  /** "Expiring soon" notice this long before a grant ends (`PT0S`: none). */
  expiringSoon: z
    .string()
    .refine((v) => v === 'PT0S' || parseDuration(v) !== undefined, {
      message: 'must be an ISO 8601 duration, e.g. PT15M, or PT0S for none',
    })
    .default('PT15M'),
  /** How often the ledger is compared with the providers (drift). */
  reconcileEvery: duration.default('PT15M'),
  /** E-mail (SMTP) and chat webhooks (Teams, Slack) for the notices (notify/channels.ts). */
  notifications: notificationsSchema.optional(),
  /** How long the approve / reject links in a "submitted" e-mail work (at most 30 days). */
  decisionLinksFor: z
    .string()
    .refine((v) => (parseDuration(v) ?? Infinity) <= 30 * 86_400_000, {
      message: 'must be an ISO 8601 duration of at most P30D, e.g. P1D',
    })
    .default('P1D'),
  /** Ticketloop's own URL for links in notifications (default: server.publicUrl). */
  consoleUrl: z.url().optional(),
  /** Requests made and approved in the ITSM (ServiceNow: a catalog item and its approvals). */
  itsmFront: itsmFront.optional(),
};

export type PodIntegration = Integration<typeof podShape>;
export type PodSystem = PodIntegration['systems'][number];
export type PodPermission = PodIntegration['permissions'][number];
export type PodPolicy = PodIntegration['policies'][number];

/** Cross-references the schema cannot see: permissions name systems, policies name permissions. */
export function podReferenceErrors(i: PodIntegration): { path: string; message: string }[] {
  const errors: { path: string; message: string }[] = [];
  const systems = new Set(i.systems.map((s) => s.name));
  const permissions = new Set(i.permissions.map((p) => p.name));
  i.permissions.forEach((p, n) => {
    if (!systems.has(p.system))
      errors.push({ path: `permissions[${n}].system`, message: `no system named "${p.system}"` });
  });
  i.policies.forEach((p, n) =>
    p.permissions.forEach((name, m) => {
      if (name !== '*' && !permissions.has(name))
        errors.push({ path: `policies[${n}].permissions[${m}]`, message: `no permission named "${name}"` });
    }),
  );
  return errors;
}
