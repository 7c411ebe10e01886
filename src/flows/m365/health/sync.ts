import type { Kysely } from 'kysely';
import { HttpError } from '../../../engine/errors.ts';
import type {
  HealthIssue,
  HealthMessage,
  IncidentReport,
  ServiceHealthClient,
} from '../../../connectors/microsoft/service-health.ts';
import type { Database } from '../../../store/schema.ts';
import { summarizePosts } from './extract.ts';
import { HealthStore, mergePosts, type IssueMark, type StoredIssue } from './store.ts';

/**
 * One service-health sync pass for one integration (tenant): read every page of issues and messages
 * (m365-support.md §2.1: poll the full list and diff locally), compare each issue's
 * lastModifiedDateTime, post count, status and isResolved with the store, fetch the post-incident
 * report of an issue that newly reached postIncidentReviewPublished, and write only what changed, in
 * one transaction. All reads come before the first write, so a pass that fails (a 429 with its
 * Retry-After, handed to the engine's retry policy as the HttpError it is) leaves the store as it was.
 */

export interface HealthSyncDeps {
  client: ServiceHealthClient;
  db: Kysely<Database>;
  integration: string;
  now: () => number;
  /** Read the message center too (needs ServiceMessage.Read.All); default true. */
  messages?: boolean;
  /** Reuse one store across passes to count writes over them (a bench); default a new one per pass. */
  store?: HealthStore;
  /**
   * Called with every new or changed issue (its posts merged with those kept), inside the pass's write
   * transaction: what it writes (the incidents' flow events) commits with the store, or neither does.
   */
  onChanged?: (trx: Kysely<Database>, issues: HealthIssue[]) => Promise<void>;
}

export interface HealthSyncResult {
  /** GET requests for pages (issues + messages); incident reports are counted apart. */
  pageReads: number;
  reportReads: number;
  /** Rows written by this pass; 0 when nothing changed. */
  writes: number;
  /** Issue ids seen for the first time. */
  newIssues: string[];
  /** Known issues with a new post, status or modification time (resolved ones included). */
  changedIssues: string[];
  /** Known issues that went from open to resolved in this pass. */
  resolvedIssues: string[];
  newMessages: string[];
  changedMessages: string[];
  /** Why messages were not read, when Graph refused them (the permission is missing): the pass goes on. */
  messagesSkipped?: string;
}

const isChanged = (mark: IssueMark, i: HealthIssue) =>
  mark.lastModified !== i.lastModifiedDateTime ||
  mark.postCount !== i.posts.length ||
  mark.status !== i.status ||
  mark.isResolved !== i.isResolved;

const iso = (ms: number) => new Date(ms).toISOString();

export async function syncHealth(d: HealthSyncDeps): Promise<HealthSyncResult> {
  const store = d.store ?? new HealthStore(d.db);
  const writesBefore = store.writes;
  const result: HealthSyncResult = {
    pageReads: 0,
    reportReads: 0,
    writes: 0,
    newIssues: [],
    changedIssues: [],
    resolvedIssues: [],
    newMessages: [],
    changedMessages: [],
  };

  // ---- read ----------------------------------------------------------------------------------------------------
  const issues = await d.client.listIssues();
  result.pageReads += issues.pages;
  let messages: HealthMessage[] = [];
  if (d.messages ?? true) {
    try {
      const listed = await d.client.listMessages();
      result.pageReads += listed.pages;
      messages = listed.items;
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 403) throw e;
      result.messagesSkipped = 'Graph answered 403 on /admin/serviceAnnouncement/messages (ServiceMessage.Read.All)';
    }
  }

  const now = d.now();
  const marks = await store.issueMarks(d.integration);
  const changed: { issue: HealthIssue; kept?: StoredIssue }[] = [];
  for (const issue of issues.items) {
    const mark = marks.get(issue.id);
    if (!mark) {
      result.newIssues.push(issue.id);
      changed.push({ issue });
    } else if (isChanged(mark, issue)) {
      result.changedIssues.push(issue.id);
      if (!mark.isResolved && issue.isResolved) result.resolvedIssues.push(issue.id);
      changed.push({ issue, kept: await store.issue(d.integration, issue.id) });
    }
  }

  const reports = new Map<string, IncidentReport>();
  const withReport = changed.filter((c) => c.issue.status === 'postIncidentReviewPublished');
  if (withReport.length) {
    const have = await store.reportIds(d.integration);
    for (const { issue } of withReport) {
      if (have.has(issue.id)) continue;
      result.reportReads++;
      try {
        reports.set(issue.id, await d.client.incidentReport(issue.id));
      } catch (e) {
        // Not there yet although the status says so: the next change of the issue tries again.
        if (!(e instanceof HttpError) || e.status !== 404) throw e;
      }
    }
  }

  const messageMarks = messages.length ? await store.messageMarks(d.integration) : new Map<string, string>();
  const changedMessages = messages.filter((m) => {
    const kept = messageMarks.get(m.id);
    if (kept === undefined) result.newMessages.push(m.id);
    else if (kept !== m.lastModifiedDateTime) result.changedMessages.push(m.id);
    return kept !== m.lastModifiedDateTime;
  });

  // ---- write (only what changed) ---------------------------------------------------------------------------------
  if (changed.length || changedMessages.length || reports.size) {
    await store.transaction(async (w, trx) => {
      const mergedIssues: HealthIssue[] = [];
      for (const { issue, kept } of changed) {
        const posts = mergePosts(kept?.issue.posts ?? [], issue.posts);
        const merged: HealthIssue = { ...issue, posts };
        mergedIssues.push(merged);
        await w.putIssue(
          d.integration,
          {
            issue: merged,
            history: [
              ...(kept?.history ?? []),
              {
                seenAt: iso(now),
                lastModifiedDateTime: issue.lastModifiedDateTime,
                status: issue.status,
                isResolved: issue.isResolved,
                postCount: issue.posts.length,
              },
            ],
            summary: summarizePosts(posts),
            firstSeen: kept?.firstSeen ?? now,
            updatedAt: now,
          },
          issue.posts.length,
        );
      }
      for (const m of changedMessages) await w.putMessage(d.integration, m, now);
      for (const [issueId, report] of reports) await w.putReport(d.integration, issueId, report, now);
      if (d.onChanged && mergedIssues.length) await d.onChanged(trx, mergedIssues);
    });
  }
  result.writes = store.writes - writesBefore;
  return result;
}
