import type { Ticketloop } from '../../app/build.ts';
import type { CheckResult } from '../../app/checks.ts';
import type { CheckContext } from '../../app/doctor.ts';
import type { HelpSearchPort } from '../../connectors/learn.ts';
import { diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import type { M365Integration } from './config.ts';

/**
 * "Test setup" for each enabled Microsoft 365 support integration: Graph lets the app read service
 * health (and the message center), the ITSM's knowledge search answers (and which one), and
 * Microsoft Learn is reachable. Each failure names its fix.
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
