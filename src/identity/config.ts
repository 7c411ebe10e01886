import { z } from 'zod';
import { httpsUrl, secretRef } from '../config/common.ts';
import { ROLES } from './roles.ts';

/**
 * The `identity:` block of the configuration: session lifetimes, sign-in limits, API token limits
 * and, optionally, sign-in with Microsoft Entra ID (OpenID Connect) with group → role mapping.
 */

const role = z.enum(ROLES);

export const oidcConfig = z
  .object({
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: secretRef,
    authorityHost: httpsUrl.default('https://login.microsoftonline.com'),
    /** Overrides `{authorityHost}/{tenantId}/v2.0`. */
    issuer: httpsUrl.optional(),
    /** Default `{server.publicUrl}/auth/oidc/callback`, else the address Ticketloop listens on. */
    redirectUri: z.url({ protocol: /^https?$/ }).optional(),
    /** A CA bundle for the identity provider's TLS (the sandbox's own CA). */
    caFile: z.string().optional(),
    /** Entra group object id → roles its members get. A user in no mapped group cannot sign in. */
    groups: z.record(z.string().min(1), z.array(role).min(1)).default({}),
    /** What the sign-in button says. */
    displayName: z.string().default('Microsoft Entra ID'),
  })
  .strict();

export const identityConfig = z
  .object({
    sessions: z
      .object({
        /** A session ends this long after sign-in, however active. */
        ttlHours: z
          .number()
          .min(0.1)
          .max(24 * 30)
          .default(12),
        /** …or after this long without a request. */
        idleMinutes: z
          .number()
          .min(1)
          .max(24 * 60)
          .default(60),
      })
      .strict()
      .prefault({}),
    signIn: z
      .object({
        /** Failed passwords in a row before the account locks. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        lockoutMinutes: z
          .number()
          .min(1)
          .max(24 * 60)
          .default(15),
        /** Sign-in and setup attempts per client address and minute (all accounts together). */
        perAddressPerMinute: z.number().int().min(1).max(10_000).default(20),
      })
      .strict()
      .prefault({}),
    tokens: z
      .object({
        defaultDays: z.number().int().min(1).max(3650).default(90),
        maxDays: z.number().int().min(1).max(3650).default(365),
      })
      .strict()
      .prefault({}),
    /** Minimum length of local passwords. */
    passwordMinLength: z.number().int().min(8).max(128).default(12),
    oidc: oidcConfig.optional(),
  })
  .strict();

export type IdentityConfig = z.infer<typeof identityConfig>;
export type OidcConfig = z.infer<typeof oidcConfig>;
