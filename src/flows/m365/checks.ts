import type { Ticketloop } from '../../app/build.ts';
import type { CheckResult } from '../../app/checks.ts';
import type { CheckContext } from '../../app/doctor.ts';
import type { HelpSearchPort } from '../../connectors/learn.ts';
import { diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import type { ItsmPort } from '../../itsm/port.ts';
import type { M365Integration } from './config.ts';
import { supportClient } from './escalation/service.ts';

/** The Azure role that lets the app open and read support tickets on a subscription. */
export const SUPPORT_ROLE = 'Support Request Contributor';

/**
 * "Test setup" for each enabled Microsoft 365 support integration: Graph lets the app read service
 * health (and the message center), the ITSM account may write incidents (told from its roles, no
 * test record), the ITSM's knowledge search answers (and which one), Microsoft Learn is reachable,
 * and what the escalation mode needs is there. Each failure names its fix.
 */
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);

export async function m365Checks(
  app: Ticketloop,
  ctx: CheckContext,
  integrations: M365Integration[],
  learnOf: (i: M365Integration) => HelpSearchPort,
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const i of integrations) {
    const target = `m365 ${i.name}`;
    if (ctx.microsoftSignedIn) {
      const ms = app.connections.microsoft();
      const reads: [string, string, string][] = [
        ['read service health', '/admin/serviceAnnouncement/issues', 'ServiceHealth.Read.All'],
        ...(i.messages
          ? [
              ['read the message center', '/admin/serviceAnnouncement/messages', 'ServiceMessage.Read.All'] as [
                string,
                string,
                string,
              ],
            ]
          : []),
      ];
      for (const [check, path, permission] of reads)
        try {
          await ms.graph.get(path, { $top: '1' });
          out.push({ target, check, ok: true, detail: `${path} readable (${permission})` });
        } catch (e) {
          out.push({ target, check, ok: false, ...diagnoseMicrosoft(e, ms.config, { graphPermission: permission }) });
        }
    }
    if (app.connections.hasItsm(i.itsm)) out.push(await incidentWrite(target, app.connections.itsm(i.itsm)));
    out.push(...(await escalationChecks(app, ctx, target, i)));
    const knowledge = app.connections.hasItsm(i.itsm) ? app.connections.itsm(i.itsm).knowledge : undefined;
    if (!knowledge)
      out.push({
        target,
        check: 'knowledge search',
        ok: true,
        detail: `the ITSM connection "${i.itsm}" has no knowledge search: recommendations come from Microsoft Learn only`,
      });
    else
      try {
        const source = await knowledge.probe();
        out.push({
          target,
          check: 'knowledge search',
          ok: true,
          detail:
            source === 'km_api'
              ? 'the Knowledge API answers'
              : 'knowledge API plugin not active: articles will come from the Table API',
        });
      } catch (e) {
        out.push({
          target,
          check: 'knowledge search',
          ok: false,
          detail: firstLine(e),
          fix: `give the ITSM user of "${i.itsm}" read access to kb_knowledge (ServiceNow role knowledge or itil)`,
        });
      }
    try {
      await learnOf(i).searchArticles('Microsoft 365 service health', { limit: 1 });
      out.push({ target, check: 'Microsoft Learn search', ok: true, detail: `${i.learnUrl} answers` });
    } catch (e) {
      out.push({
        target,
        check: 'Microsoft Learn search',
        ok: false,
        detail: firstLine(e),
        fix: `check learnUrl and that this host can reach ${new URL(i.learnUrl).host} (proxy, firewall)`,
      });
    }
  }
  return out;
}

/** Matched incidents get work notes and links: the ITSM account must be allowed to write them. */
async function incidentWrite(target: string, itsm: ItsmPort): Promise<CheckResult> {
  const check = 'write incidents';
  if (!itsm.writeAccess)
    return { target, check, ok: true, detail: `the ITSM connection "${itsm.system}" cannot say; not verified` };
  try {
    const w = await itsm.writeAccess('incident');
    if (w.allowed === false) return { target, check, ok: false, detail: w.detail, fix: w.fix };
    return { target, check, ok: true, detail: w.allowed ? w.detail : `not verified: ${w.detail}; ${w.fix}` };
  } catch (e) {
    return { target, check, ok: false, detail: firstLine(e), fix: "see the ITSM connection's own checks above" };
  }
}

/** What the escalation mode needs: the support API on the subscription (azure-support), the contact (guided). */
async function escalationChecks(
  app: Ticketloop,
  ctx: CheckContext,
  target: string,
  i: M365Integration,
): Promise<CheckResult[]> {
  const e = i.escalation;
  const check = 'escalation';
  if (e.mode === 'off')
    return [{ target, check, ok: true, detail: 'off: Insights only (health, matches and solutions)' }];
  const out: CheckResult[] = [];
  const c = e.contact;
  out.push(
    c
      ? {
          target,
          check: 'escalation contact',
          ok: true,
          detail: `cases name ${c.firstName} ${c.lastName} <${c.primaryEmailAddress}>`,
        }
      : {
          target,
          check: 'escalation contact',
          ok: false,
          detail: 'no linked administrator account',
          fix: `set integrations.${i.name}.escalation.contact (ticketloop setup m365 --contact-email …)`,
        },
  );
  if ((e.mode === 'azure-support' || e.mode === 'both') && ctx.microsoftSignedIn) {
    const scope = `/subscriptions/${e.subscription}`;
    try {
      await supportClient(app, i).listTickets({ top: 1 }).next();
      out.push({ target, check: 'Azure support API', ok: true, detail: `support tickets of ${scope} readable` });
    } catch (err) {
      const ms = app.connections.microsoft();
      out.push({
        target,
        check: 'Azure support API',
        ok: false,
        ...diagnoseMicrosoft(err, ms.config, { azureRole: SUPPORT_ROLE, scope }),
      });
    }
  }
  return out;
}
