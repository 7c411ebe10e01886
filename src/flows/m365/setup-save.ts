import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import type { SetupStep } from '../../app/checks.ts';
import { HttpProblem } from '../../http/server.ts';
import { appendAudit } from '../../store/audit.ts';
import { personOf } from '../../identity/http.ts';
import { ESCALATION_MODES } from './escalation/config.ts';
import { recordSetup } from './setup.ts';
import { CONTACT_FLAGS, setupInput } from './setup-input.ts';

/**
 * PUT /api/m365/setup (admin): the console's setup page saves what `ticketloop setup m365` would,
 * through the same validation (setup-input.ts) and the same recording (setup.ts's recordSetup):
 * secrets encrypted in the secret store under the CLI's names, the file naming them
 * (`{secret: name}`). The secrets and the audit row commit in one transaction, and only when every
 * step of the file succeeded. A secret field left empty keeps the one stored. The running app keeps
 * the configuration it started with (modules and connections are built once), so a change applies
 * at the next start; Test setup meanwhile runs on the file as saved (setup-routes.ts).
 */

const tags = ['m365'];
const text = (max: number) => z.string().max(max).optional();

const contact = z
  .object({
    firstName: text(100),
    lastName: text(100),
    primaryEmailAddress: text(320),
    phoneNumber: text(40),
    preferredTimeZone: text(100),
    country: text(3),
    preferredSupportLanguage: text(5),
  })
  .strict();

export const setupBody = z
  .object({
    /** The integration (m365 by default in the CLI): required, so an empty body changes nothing by accident. */
    name: z.string().trim().min(1, 'required: the integration name, e.g. m365').max(80),
    tenant: text(256),
    clientId: text(100),
    /** Empty or absent: keep the stored one. */
    clientSecret: text(1024),
    /** PEM text with the private key and the certificate (instead of a client secret). */
    certificate: text(65536),
    itsm: text(80),
    /** Create or update the ServiceNow connection named `itsm`. */
    servicenow: z
      .object({
        instanceUrl: z.string().max(2048),
        auth: z.enum(['oauth', 'basic']),
        clientId: text(200),
        clientSecret: text(1024),
        username: text(200),
        password: text(1024),
      })
      .strict()
      .optional(),
    testEnvironment: z.boolean().optional(),
    escalation: z
      .object({ mode: z.enum(ESCALATION_MODES), subscription: text(100), contact: contact.optional() })
      .strict()
      .optional(),
  })
  .strict();

type Body = z.infer<typeof setupBody>;

/** The CLI's flag of a usage error, as the field of this body. */
const FIELD_OF: Record<string, string> = {
  '--name': 'name',
  '--tenant': 'tenant',
  '--client-id': 'clientId',
  '--client-secret': 'clientSecret',
  '--certificate': 'certificate',
  '--itsm': 'itsm',
  '--instance': 'servicenow.instanceUrl',
  '--sn-auth': 'servicenow.auth',
  '--sn-client-id': 'servicenow.clientId',
  '--sn-client-secret': 'servicenow.clientSecret',
  '--sn-username': 'servicenow.username',
  '--sn-password': 'servicenow.password',
  '--escalation': 'escalation.mode',
  '--subscription': 'escalation.subscription',
  ...Object.fromEntries(Object.entries(CONTACT_FLAGS).map(([f, flag]) => [flag, `escalation.contact.${f}`])),
};

/** The body as the CLI's options (setupInput reads those). */
function options(b: Body): Record<string, string | boolean | undefined> {
  const o: Record<string, string | boolean | undefined> = {
    name: b.name,
    tenant: b.tenant,
    clientId: b.clientId,
    clientSecret: b.clientSecret,
    certificatePem: b.certificate,
    itsm: b.itsm,
    instance: b.servicenow?.instanceUrl,
    snAuth: b.servicenow?.auth,
    snClientId: b.servicenow?.clientId,
    snClientSecret: b.servicenow?.clientSecret,
    snUsername: b.servicenow?.username,
    snPassword: b.servicenow?.password,
    testEnvironment: b.testEnvironment === true,
    escalation: b.escalation?.mode,
    subscription: b.escalation?.subscription,
  };
  for (const [field, flag] of Object.entries(CONTACT_FLAGS)) {
    const key = flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    o[key] = b.escalation?.contact?.[field as keyof NonNullable<NonNullable<Body['escalation']>['contact']>];
  }
  return o;
}

/** A usage error of the CLI's validation (`--flag: message`) as a 400 naming the body's field. */
function asProblem(e: unknown): never {
  const m = e instanceof Error ? /^(--[a-z-]+): ([\s\S]*)$/.exec(e.message) : null;
  if (!m) throw e;
  const path = `body.${FIELD_OF[m[1]] ?? m[1].replace(/^--/, '')}`;
  throw new HttpProblem(400, 'invalid_request', `${path}: ${m[2]}`, [{ path, message: m[2] }]);
}

/** Rolls back the secrets when a step of the file failed (the answer still lists the steps). */
class StepFailed extends Error {
  constructor(readonly steps: SetupStep[]) {
    super('a setup step failed');
  }
}

const step = z.object({
  what: z.string(),
  outcome: z.enum(['created', 'updated', 'unchanged', 'manual', 'failed']),
  detail: z.string().optional(),
});

export const RESTART = 'restart Ticketloop to apply: the running service keeps the configuration it started with';

/** Whether a save since the start changed something the running app does not have yet. */
export interface SavedState {
  sinceStart: boolean;
}

export function registerSetupSave(app: Ticketloop, saved: SavedState): void {
  app.http.put(
    '/api/m365/setup',
    {
      config: { role: 'admin', selfAudited: true },
      schema: {
        tags,
        summary:
          'Save the Microsoft 365 setup (the fields of `ticketloop setup m365`): secrets encrypted in the secret store, the rest in the configuration file',
        body: setupBody,
        response: {
          200: z.object({
            integration: z.string(),
            saved: z.boolean(),
            steps: z.array(step),
            restartNeeded: z.boolean(),
            message: z.string(),
          }),
        },
      },
    },
    async (req) => {
      const file = app.configFile;
      if (!file)
        throw new HttpProblem(
          409,
          'conflict',
          'setup records what it creates in the configuration file, and this Ticketloop runs on embedded defaults (the demo): start it with ticketloop.yaml (README: "Run it against your tenant"), or use --config',
        );
      const config = file.read();
      const input = await setupInput(config, options(req.body), {}).catch(asProblem);
      const actor = personOf(req);
      let steps: SetupStep[];
      try {
        steps = await app.store.db.transaction().execute(async (trx) => {
          const done = await recordSetup(app, config, input, {
            dryRun: false,
            trx,
            recordSection: (k, v, o) => file.recordSection(k, v, o),
            recordIntegration: (e) => file.recordIntegration(e),
          }).catch(asProblem);
          if (done.some((s) => s.outcome === 'failed')) throw new StepFailed(done);
          const changed = done.filter((s) => s.outcome === 'created' || s.outcome === 'updated');
          // Who and what changed: the steps name the secrets, never their values.
          if (changed.length)
            await appendAudit(
              trx,
              [
                {
                  kind: 'admin',
                  actor,
                  subject: `m365/${input.name}`,
                  detail: {
                    event: 'm365-setup-saved',
                    file: file.path,
                    changed: changed.map((s) => `${s.what}: ${s.outcome}`),
                  },
                },
              ],
              app.clock.now(),
              app.store.keys,
            );
          return done;
        });
      } catch (e) {
        if (!(e instanceof StepFailed)) throw e;
        return {
          integration: input.name,
          saved: false,
          steps: e.steps,
          restartNeeded: false,
          message: 'a step failed: nothing was stored in the secret store; each failed step says why',
        };
      }
      const changed = steps.some((s) => s.outcome === 'created' || s.outcome === 'updated');
      if (changed) saved.sinceStart = true;
      return {
        integration: input.name,
        saved: true,
        steps,
        restartNeeded: saved.sinceStart,
        message: saved.sinceStart ? `${changed ? 'saved' : 'nothing changed'}; ${RESTART}` : 'nothing changed',
      };
    },
  );
}
