import type { FastifyInstance } from 'fastify';

/**
 * A stand-in for Microsoft Learn's search (`GET https://learn.microsoft.com/api/search?search=<q>&
 * locale=en-us&$top=<n>` → `{results:[{title,url,description,…}],count}`; m365-support.md §2.3 —
 * undocumented, widely used). The corpus is the sandbox's own: short Microsoft 365 troubleshooting
 * entries written for it, with illustrative learn.microsoft.com URLs (not copied pages). Ranking:
 * title words count 3, description words 1; entries with no query word are left out.
 */

const L = 'https://learn.microsoft.com/en-us';

export const LEARN_CORPUS: Array<{ title: string; url: string; description: string }> = [
  {
    title: 'Outlook messages stay in the Outbox and are not sent',
    url: `${L}/troubleshoot/outlook/email/messages-stuck-in-outbox`,
    description:
      'Steps to find why Outlook does not send mail: offline mode, large attachments, add-ins, service health.',
  },
  {
    title: 'Outlook on the web cannot send or receive email',
    url: `${L}/troubleshoot/exchange/email-delivery/owa-cannot-send-receive`,
    description: 'Check Exchange Online service health and mailbox quota when Outlook on the web fails to send.',
  },
  {
    title: 'Email delivery delayed in Exchange Online',
    url: `${L}/troubleshoot/exchange/email-delivery/delayed-delivery`,
    description: 'How to use message trace to see where inbound or outbound mail is delayed.',
  },
  {
    title: 'Shared mailbox does not appear in Outlook',
    url: `${L}/troubleshoot/exchange/user-and-shared-mailboxes/shared-mailbox-missing`,
    description: 'Automapping, permissions and profile repair for shared mailboxes that do not show up.',
  },
  {
    title: 'Cannot join a Microsoft Teams meeting',
    url: `${L}/troubleshoot/microsoftteams/meetings/cannot-join-meeting`,
    description: 'What to check when users cannot join Teams meetings: lobby settings, network, client version.',
  },
  {
    title: 'Teams audio or video quality problems during calls',
    url: `${L}/troubleshoot/microsoftteams/teams-im-presence/audio-video-quality`,
    description: 'Find network and device causes of poor Teams call quality with the call analytics view.',
  },
  {
    title: 'Teams messages not delivered or chat not loading',
    url: `${L}/troubleshoot/microsoftteams/teams-im-presence/chat-not-loading`,
    description: 'Clear the Teams cache, check service health and sign-in state when chats do not load.',
  },
  {
    title: 'SharePoint Online site is slow to load',
    url: `${L}/troubleshoot/sharepoint/performance/site-slow-to-load`,
    description: 'Diagnose slow SharePoint pages: large lists, heavy web parts, network and CDN settings.',
  },
  {
    title: 'Access denied when opening a SharePoint site',
    url: `${L}/troubleshoot/sharepoint/sharing-and-permissions/access-denied`,
    description: 'Check site permissions, sharing settings and conditional access when users get access denied.',
  },
  {
    title: 'OneDrive sync is stuck on processing changes',
    url: `${L}/troubleshoot/sharepoint/sync/onedrive-stuck-processing`,
    description: 'Reset the OneDrive sync client and check path lengths and disk space.',
  },
  {
    title: 'Users are repeatedly prompted for multifactor authentication',
    url: `${L}/troubleshoot/entra/entra-id/mfa/repeated-mfa-prompts`,
    description: 'Review sign-in frequency, Conditional Access and Authenticator registration when MFA prompts repeat.',
  },
  {
    title: 'Sign-in fails with an AADSTS error code',
    url: `${L}/troubleshoot/entra/entra-id/app-integration/aadsts-error-codes`,
    description: 'Look up the AADSTS code from the sign-in logs to find the cause of a failed Microsoft Entra sign-in.',
  },
  {
    title: 'Conditional Access policy blocks sign-in unexpectedly',
    url: `${L}/troubleshoot/entra/entra-id/conditional-access/unexpected-block`,
    description: 'Use the What If tool and sign-in logs to see which Conditional Access policy blocked a user.',
  },
  {
    title: 'Microsoft 365 apps activation fails',
    url: `${L}/troubleshoot/microsoft-365-apps/activation/activation-fails`,
    description: 'Licence assignment, shared computer activation and sign-in issues that stop Office activating.',
  },
  {
    title: 'Licence not applied after assigning it in the admin center',
    url: `${L}/troubleshoot/microsoft-365/admin/licensing/licence-not-applied`,
    description: 'Group-based licensing errors and service plan conflicts that keep a licence from applying.',
  },
  {
    title: 'Check Microsoft 365 service health',
    url: `${L}/microsoft-365/enterprise/view-service-health`,
    description: 'Where admins see current incidents and advisories for Exchange, Teams, SharePoint and more.',
  },
  {
    title: 'Get support for Microsoft 365 for business',
    url: `${L}/microsoft-365/admin/get-help-support`,
    description: 'How an admin opens a service request from the Microsoft 365 admin center Support page.',
  },
  {
    title: 'Intune device shows as not compliant',
    url: `${L}/troubleshoot/mem/intune/device-compliance/not-compliant`,
    description: 'Check compliance policy assignment, check-in time and device settings for non-compliant devices.',
  },
  {
    title: 'Exchange Online mailbox is full',
    url: `${L}/troubleshoot/exchange/user-and-shared-mailboxes/mailbox-full`,
    description: 'Archive, retention and quota options when a mailbox reaches its storage limit.',
  },
  {
    title: 'Calendar sharing does not work between organizations',
    url: `${L}/troubleshoot/exchange/calendars/calendar-sharing-external`,
    description: 'Organization relationships and sharing policies needed to share free/busy across tenants.',
  },
];

const STOP = new Set('a an and are as at be by for from in is it not of on or the to with since'.split(' '));
const words = (t: string) =>
  t
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1 && !STOP.has(w))
    .map((w) => (w.length > 4 && w.endsWith('s') ? w.slice(0, -1) : w));

export function registerLearnSearch(app: FastifyInstance): void {
  app.get('/api/search', async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    const search = String(q.search ?? '').trim();
    if (!search) return reply.code(400).send({ error: { code: 'BadRequest', message: "'search' is required." } });
    const top = Math.min(Math.max(Number(q.$top ?? 10) || 10, 1), 100);
    const skip = Math.max(Number(q.$skip ?? 0) || 0, 0);
    const terms = new Set(words(search));
    const ranked = LEARN_CORPUS.map((a) => {
      const title = words(a.title);
      const body = words(a.description);
      let score = 0;
      for (const t of terms) score += title.filter((w) => w === t).length * 3 + body.filter((w) => w === t).length;
      return { a, score };
    })
      .filter((x) => x.score > 0)
      .sort((x, y) => y.score - x.score);
    const locale = String(q.locale ?? 'en-us').toLowerCase();
    return {
      results: ranked.slice(skip, skip + top).map(({ a }) => ({
        title: a.title,
        url: a.url.replace('/en-us/', `/${locale}/`),
        description: a.description,
        lastUpdatedDate: '2026-01-15T00:00:00+00:00',
      })),
      count: ranked.length,
    };
  });
}
