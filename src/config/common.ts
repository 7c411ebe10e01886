import { z } from 'zod';

/** Schemas shared by the top-level configuration, the ITSM adapters and the flows' integration entries. */

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * A secret given inline, from an environment variable, from a file, or by name from the encrypted
 * secret store (`{secret: name}`: what `ticketloop setup` writes, so no value is in the file).
 */
export const secretRef = z.union([
  z.string().min(1, 'must not be empty'),
  z.object({ value: z.string().min(1, 'must not be empty') }).strict(),
  z.object({ env: z.string().min(1, 'must name an environment variable') }).strict(),
  z.object({ file: z.string().min(1, 'must name a file') }).strict(),
  z.object({ secret: z.string().min(1, 'must name a stored secret') }).strict(),
]);
export type SecretRef = z.infer<typeof secretRef>;

export const httpsUrl = z.string({ error: 'must be an https URL' }).refine((v) => {
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
  .refine((m) => m.clientSecret || m.certificate, {
    message: 'give clientSecret or certificate',
    path: ['clientSecret'],
  });
