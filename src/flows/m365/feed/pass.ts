import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Ticketloop } from '../../../app/build.ts';
import type { JobSpec } from '../../../engine/jobs.ts';
import { boundText, type ReportedIncident, type TicketRef } from '../../../itsm/port.ts';
import { CORRELATION_PREFIX } from '../../../itsm/watch.ts';
import { appendAudit } from '../../../store/audit.ts';
import type { Database } from '../../../store/schema.ts';
import { parseDuration } from '../../../config/duration.ts';
import type { M365Integration } from '../config.ts';
import { FLOW } from '../flow.ts';
import { HealthStore } from '../health/store.ts';
import { toMatchIssue } from '../match/input.ts';
import { Matcher, type Match } from '../match/matcher.ts';
import { parentIncidentOf } from './parent.ts';
import { MatchStore } from './store.ts';
import { COMMAND_MARK, parseCommands, recordVerdict, type NoteCommand } from './verdicts.ts';

/**
 * One feed pass of an m365 integration: read the ITSM's new and changed incidents from the stored
 * watermark, match each against the stored health issues (the integration's threshold, the agents'
 * verdicts), and per page, in one transaction: the incidents and their top matches with reasons,
 * the watermark, an audit row per incident with a new match, and the jobs that write one work note
 * per new match (and link the incident to the issue's parent incident, when it has one). An incident
 * whose text did not change since it was matched writes nothing; a suggestion already made (or
 * rejected) is never made again. Incidents Ticketloop opened itself are not matched. Agents' commands
 * in work notes (`#ticketloop reject EX123456`, verdicts.ts) are taken once each, in the same transaction.
 */

const KIND = 'incident';
const PAGE_SIZE = 100;
/** Pages per pass; the rest waits for the next pass (the watermark keeps the place). */
const MAX_PAGES = 20;
const TEXT_LIMIT = 4000;

export interface FeedPassResult {
  read: number;
  matched: number;
  notes: number;
  /** Work-note commands taken (confirm, reject, none). */
  commands: number;
}

const noteText = (issueId: string, title: string, why: string) =>
  boundText(
    `Possibly related to Microsoft 365 health issue ${issueId} — ${boundText(title, 200)}: ${why}. ` +
      'Confirm or reject in Ticketloop.',
    1000,
  );

/** Jobs keyed by integration, incident and issue: a suggestion's note and link are enqueued once. */
const noteJob = (integration: string, incident: TicketRef, issue: string, text: string, again = ''): JobSpec => ({
  kind: `${FLOW}.match-note`,
  key: `m365-match-note:${integration}:${incident.id}:${issue}${again}`,
  payload: { integration, incident, issue, text },
});

async function noteFor(trx: Kysely<Database>, i: M365Integration, p: Planned, m: Match, again = '') {
  const issue = await new HealthStore(trx).issue(i.name, m.issue);
  return noteJob(i.name, p.incident.ref, m.issue, noteText(m.issue, issue?.issue.title ?? '', m.why), again);
}
const linkJob = (integration: string, incident: TicketRef, issue: string, parent: TicketRef): JobSpec => ({
  kind: `${FLOW}.match-link`,
  key: `m365-match-link:${integration}:${incident.id}:${issue}`,
  payload: { integration, incident, issue, parent },
});

interface Planned {
  incident: ReportedIncident;
  text: string;
  hash: string;
  matches: Match[];
  /** The parent incident of the top match's issue, when there is one and the incident has no parent. */
  parent?: TicketRef;
}

export async function runFeedPass(app: Ticketloop, i: M365Integration): Promise<FeedPassResult> {
  const result: FeedPassResult = { read: 0, matched: 0, notes: 0, commands: 0 };
  const feed = app.connections.hasItsm(i.itsm) ? app.connections.itsm(i.itsm).incidentFeed : undefined;
  if (!feed) {
    app.log.warn({ integration: i.name, itsm: i.itsm }, 'the ITSM connection has no incident feed: nothing matched');
    return result;
  }
  const store = new MatchStore(app.store.db);
  const issues = (await new HealthStore(app.store.db).issues(i.name)).map(toMatchIssue);
  const matcher = new Matcher(issues, await store.feedback(i.name));
  const since = app.clock.now() - parseDuration(i.feed.lookBack)!;
  let watermark = await store.watermark(i.name);

  for (let page = 0; page < MAX_PAGES; page++) {
    const read = await feed.pollIncidents(KIND, watermark, {
      pageSize: PAGE_SIZE,
      since,
      notesContaining: COMMAND_MARK,
    });
    result.read += read.incidents.length;
    const theirs = read.incidents.filter((x) => !x.correlation.startsWith(CORRELATION_PREFIX) && x.openedAt);
    const marks = await store.marks(
      i.name,
      theirs.map((x) => x.ref.id),
    );
    const planned: Planned[] = [];
    const commands: { incident: ReportedIncident; commands: NoteCommand[] }[] = [];
    for (const incident of theirs) {
      const mark = marks.get(incident.ref.id);
      const fresh = parseCommands(incident.notes ?? []).filter((c) => c.note.createdAt > (mark?.commandsAt ?? ''));
      if (fresh.length) commands.push({ incident, commands: fresh });
      const text = boundText(`${incident.title}\n${incident.description}`.trim(), TEXT_LIMIT);
      const hash = createHash('sha256').update(`${incident.openedAt}\n${text}`).digest('hex').slice(0, 32);
      if (mark?.hash === hash) continue;
      const matches = matcher.match(
        {
          sys_id: incident.ref.id,
          number: incident.key,
          short_description: incident.title,
          description: incident.description,
          opened_at: incident.openedAt,
        },
        { threshold: i.matchThreshold },
      );
      const parent =
        matches.length && !incident.parent
          ? await parentIncidentOf(app, i, matches[0].issue, incident.ref.kind)
          : undefined;
      planned.push({ incident, text, hash, matches, parent });
    }
    if (planned.length || commands.length || read.watermark !== watermark)
      await app.store.db.transaction().execute(async (trx) => {
        for (const p of planned) {
          const notes = await record(app, trx, store, i, p);
          result.notes += notes;
          if (p.matches.length) result.matched++;
        }
        // After the matching, so that a command on a new incident finds its suggestions.
        for (const c of commands) result.commands += await takeCommands(app, trx, i, c.incident, c.commands);
        await store.setWatermark(trx, i.name, read.watermark, app.clock.now());
      });
    watermark = read.watermark;
    if (!read.more) break;
  }
  return result;
}

/** Store one incident's matches; returns how many notes were enqueued. */
async function record(
  app: Ticketloop,
  trx: Kysely<Database>,
  store: MatchStore,
  i: M365Integration,
  p: Planned,
): Promise<number> {
  const now = app.clock.now();
  const db = MatchStore.of(trx);
  const id = p.incident.ref.id;
  const row = {
    incident: JSON.stringify(p.incident.ref),
    incident_key: p.incident.key.toUpperCase(),
    title: boundText(p.incident.title, 200),
    text: p.text,
    text_hash: p.hash,
    opened_at: p.incident.openedAt,
    matched_at: now,
  };
  await db
    .insertInto('m365_match_incidents')
    .values({ integration: i.name, incident_id: id, ...row, commands_at: null })
    .onConflict((oc) => oc.columns(['integration', 'incident_id']).doUpdateSet(row))
    .execute();

  const existing = new Map((await store.matchesOf(trx, i.name, id)).map((m) => [m.issue_id, m]));
  const jobs: JobSpec[] = [];
  const suggested: string[] = [];
  for (const [index, m] of p.matches.entries()) {
    const kept = existing.get(m.issue);
    existing.delete(m.issue);
    const ranked = { rank: index + 1, score: m.score, why: m.why, updated_at: now };
    const where = db
      .updateTable('m365_matches')
      .where('integration', '=', i.name)
      .where('incident_id', '=', id)
      .where('issue_id', '=', m.issue);
    if (kept) {
      await where.set(ranked).execute();
      // Back in the top 3 before its note was written (it left before the note's job ran): note it now.
      if (kept.status === 'suggested' && kept.noted_at === null && kept.rank === null) {
        suggested.push(m.issue);
        jobs.push(await noteFor(trx, i, p, m, `:${now}`));
      }
      continue;
    }
    await db
      .insertInto('m365_matches')
      .values({
        integration: i.name,
        incident_id: id,
        issue_id: m.issue,
        ...ranked,
        status: 'suggested',
        noted_at: null,
        linked_at: null,
        verdict_by: null,
        verdict_at: null,
        comment: null,
        created_at: now,
      })
      .execute();
    suggested.push(m.issue);
    jobs.push(await noteFor(trx, i, p, m));
    if (index === 0 && p.parent) jobs.push(linkJob(i.name, p.incident.ref, m.issue, p.parent));
  }
  // Suggestions that left the top 3 are kept (a verdict or a note may refer to them), unranked.
  for (const gone of existing.values())
    if (gone.rank !== null)
      await db
        .updateTable('m365_matches')
        .set({ rank: null, updated_at: now })
        .where('integration', '=', i.name)
        .where('incident_id', '=', id)
        .where('issue_id', '=', gone.issue_id)
        .execute();
  if (suggested.length) {
    await appendAudit(
      trx,
      [
        {
          kind: 'state',
          actor: 'ticketloop',
          subject: `${FLOW}/match/${p.incident.key || id}`,
          detail: { action: 'suggested', integration: i.name, incident: p.incident.key, issues: suggested },
        },
      ],
      now,
      app.store.keys,
    );
    await app.engine.enqueue(jobs, trx);
  }
  return suggested.length;
}

/**
 * Take an incident's new work-note commands, oldest first, as verdicts by the note's author; a command
 * naming an issue Ticketloop does not know is skipped. Returns how many were taken.
 */
async function takeCommands(
  app: Ticketloop,
  trx: Kysely<Database>,
  i: M365Integration,
  incident: ReportedIncident,
  commands: NoteCommand[],
): Promise<number> {
  const store = new HealthStore(trx);
  let taken = 0;
  for (const c of commands) {
    const suggested = (await new MatchStore(trx).matchesOf(trx, i.name, incident.ref.id)).filter(
      (m) => m.status === 'suggested' && m.rank !== null,
    );
    const issues = c.action === 'none' ? suggested.map((m) => m.issue_id) : [c.issue!];
    if (c.action !== 'none' && !(await store.issue(i.name, c.issue!))) {
      app.log.warn(
        { integration: i.name, incident: incident.key, issue: c.issue },
        'work-note command names an unknown issue',
      );
      continue;
    }
    await recordVerdict(app, trx, {
      integration: i.name,
      incidentId: incident.ref.id,
      incidentKey: incident.key,
      issues,
      status: c.action === 'confirm' ? 'confirmed' : 'rejected',
      actor: `${i.itsm}:${c.note.author}`,
      comment: c.comment || (c.action === 'none' ? 'none of the suggestions' : undefined),
      via: 'work-note',
    });
    taken++;
  }
  await MatchStore.of(trx)
    .updateTable('m365_match_incidents')
    .set({ commands_at: commands[commands.length - 1].note.createdAt })
    .where('integration', '=', i.name)
    .where('incident_id', '=', incident.ref.id)
    .execute();
  return taken;
}
