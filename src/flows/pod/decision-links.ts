import type { Kysely, Migration } from 'kysely';
import type { Clock } from '../../engine/clock.ts';
import type { MessageLink } from '../../notify/message.ts';
import { signActionLink, verifyActionLink, type ActionLinkCheck } from '../../notify/links.ts';
import type { Dialect } from '../../store/db.ts';
import type { Keyring } from '../../store/keys.ts';
import type { Database } from '../../store/schema.ts';

/**
 * Approve / reject links in the "submitted" e-mail: one pair per approver, signed (notify/links.ts),
 * bound to the request, the approver and the decision, expiring, and good once. A link opens the
 * console's request page (`#decide=<token>`: a fragment, so the token is in no server log or
 * Referer); the signed-in approver confirms, and the console posts the token to
 * `POST /api/pod/requests/{id}/link`, which `useDecisionLink` checks before the ordinary decision.
 * Used links are rows of `pod_action_link` (their jti), kept until the link would have expired anyway.
 */

export type LinkDecision = 'approve' | 'reject';

export interface PodActionLinkTable {
  jti: string;
  request_id: string;
  actor: string;
  action: string;
  used_at: number;
  expires_at: number;
}

type LinkDb = Kysely<Database & { pod_action_link: PodActionLinkTable }>;

export function decisionLinkMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0010_pod_action_links': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('pod_action_link')
          .addColumn('jti', 'text', (c) => c.primaryKey())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('used_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pod_action_link_expires').on('pod_action_link').column('expires_at').execute();
      },
    },
  };
}

export interface LinkDeps {
  keys: Keyring;
  clock: Clock;
}

const subjectOf = (id: string) => `pod/${id}`;

/**
 * The approver's Approve and Reject links for a request, valid for `lifetimeMs`. `approver` is a
 * Ticketloop actor (`user:<name>`), or `entra:<object id>` for an approver group's member.
 */
export function decisionLinks(
  id: string,
  approver: string,
  consoleUrl: string,
  lifetimeMs: number,
  deps: LinkDeps,
): MessageLink[] {
  const expiresAt = deps.clock.now() + lifetimeMs;
  const link = (action: LinkDecision) => {
    const { token } = signActionLink({ subject: subjectOf(id), action, actor: approver, expiresAt }, deps);
    return `${consoleUrl}/pod/requests/${id}#decide=${token}`;
  };
  return [
    { title: 'Approve', url: link('approve') },
    { title: 'Reject', url: link('reject') },
  ];
}

/** A link that cannot be used, with the HTTP answer that says why. */
export class LinkRefused extends Error {
  constructor(
    readonly status: 400 | 403 | 409 | 410,
    readonly code: 'invalid_link' | 'link_expired' | 'link_used' | 'forbidden',
    message: string,
  ) {
    super(message);
  }
}

const INVALID: Record<Exclude<ActionLinkCheck, { ok: true }>['reason'], string> = {
  malformed: 'this link is not a decision link (it may have been cut short or altered)',
  'unknown-key': 'this link was signed by a key this Ticketloop does not hold (another instance, or a retired key)',
  'bad-signature': 'this link has been altered: its signature does not match',
  expired: 'this link has expired: open the request and decide there',
  'wrong-action': 'this link is not an approve or reject link',
  'wrong-subject': 'this link is for another request',
};

/**
 * Check a link for request `id` used by `actor` and hand its decision to `decide` (the service's
 * ordinary path) with `claim`, which records the link as used. `decide` runs `claim` inside the
 * transaction that records the decision, so the link is used up exactly when the decision is made:
 * a decision that fails (or a crash before it commits) leaves the link usable.
 */
export async function useDecisionLink<T>(
  db: Kysely<Database>,
  deps: LinkDeps,
  id: string,
  token: string,
  actor: string,
  decide: (decision: LinkDecision, claim: (trx: Kysely<Database>) => Promise<void>) => Promise<T>,
  /** The signed-in actor's Entra object id: a link made for an approver group's member (`entra:<id>`) is theirs. */
  entraId?: string,
): Promise<T> {
  const check = verifyActionLink(token, deps, { subject: subjectOf(id) });
  if (!check.ok)
    throw check.reason === 'expired'
      ? new LinkRefused(410, 'link_expired', INVALID.expired)
      : new LinkRefused(400, 'invalid_link', INVALID[check.reason]);
  const link = check.link;
  if (link.action !== 'approve' && link.action !== 'reject')
    throw new LinkRefused(400, 'invalid_link', INVALID['wrong-action']);
  const forEntra = link.actor.startsWith('entra:') ? link.actor.slice(6).toLowerCase() : undefined;
  if (forEntra !== undefined && forEntra !== entraId?.toLowerCase())
    throw new LinkRefused(
      403,
      'forbidden',
      `this link was made for another Entra ID account (an approver group's member); you are signed in as ${actor.replace(/^user:/, '')}${entraId ? '' : ', not with Entra ID'}`,
    );
  if (forEntra === undefined && link.actor !== actor)
    throw new LinkRefused(
      403,
      'forbidden',
      `this link was made for ${link.actor.replace(/^user:/, '')}; you are signed in as ${actor.replace(/^user:/, '')}`,
    );
  const usedAt = async (links: LinkDb) =>
    (await links.selectFrom('pod_action_link').select('used_at').where('jti', '=', link.jti).executeTakeFirst())
      ?.used_at;
  const refuseUsed = (at: number | undefined) =>
    new LinkRefused(
      409,
      'link_used',
      `this link was already used${at ? ` at ${new Date(Number(at)).toISOString()}` : ''}: each link works once`,
    );
  // Said first, before the request's own state (already decided) would answer for it.
  const before = await usedAt(db as unknown as LinkDb);
  if (before !== undefined) throw refuseUsed(before);
  const action = link.action;
  return decide(action, async (trx) => {
    const links = trx as unknown as LinkDb;
    const now = deps.clock.now();
    // Links past their expiry are refused by their signature's claims: their rows are no longer needed.
    await links.deleteFrom('pod_action_link').where('expires_at', '<', now).execute();
    const claimed = await links
      .insertInto('pod_action_link')
      .values({ jti: link.jti, request_id: id, actor, action, used_at: now, expires_at: link.expiresAt })
      .onConflict((oc) => oc.column('jti').doNothing())
      .executeTakeFirst();
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0n) === 0) throw refuseUsed(await usedAt(links));
  });
}
