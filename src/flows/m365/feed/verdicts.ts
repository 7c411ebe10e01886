import type { Kysely } from 'kysely';
import type { Ticketloop } from '../../../app/build.ts';
import type { IncidentNote } from '../../../itsm/port.ts';
import { appendAudit } from '../../../store/audit.ts';
import type { Database } from '../../../store/schema.ts';
import { MatchStore, type MatchStatus } from './store.ts';

/**
 * Agents' verdicts on suggested matches, from the API or from a command in a work note on the
 * incident (`#ticketloop confirm EX123456`, `#ticketloop reject EX123456`, `#ticketloop none`): stored on
 * the match rows with who, when and why, with their audit row, in the caller's transaction.
 */

/** What a work note must contain to be read as a command (the ITSM finds these case-insensitively). */
export const COMMAND_MARK = '#ticketloop';

export type Verdict = Exclude<MatchStatus, 'suggested'>;

export interface VerdictInput {
  integration: string;
  incidentId: string;
  incidentKey: string;
  /** The issues decided on; for `none`, the incident's open suggestions. */
  issues: string[];
  status: Verdict;
  actor: string;
  comment?: string;
  /** Where it came from, for the audit row. */
  via: 'api' | 'work-note';
}

/** Set the verdict of these matches (inserting those that were not suggested) and write the audit row. */
export async function recordVerdict(app: Ticketloop, trx: Kysely<Database>, v: VerdictInput): Promise<void> {
  const now = app.clock.now();
  const verdict = {
    status: v.status,
    verdict_by: v.actor,
    verdict_at: now,
    comment: v.comment || null,
    updated_at: now,
  };
  for (const issue of v.issues)
    await MatchStore.of(trx)
      .insertInto('m365_matches')
      .values({
        integration: v.integration,
        incident_id: v.incidentId,
        issue_id: issue,
        rank: null,
        score: null,
        why: 'named by an agent',
        noted_at: null,
        linked_at: null,
        created_at: now,
        ...verdict,
      })
      .onConflict((oc) => oc.columns(['integration', 'incident_id', 'issue_id']).doUpdateSet(verdict))
      .execute();
  await appendAudit(
    trx,
    [
      {
        kind: 'state',
        actor: v.actor,
        subject: `m365/match/${v.incidentKey || v.incidentId}`,
        detail: {
          action: v.status,
          integration: v.integration,
          incident: v.incidentKey,
          issues: v.issues,
          comment: v.comment ?? '',
          via: v.via,
        },
      },
    ],
    now,
    app.store.keys,
  );
}

export interface NoteCommand {
  note: IncidentNote;
  action: 'confirm' | 'reject' | 'none';
  /** The health issue id (confirm, reject). */
  issue?: string;
  /** The rest of the line, kept as the verdict's comment. */
  comment: string;
}

const COMMAND = /#ticketloop[ \t]+(confirm|reject|none)\b[ \t]*([A-Za-z]{2,4}\d{3,12})?[ \t]*([^\n]*)/i;

/** The command of each note (one per note, the first), in the notes' order; notes without one are skipped. */
export function parseCommands(notes: IncidentNote[]): NoteCommand[] {
  const out: NoteCommand[] = [];
  for (const note of notes) {
    const m = COMMAND.exec(note.text);
    if (!m) continue;
    const action = m[1].toLowerCase() as NoteCommand['action'];
    if (action !== 'none' && !m[2]) continue;
    out.push({ note, action, issue: m[2]?.toUpperCase(), comment: m[3].trim() });
  }
  return out;
}
