import type { JobHandler } from '../../engine/engine.ts';
import { effectJob } from '../../engine/flow.ts';
import type { Channel, Notifier } from '../../notify/channels.ts';
import type { MessageInput, MessageLink } from '../../notify/message.ts';
import { MAX_PERSONAL_GROUP_APPROVERS } from './approver-groups.ts';
import { formatDuration } from '../../config/duration.ts';
import { FLOW } from './flow.ts';
import type { RequestState } from './request.ts';

/**
 * What permissions on demand tells people, and whom: approvers when a request arrives, the requester
 * (and the other approvers) when it is decided, the requester when it is granted, about to expire,
 * ended or failed. Every configured chat channel gets every notice; e-mail goes to the people
 * concerned whose user name is an address. Each delivery is its own job (`send`), so a channel that
 * fails is retried alone and nothing is sent twice.
 */

const TITLES: Record<string, string> = {
  submitted: 'Access request waiting for approval',
  decided: 'Access request decided',
  canceled: 'Access request withdrawn',
  granted: 'Access granted',
  expiring: 'Access expires soon',
  expired: 'Access expired',
  revoked: 'Access revoked',
  failed: 'Access request failed',
};

const emailOf = (actor: string) => (actor.startsWith('user:') && actor.includes('@') ? actor.slice(5) : undefined);

/** The people an event concerns. */
function concerned(s: RequestState, event: string, actor?: string): string[] {
  if (event === 'submitted') return s.policy.approvers;
  if (event === 'decided') return [s.requester, ...s.policy.approvers.filter((a) => a !== actor)];
  if (event.startsWith('approval:')) return [s.requester];
  return [s.requester];
}

export function podMessage(
  id: string,
  s: RequestState,
  payload: Record<string, unknown>,
  consoleUrl?: string,
): MessageInput {
  const event = String(payload.event);
  const base = event.startsWith('approval:') ? 'decided' : event;
  const what = `${s.permission.name} (${s.permission.displayName}) on ${s.scope}`;
  const when = (ms: unknown) => (Number.isFinite(Number(ms)) ? new Date(Number(ms)).toISOString() : 'soon');
  const summaries: Record<string, () => string> = {
    submitted: () =>
      `${s.requester} asks for ${what} for ${formatDuration(s.durationMs)}${s.policy.autoApproved ? ` — ${s.policy.autoApproved}` : `; ${s.policy.quorum} approval(s) needed`}.`,
    decided: () => `${what} was ${payload.decision ?? 'approved'} by ${payload.actor ?? 'an approver'}.`,
    canceled: () => `${s.requester} withdrew the request for ${what}.`,
    granted: () => `${what} is granted until ${when(payload.expiresAt ?? s.grant?.expiresAt)}.`,
    expiring: () => `${what} ends at ${when(payload.expiresAt)}. Extend it before then if you still need it.`,
    expired: () => `${what} has expired. ${s.revokeCaveat}`,
    revoked: () => `${what} was revoked by ${s.ended?.by ?? 'Ticketloop'}. ${s.revokeCaveat}`,
    failed: () =>
      `Ticketloop could not complete ${what}: ${String(payload.error ?? s.error ?? 'unknown error')}. It keeps retrying where that can help.`,
  };
  const facts = [
    { name: 'Request', value: id },
    { name: 'Requester', value: s.requester },
    { name: 'For', value: `${s.identity.type} ${s.identity.id}` },
    { name: 'Permission', value: what },
    { name: 'Justification', value: s.justification || '—' },
    ...(s.ticketNumber ? [{ name: 'Ticket', value: s.ticketNumber }] : []),
    ...(s.policy.breakGlass ? [{ name: 'Break-glass', value: 'yes: no approval, reviewed afterwards' }] : []),
  ];
  const links = consoleUrl
    ? [
        {
          title: base === 'submitted' ? 'Review the request' : 'Open the request',
          url: `${consoleUrl}/pod/requests/${id}`,
        },
      ]
    : [];
  const loud = s.policy.breakGlass && base === 'submitted' ? 'BREAK-GLASS: ' : '';
  return {
    event: `pod.${base}`,
    title: `${loud}${TITLES[base] ?? 'Access request'}: ${s.permission.name}`,
    summary: summaries[base]?.() ?? what,
    facts,
    links,
    recipients: {
      emails: concerned(s, event, payload.actor as string | undefined)
        .map(emailOf)
        .filter((e): e is string => !!e),
    },
  };
}

/** The deliveries of one notice: e-mail (when anyone has an address) and every chat channel. */
export function deliveries(notifier: Notifier | undefined, m: MessageInput): Channel[] {
  if (!notifier) return [];
  return notifier.channels().filter((c) => c.type !== 'email' || (m.recipients?.emails?.length ?? 0) > 0);
}

export interface PodNotifyDeps {
  notifier(integration: string): Notifier | undefined;
  consoleUrl(integration: string): string | undefined;
  load(item: string): Promise<RequestState | undefined>;
  /** The users under the request's approver groups (Entra, cached): object id and e-mail address. */
  groupMembers?(s: RequestState): Promise<{ id: string; email?: string }[]>;
  /** Each approver's signed Approve / Reject links (decision-links.ts); absent: no such links. */
  decisionLinks?(id: string, approver: string, s: RequestState, consoleUrl: string): MessageLink[];
}

/**
 * A request waiting for approval: one e-mail per approver with an address, each with that approver's
 * own Approve / Reject links before the link to the request. Undefined when the notice has none.
 */
function approverEmails(
  d: PodNotifyDeps,
  id: string,
  s: RequestState,
  event: string,
  message: MessageInput,
): { to: string; message: MessageInput }[] | undefined {
  const consoleUrl = d.consoleUrl(s.integration);
  if (event !== 'submitted' || s.status !== 'submitted' || !consoleUrl || !d.decisionLinks) return undefined;
  return s.policy.approvers.flatMap((approver) => {
    const to = emailOf(approver);
    if (!to) return [];
    const links = [...d.decisionLinks!(id, approver, s, consoleUrl), ...(message.links ?? [])];
    return [{ to, message: { ...message, links, recipients: { emails: [to] } } }];
  });
}

/**
 * The approvers' own e-mails plus one per approver-group member not already among them, with links
 * made for the member's Entra account (`entra:<object id>`): whoever signs in with that account may
 * use them, and is checked for membership when deciding.
 */
function withGroupEmails(
  d: PodNotifyDeps,
  id: string,
  s: RequestState,
  personal: { to: string; message: MessageInput }[] | undefined,
  byGroup: { id: string; email: string }[],
  message: MessageInput,
): { to: string; message: MessageInput }[] | undefined {
  if (!byGroup.length) return personal;
  const consoleUrl = d.consoleUrl(s.integration);
  const seen = new Set((personal ?? []).map((p) => p.to.toLowerCase()));
  const more = byGroup
    .filter((m) => !seen.has(m.email.toLowerCase()))
    .map((m) => {
      const own = consoleUrl && d.decisionLinks ? d.decisionLinks(id, `entra:${m.id}`, s, consoleUrl) : [];
      return {
        to: m.email,
        message: { ...message, links: [...own, ...(message.links ?? [])], recipients: { emails: [m.email] } },
      };
    });
  return [...(personal ?? []), ...more];
}

/** The approver groups' members to tell (with an address, not the requester, once each, at most the bound). */
async function groupRecipients(d: PodNotifyDeps, s: RequestState): Promise<{ id: string; email: string }[]> {
  if (!s.policy.approverGroups?.length || !d.groupMembers) return [];
  const seen = new Set<string>();
  const out: { id: string; email: string }[] = [];
  for (const m of await d.groupMembers(s)) {
    const email = m.email?.toLowerCase();
    if (!email || seen.has(email) || `user:${email}` === s.requester.toLowerCase()) continue;
    seen.add(email);
    out.push({ id: m.id, email: m.email! });
  }
  return out.slice(0, MAX_PERSONAL_GROUP_APPROVERS);
}

/** `notify` fans a notice out into one `send` job per delivery; `send` delivers one. */
export function notifyHandlers(d: PodNotifyDeps): Record<string, JobHandler> {
  return {
    async notify(p: { flowId: string; event: string } & Record<string, unknown>, ctx) {
      const s = await d.load(p.flowId);
      if (!s) return;
      const id = p.flowId.slice(2);
      const message = podMessage(id, s, p, d.consoleUrl(s.integration));
      // Approver groups: their members are told by e-mail, each with links for their own Entra account.
      const byGroup = p.event === 'submitted' && s.status === 'submitted' ? await groupRecipients(d, s) : [];
      const emails = [...new Set([...(message.recipients?.emails ?? []), ...byGroup.map((m) => m.email)])];
      message.recipients = { ...message.recipients, emails };
      const channels = deliveries(d.notifier(s.integration), message);
      const personal = channels.some((c) => c.type === 'email')
        ? withGroupEmails(d, id, s, approverEmails(d, id, s, p.event, message), byGroup, message)
        : undefined;
      const key = `${ctx.job.key}`;
      const send = (channel: Channel, m: MessageInput, to = '') =>
        effectJob(FLOW, p.flowId, {
          kind: 'send',
          key: `send:${key}:${channel.type}:${'name' in channel ? channel.name : to}`,
          payload: { integration: s.integration, channel, message: m },
          maxAttempts: 8,
        });
      return {
        jobs: channels.flatMap((channel) =>
          channel.type === 'email' && personal
            ? personal.map((e) => send({ type: 'email', to: e.to }, e.message, e.to))
            : [send(channel, message)],
        ),
      };
    },
    async send(p: { integration: string; channel: Channel; message: MessageInput }) {
      const notifier = d.notifier(p.integration);
      if (notifier) await notifier.send(p.message, p.channel);
    },
  };
}
