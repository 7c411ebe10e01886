import { z } from 'zod';
import { secretRef } from '../../config/common.ts';
import { ARM_SCOPE_FORMS, isArmScope } from '../../connectors/microsoft/arm.ts';
import type { Integration } from '../../config/schema.ts';

/**
 * The fields of a Defender for Cloud integration (type: 'defender'); name, enabled and the ITSM
 * connection come from the core. The same schema validates integrations created through the API
 * (those must name a configured connection, so no credentials are ever stored in the database).
 */

export const SEVERITIES = ['Low', 'Medium', 'High', 'Critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

const days = z.number().positive().max(3650);

/** Fields the default mapping fills; customized mode adds the rest (and any field via `fields`). */
const mapping = z
  .object({
    mode: z.enum(['default', 'customized']).default('default'),
    /** Templates: {title} {severity} {count} {resourceId} {assessmentKey} {description} {remediation} {portalLink} {dueDate} {integration} */
    shortDescription: z.string().min(1).max(160).default('[{severity}] {title}'),
    description: z
      .string()
      .min(1)
      .default(
        'Defender for Cloud recommendation "{title}" ({severity}) is unhealthy on {count} resource(s), e.g. {resourceId}.\n\n{description}\n\nRemediation: {remediation}\nDue: {dueDate}\n{portalLink}',
      ),
    /**
     * Owner: an e-mail address looked up in the ITSM's people (also the governance assignment owner).
     * Like the caller it must name a person the ITSM knows: an unknown one stops the integration
     * (its status and doctor say which), never a ticket without its owner.
     */
    assignedTo: z.email().optional(),
    /** Caller: an e-mail address looked up in the ITSM's people, written where the ticket type keeps it. */
    caller: z.email().optional(),
    /** The ITSM field that holds the caller, instead of the adapter's default for the ticket type. */
    callerField: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'must be a field name')
      .optional(),
    assignmentGroup: z.string().min(1).optional(),
    impact: z.enum(['1', '2', '3']).optional(),
    urgency: z.enum(['1', '2', '3']).optional(),
    category: z.string().min(1).optional(),
    /** Any other field, values are templates too. */
    fields: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a field name'), z.string()).optional(),
  })
  .strict()
  .refine(
    (m) =>
      m.mode === 'customized' ||
      (!m.assignmentGroup && !m.impact && !m.urgency && !m.category && !m.fields && !m.callerField),
    {
      message: "assignmentGroup, impact, urgency, category, callerField and fields need mode: 'customized'",
      path: ['mode'],
    },
  );

const smtp = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** true = TLS from the first byte (465); otherwise STARTTLS per `starttls`. */
    secure: z.boolean().default(false),
    starttls: z.enum(['auto', 'require', 'off']).default('auto'),
    from: z.string().min(3),
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    caFile: z.string().optional(),
  })
  .strict();

const notifications = z
  .object({
    /**
     * Who sends the owner/manager reminders: Ticketloop (by the schedule below, over `smtp`; Defender's
     * own e-mails are switched off on every governance assignment) or Defender for Cloud (its weekly
     * e-mails switched on for owner/manager as chosen; Ticketloop sends none). Never both.
     */
    sender: z.enum(['ticketloop', 'defender']).default('ticketloop'),
    owner: z.boolean().default(false),
    manager: z.boolean().default(false),
    /** A reminder this many days before the due date (0 = none). */
    daysBefore: z.number().int().min(0).max(365).default(3),
    /** A reminder every 7 days while the ticket is open. */
    weekly: z.boolean().default(true),
    smtp: smtp.optional(),
  })
  .strict()
  .refine((n) => n.sender === 'defender' || !(n.owner || n.manager) || n.smtp, {
    message: "owner/manager reminders sent by Ticketloop need smtp (or sender: 'defender')",
    path: ['smtp'],
  });

export const defenderShape = {
  // Short and plain: it is part of every ticket's correlation key (ITSMs bound its length).
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'letters, digits, _ . - (at most 32)'),
  /** Subscription, resource group, management group or security connector: one whole ARM scope (arm.ts). */
  scope: z
    .string()
    .refine(isArmScope, `a subscription, management group or security connector id (${ARM_SCOPE_FORMS})`),
  ticketType: z.enum(['incident', 'change_request', 'problem']).default('incident'),
  mapping: mapping.prefault({}),
  /** One ticket per recommendation (all its unhealthy resources) or one per resource. */
  grouping: z.enum(['recommendation', 'resource']).default('recommendation'),
  filters: z
    .object({
      severities: z.array(z.enum(SEVERITIES)).min(1).optional(),
      /** Assessment keys (GUIDs) to include. */
      recommendations: z.array(z.string().min(1)).min(1).optional(),
    })
    .strict()
    .prefault({}),
  /** New tickets per UTC day; the rest wait for the next day (0 = none). */
  dailyCap: z.number().int().min(0).default(100),
  /** Days to remediate: one number, or per severity. */
  remediationTimeframeDays: z
    .union([days, z.object({ Low: days, Medium: days, High: days, Critical: days }).strict()])
    .default({ Low: 90, Medium: 30, High: 14, Critical: 7 }),
  /** Recorded on the governance assignment: no secure-score penalty until the due date. */
  gracePeriod: z.boolean().default(true),
  /** A ticket closed by someone while resources are still unhealthy. */
  closedWhileUnhealthy: z.enum(['reopen', 'new_ticket', 'comment']).default('reopen'),
  notifications: notifications.prefault({}),
  reconcileIntervalSeconds: z.number().int().min(10).default(3600),
  /**
   * Hours an integration may be missing from the configuration file before it is treated as deleted
   * (its governance assignments removed, its tickets annotated); back within them, nothing happens.
   */
  removalGraceHours: z
    .number()
    .min(0)
    .max(24 * 365)
    .default(24),
  /** ARM page size ($top) while streaming assessments. */
  pageSize: z.number().int().min(10).max(5000).default(5000),
};

export type DefenderIntegration = Integration<typeof defenderShape>;

export function timeframeDays(i: DefenderIntegration, severity: Severity): number {
  const t = i.remediationTimeframeDays;
  return typeof t === 'number' ? t : t[severity];
}

/** Ticketloop sends the reminders itself (owner or manager chosen, sender ticketloop). */
export function ticketloopReminds(i: DefenderIntegration): boolean {
  const n = i.notifications;
  return n.sender === 'ticketloop' && (n.owner || n.manager);
}
