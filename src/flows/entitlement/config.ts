import { z } from 'zod';
import { secretRef } from '../../config/common.ts';
import type { Integration } from '../../config/schema.ts';
import { statesSchema } from './states.ts';

/** The first-party "Azure AD Identity Governance – Entitlement Management" app that sends callouts (§2.4). */
export const EM_APP_ID = '810dcf14-1858-4bf2-8134-4c369fa3235b';

/** Request stages that can wait for a callback (launch-and-wait), in Graph's camelCase. */
export const REQUEST_STAGES = [
  'assignmentRequestCreated',
  'assignmentRequestApproved',
  'assignmentRequestGranted',
  'assignmentRequestRemoved',
] as const;
export type RequestStage = (typeof REQUEST_STAGES)[number];

/** Every stage a callout can name (pre-expiration stages are launch-and-continue). */
export const ALL_STAGES = [
  ...REQUEST_STAGES,
  'assignmentFourteenDaysBeforeExpiration',
  'assignmentOneDayBeforeExpiration',
] as const;
export type CalloutStage = (typeof ALL_STAGES)[number];

export const TICKET_TABLES = ['sc_req_item', 'sc_task', 'incident'] as const;

const idList = z.array(z.string().min(1)).min(1, 'give at least one id, or "*"');
const templates = z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a field name of the ITSM'), z.string());

/** The fields of this flow's `integrations[]` entries (type: 'entitlement'); name, enabled and itsm come from the core. */
export const entitlementShape = {
  /** Access package ids this entry handles ("*" = any). Both this and `catalogs` must match. */
  accessPackages: idList.default(['*']),
  /** Catalog ids this entry handles ("*" = any). */
  catalogs: idList.default(['*']),
  /** Stages that open a ticket; other request stages are resumed at once. */
  stages: z.array(z.enum(ALL_STAGES)).min(1).default(['assignmentRequestApproved', 'assignmentRequestRemoved']),
  /** The kind of ticket (ServiceNow: the table). */
  table: z.enum(TICKET_TABLES).default('sc_req_item'),
  /** Ticket field templates; `{{Path.In.Callout}}` placeholders (PascalCase or camelCase), plus {{AnswersText}}, {{StageLabel}}. */
  fields: templates.default({}),
  /** Overrides of `fields` for the "assignment is removed" stage (a deprovisioning ticket). */
  removalFields: templates.default({}),
  /**
   * Which ticket states resume, deny or keep the request waiting (docs/entitlement.md has the defaults):
   * `{ resume: [closed_skipped] }` moves Closed Skipped from deny to resume; states not listed keep their default.
   */
  states: statesSchema,
  /** When Entra stops waiting: add a work note only, or also resolve the ticket. */
  onTimeout: z.enum(['annotate', 'resolve']).default('annotate'),
  /** `source` of the resume call (audited by Entra). */
  resumeSource: z.string().min(1).max(200).default('Ticketloop'),
  inbound: z
    .object({
      /** Accepted token audiences: the extension's `authenticationConfiguration.resourceId`. Default: microsoft.clientId and api://<clientId>. */
      audiences: z.array(z.string().min(1)).min(1).optional(),
      /** Accepted calling apps (appid / azp). */
      allowedAppIds: z.array(z.string().min(1)).min(1).default([EM_APP_ID]),
      /** Shared secret of the Logic App forwarder (POST /callouts/entitlement/logic-app). */
      logicAppHmacSecret: secretRef.optional(),
    })
    .strict()
    .prefault({}),
};

export type EntitlementIntegration = Integration<typeof entitlementShape>;
