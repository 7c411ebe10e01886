import { z } from 'zod';

/** Schemas shared by the top-level configuration and the flows' integration entries. */

/** A secret given inline, from an environment variable, or from a file. */
export const secretRef = z.union([
  z.string().min(1, 'must not be empty'),
  z.object({ value: z.string().min(1, 'must not be empty') }).strict(),
  z.object({ env: z.string().min(1, 'must name an environment variable') }).strict(),
  z.object({ file: z.string().min(1, 'must name a file') }).strict(),
]);
export type SecretRef = z.infer<typeof secretRef>;

export const httpsUrl = z
  .string({ error: 'must be an https URL' })
  .refine((v) => {
    try {
      return new URL(v).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL');

export const anyUrl = z.string().refine((v) => {
  try {
    new URL(v);
    return true;
  } catch {
    return false;
  }
}, 'must be a URL');

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
    pollIntervalSeconds: z.number().int().min(1).default(30),
    reconcileIntervalSeconds: z.number().int().min(60).default(3600),
  })
  .strict();

export const serviceNowInstance = serviceNowConnection.extend({ name: z.string().min(1) }).strict();

export const microsoftConnection = z
  .object({
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: secretRef.optional(),
    certificate: z.object({ privateKeyPem: secretRef, certificatePem: secretRef }).strict().optional(),
    authorityHost: httpsUrl.default('https://login.microsoftonline.com'),
    graphUrl: httpsUrl.default('https://graph.microsoft.com'),
    armUrl: httpsUrl.default('https://management.azure.com'),
    caFile: z.string().optional(),
  })
  .strict()
  .refine((m) => m.clientSecret || m.certificate, { message: 'give clientSecret or certificate', path: ['clientSecret'] });

