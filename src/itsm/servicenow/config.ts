import { z } from 'zod';
import { httpsUrl, secretRef } from '../../config/common.ts';

/**
 * A ServiceNow instance in the configuration (`servicenow: [{name, instanceUrl, auth, …}]`), or
 * inline in an integration (then named after the integration).
 */

export const serviceNowAuth = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('oauth'),
      grant: z.enum(['client_credentials', 'password']).default('client_credentials'),
      clientId: z.string().min(1),
      clientSecret: secretRef,
      username: z.string().min(1).optional(),
      password: secretRef.optional(),
    })
    .strict()
    .refine((a) => a.grant !== 'password' || (a.username && a.password), {
      message: 'the password grant needs username and password',
      path: ['username'],
    }),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: secretRef }).strict(),
  z.object({ type: z.literal('apikey'), key: secretRef }).strict(),
]);

/** close-out field values per table and action, e.g. incident.resolve.close_code = "Solution provided". */
export const closeOut = z.record(
  z.string(),
  z
    .object({
      resolve: z.record(z.string(), z.string()).optional(),
      close: z.record(z.string(), z.string()).optional(),
      cancel: z.record(z.string(), z.string()).optional(),
    })
    .strict(),
);

export const serviceNowConnection = z
  .object({
    instanceUrl: httpsUrl,
    auth: serviceNowAuth,
    /** Extra CA to trust (self-hosted instances, the sandbox). */
    caFile: z.string().optional(),
    timeoutMs: z.number().int().positive().default(30_000),
    closeOut: closeOut.default({}),
    /** Inbound business-rule webhook authentication. */
    webhook: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('hmac'), secret: secretRef }).strict(),
        z.object({ type: z.literal('basic'), username: z.string().min(1), password: secretRef }).strict(),
        z.object({ type: z.literal('bearer'), token: secretRef }).strict(),
      ])
      .optional(),
    /** Field sizes (sys_dictionary max_length) where they differ from a base instance's, e.g. {u_summary: 80}. */
    fieldLimits: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.number().int().min(10).max(1_000_000)).optional(),
    /**
     * The user_name Ticketloop's records are created by (default: the auth's username). A record someone
     * else created is never taken for Ticketloop's, even with Ticketloop's correlation key on it.
     */
    account: z.string().min(1).optional(),
    pollIntervalSeconds: z.number().int().min(1).default(30),
    reconcileIntervalSeconds: z.number().int().min(60).default(3600),
  })
  .strict();

export const serviceNowInstance = serviceNowConnection.extend({ name: z.string().min(1) }).strict();

export type ServiceNowConnection = z.infer<typeof serviceNowInstance>;
export type WebhookAuthConfig = NonNullable<ServiceNowConnection['webhook']>;
