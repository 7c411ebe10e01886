import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import type { SecretRef } from '../../config/common.ts';
import type { Config } from '../../config/schema.ts';
import { HttpProblem } from '../../http/server.ts';
import type { M365Integration } from './config.ts';
import { concerns } from './setup.ts';
import { registerSetupSave, RESTART, type SavedState } from './setup-save.ts';

/**
 * The console's setup page (admin): what each m365 integration is configured with — never a
 * secret, only where it is kept — "Test setup" for one of them, and saving the fields
 * (setup-save.ts). Once a save changed the configuration file, the page shows the file as saved
 * and Test setup runs on an app built from it, until Ticketloop restarts with it.
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
  itsm: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      instanceUrl: z.string().nullable(),
      auth: z.string().nullable(),
      /** The user name of basic sign-in, or the client id of OAuth (never a secret). */
      account: z.string().nullable(),
    }),
  ),
  /** Set when a save changed the file: the running service applies it at its next start. */
  pending: z.string().nullable(),
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

const m365Of = (config: Config) => config.integrations.filter((i) => i.type === 'm365') as M365Integration[];

/** A connection's sign-in, in words the page shows (no secret). */
function signIn(c: Config['itsm'][number]) {
  const x = c as { instanceUrl?: unknown; auth?: { type?: unknown; username?: unknown; clientId?: unknown } };
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    instanceUrl: str(x.instanceUrl),
    auth: str(x.auth?.type),
    account: str(x.auth?.username) ?? str(x.auth?.clientId),
  };
}

export function registerSetupRoutes(app: Ticketloop, running: () => M365Integration[]): void {
  const saved: SavedState = { sinceStart: false };
  registerSetupSave(app, saved);
  // After a save, the file as saved (what the next start runs with); before, the running app's.
  const current = () => (saved.sinceStart && app.configFile ? app.configFile.read() : undefined);

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
      const config = current() ?? app.config;
      const all = current() ? m365Of(config) : running();
      const ms = config.microsoft;
      return {
        pending: saved.sinceStart ? RESTART : null,
        microsoft: ms
          ? {
              tenantId: ms.tenantId,
              clientId: ms.clientId,
              credential: ms.certificate ? ('certificate' as const) : ('client secret' as const),
              kept: secretSource(ms.certificate?.privateKeyPem ?? ms.clientSecret),
            }
          : null,
        itsm: config.itsm.map((c) => ({ name: c.name, type: c.type, ...signIn(c) })),
        integrations: all.map((i) => ({
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
      const file = saved.sinceStart ? app.configFile : undefined;
      const list = file ? m365Of(file.read()) : running();
      const name = req.body.integration;
      const i = list.find((x) => x.name === name);
      if (!i)
        throw new HttpProblem(404, 'not_found', `no m365 integration "${name}"`, [
          { path: 'body.integration', message: `one of: ${list.map((x) => x.name).join(', ') || '(none configured)'}` },
        ]);
      const check = (a: Ticketloop) => a.checkConnections({ flows: ['m365'] });
      const results = file ? await file.withReloadedApp(check) : await check(app);
      return { integration: i.name, results: results.filter((r) => concerns(r, i)) };
    },
  );
}
