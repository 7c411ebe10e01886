import type { Ticketloop } from '../../app/build.ts';
import type { CheckResult } from '../../app/checks.ts';
import type { CheckContext } from '../../app/doctor.ts';
import { normaliseScope } from '../../connectors/microsoft/arm.ts';
import { diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import { ticketloopReminds, type DefenderIntegration } from './config.ts';
import { peopleChecks } from './people.ts';
import { runtime } from './runtime.ts';

/**
 * "Test setup" for each enabled Defender integration: ARM lets the app read the scope's
 * assessments (Security Reader; governance assignments need Security Admin, which no read can
 * prove), the SMTP server accepts the configured account when Ticketloop sends reminders, and the
 * mapping's owner and caller are people the ITSM knows (people.ts).
 */

export const READ_ROLE = 'Security Reader';
export const GOVERN_ROLE = 'Security Admin';

export async function defenderChecks(app: Ticketloop, ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const { config: i } of runtime(app).integrations.list())
    if (i.enabled) out.push(...(await integrationChecks(app, i, ctx)));
  return out;
}

/** The checks of one integration (also the console's "Test the connection" on its page). */
export async function integrationChecks(
  app: Ticketloop,
  i: DefenderIntegration,
  ctx: CheckContext,
): Promise<CheckResult[]> {
  const d = runtime(app);
  const out: CheckResult[] = [];
  const target = `defender ${i.name}`;
  if (ctx.microsoftSignedIn) {
    const ms = app.connections.microsoft();
    const scope = normaliseScope(i.scope);
    try {
      const first = await ms.arm.listAssessments(scope, { pageSize: 1 }).next();
      const n = first.done ? 0 : first.value.value.length;
      out.push({
        target,
        check: 'read assessments',
        ok: true,
        detail: `${scope} readable (${n ? 'assessments found' : 'no assessments yet'}); governance assignments need "${GOVERN_ROLE}"`,
      });
    } catch (e) {
      out.push({
        target,
        check: 'read assessments',
        ok: false,
        ...diagnoseMicrosoft(e, ms.config, { azureRole: READ_ROLE, scope }),
      });
    }
  }
  const smtp = i.notifications.smtp;
  if (smtp && ticketloopReminds(i)) {
    try {
      await d.mailer.verify(i);
      out.push({ target, check: 'SMTP', ok: true, detail: `${smtp.host}:${smtp.port} accepted the connection` });
    } catch (e) {
      const err = e as Error & { code?: string; responseCode?: number };
      const auth = err.code === 'EAUTH' || err.responseCode === 535;
      out.push({
        target,
        check: 'SMTP',
        ok: false,
        detail: `${smtp.host}:${smtp.port}: ${err.message.split('\n')[0].slice(0, 200)}`,
        fix: auth
          ? `check notifications.smtp.username and password for ${smtp.host}`
          : `check notifications.smtp.host, port, secure/starttls and that this host can reach ${smtp.host}:${smtp.port}`,
      });
    }
  }
  out.push(...(await peopleChecks(app.connections.itsm(i.itsm), i)));
  return out;
}
