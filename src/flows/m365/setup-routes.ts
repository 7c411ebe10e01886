import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import type { SecretRef } from '../../config/common.ts';
import { HttpProblem } from '../../http/server.ts';
import type { M365Integration } from './config.ts';
import { concerns } from './setup.ts';

/**
 * The console's setup page (admin): what each m365 integration is configured with — never a
 * secret, only where it is kept — and "Test setup" for one of them. The configuration file is
 * the one place setup writes, and Ticketloop has no API that stores secrets for it, so changes
 * are made with `ticketloop setup m365` (the page builds the command).
 */

const tags = ['m365'];

const checkResult = z.object({
  target: z.string(),
  check: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  fix: z.string().optional(),
});

/** Where a secret is kept, in words; never its value. */
export function secretSource(ref: SecretRef | undefined): string | null {
  if (ref === undefined) return null;
  if (typeof ref === 'string' || 'value' in ref) return 'inline in the configuration file';
  if ('secret' in ref) return 'encrypted in the secret store';
  if ('env' in ref) return `environment variable ${ref.env}`;
  return `file ${ref.file}`;
}

const setupView = z.object({
  microsoft: z
    .object({
      tenantId: z.string(),
      clientId: z.string(),
      credential: z.enum(['client secret', 'certificate']),
      kept: z.string().nullable(),
    })
    .nullable(),
  itsm: z.array(z.object({ name: z.string(), type: z.string() })),
  integrations: z.array(
    z.object({
      name: z.string(),
      enabled: z.boolean(),
      itsm: z.string(),
      testEnvironment: z.boolean(),
      escalation: z.object({
        mode: z.string(),
        subscription: z.string().nullable(),
        contact: z.string().nullable(),
      }),
    }),
  ),
});

export function registerSetupRoutes(app: Ticketloop, all: () => M365Integration[]): void {
  app.http.get(
    '/api/m365/setup',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'How the Microsoft 365 integrations are set up (where secrets are kept, never their values)',
        response: { 200: setupView },
      },
    },
    async () => {
      const ms = app.config.microsoft;
      return {
        microsoft: ms
          ? {
              tenantId: ms.tenantId,
              clientId: ms.clientId,
              credential: ms.certificate ? ('certificate' as const) : ('client secret' as const),
              kept: secretSource(ms.certificate?.privateKeyPem ?? ms.clientSecret),
            }
          : null,
        itsm: app.config.itsm.map((c) => ({ name: c.name, type: c.type })),
        integrations: all().map((i) => ({
          name: i.name,
          enabled: i.enabled,
          itsm: i.itsm,
          testEnvironment: i.testEnvironment,
          escalation: {
            mode: i.escalation.mode,
            subscription: i.escalation.subscription ?? null,
            contact: i.escalation.contact
              ? `${i.escalation.contact.firstName} ${i.escalation.contact.lastName} <${i.escalation.contact.primaryEmailAddress}>`
              : null,
          },
        })),
      };
    },
  );

  app.http.post(
    '/api/m365/setup/test',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Test setup: every check of one m365 integration and its connections, each failure with its fix',
        body: z.object({ integration: z.string().min(1, 'required: the integration to test').max(80) }).strict(),
        response: { 200: z.object({ integration: z.string(), results: z.array(checkResult) }) },
      },
    },
    async (req) => {
      const list = all();
      const name = req.body.integration;
      const i = list.find((x) => x.name === name);
      if (!i)
        throw new HttpProblem(404, 'not_found', `no m365 integration "${name}"`, [
          { path: 'body.integration', message: `one of: ${list.map((x) => x.name).join(', ') || '(none configured)'}` },
        ]);
      const results = await app.checkConnections({ flows: ['m365'] });
      return { integration: i.name, results: results.filter((r) => concerns(r, i)) };
    },
  );
}
