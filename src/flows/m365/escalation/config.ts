import { z } from 'zod';
import { parseDuration } from '../../../config/duration.ts';

/**
 * `escalation:` of an m365 integration. `off` (the default) is "Insights only": health, matches and
 * solutions, no escalation. `azure-support` opens real tickets through Microsoft.Support for Azure and
 * Entra services; `guided` prepares a hand-off for Microsoft 365 services, which have no public case
 * API; `both` offers each where it fits. The contact is the one linked administrator account of the
 * tenant: Microsoft calls or writes to this person about every case.
 */

export const ESCALATION_MODES = ['off', 'azure-support', 'guided', 'both'] as const;
export type EscalationMode = (typeof ESCALATION_MODES)[number];
export type EscalationKind = 'azure-support' | 'guided';

const contactShape = z
  .object({
    firstName: z.string().trim().min(1).max(100),
    lastName: z.string().trim().min(1).max(100),
    primaryEmailAddress: z.email().max(320),
    preferredContactMethod: z.enum(['email', 'phone']).default('email'),
    /** A Windows time zone name, as the Azure portal lists them: "W. Europe Standard Time". */
    preferredTimeZone: z.string().trim().min(1).max(100),
    /** e.g. "en-us". */
    preferredSupportLanguage: z
      .string()
      .regex(/^[a-z]{2}-[a-z]{2}$/i, 'a language tag such as en-us')
      .default('en-us'),
    /** ISO 3166-1 alpha-3, e.g. "deu", "usa". */
    country: z.string().regex(/^[a-z]{3}$/i, 'ISO 3166-1 alpha-3, e.g. usa'),
    phoneNumber: z.string().max(40).optional(),
  })
  .strict();

export type EscalationContact = z.infer<typeof contactShape>;

const duration = (min: number, label: string) =>
  z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) >= min, { message: `must be an ISO 8601 duration of at least ${label}` });

export const escalationShape = z
  .object({
    mode: z.enum(ESCALATION_MODES).default('off'),
    /** The Azure subscription support tickets are opened under (its support plan applies). */
    subscription: z.uuid('an Azure subscription id (a GUID)').optional(),
    contact: contactShape.optional(),
    /** How often ticket status and Microsoft's messages are read back. */
    syncEvery: duration(60_000, 'PT1M').default('PT5M'),
    /** A guided case with no update for this long gets a reminder on its incident. */
    remindAfter: duration(3_600_000, 'PT1H').default('P3D'),
    /**
     * Who else gets the reminder by e-mail, beside the contact (needs the integration's
     * `notifications.smtp`).
     */
    reminderRecipients: z.array(z.email().max(254)).max(10).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.mode === 'off') return;
    if (!e.contact)
      ctx.addIssue({
        code: 'custom',
        path: ['contact'],
        message: 'required when escalation is on: the linked administrator account Microsoft contacts about cases',
      });
    if ((e.mode === 'azure-support' || e.mode === 'both') && !e.subscription)
      ctx.addIssue({
        code: 'custom',
        path: ['subscription'],
        message: `required for mode ${e.mode}: the Azure subscription whose support plan opens the tickets`,
      });
  })
  .default({ mode: 'off', syncEvery: 'PT5M', remindAfter: 'P3D' });

export type EscalationConfig = z.infer<typeof escalationShape>;

/** The kinds a mode allows. */
export function kindsOf(mode: EscalationMode): EscalationKind[] {
  return mode === 'both' ? ['azure-support', 'guided'] : mode === 'off' ? [] : [mode];
}
