import type { Kysely, Migration } from 'kysely';
import type { AccessRequestPort, AccessRequestUpdate, TicketRef } from '../../itsm/port.ts';
import type { Dialect } from '../../store/db.ts';
import type { Database } from '../../store/schema.ts';

/**
 * Notes on an ITSM request written once. A note has a name (the notice's sync job key, the
 * decision's id and version, the refusal), and `pod_itsm_note` (migration `0018_pod_itsm_notes`)
 * remembers it: `pending` before the write, `written` after. A retry of a written note leaves the note
 * out of the update; a retry of a pending one — the first write may have landed with its answer lost,
 * or the process stopped before recording it — asks the ITSM whether the note is there (`hasNote`)
 * before writing it again.
 */

export interface PodItsmNoteTable {
  /** The ITSM record: `<system>:<kind>:<id>`. */
  subject: string;
  name: string;
  state: 'pending' | 'written';
  attempted_at: number;
  written_at: number | null;
}

type NoteDb = Kysely<Database & { pod_itsm_note: PodItsmNoteTable }>;

export function itsmNoteMigrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0018_pod_itsm_notes': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('pod_itsm_note')
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempted_at', bigint, (c) => c.notNull())
          .addColumn('written_at', bigint)
          .addPrimaryKeyConstraint('pod_itsm_note_pk', ['subject', 'name'])
          .execute();
      },
    },
  };
}

export class ItsmNotes {
  private readonly db: NoteDb;

  constructor(
    db: Kysely<Database>,
    private readonly now: () => number,
  ) {
    this.db = db as unknown as NoteDb;
  }

  /** `update` written to the request, its note at most once under `name`. */
  async write(port: AccessRequestPort, ref: TicketRef, name: string, update: AccessRequestUpdate): Promise<void> {
    const note = update.note?.trim() ? update.note : undefined;
    if (!note) return port.updateRequest(ref, update);
    const subject = `${ref.system}:${ref.kind}:${ref.id}`;
    const row = await this.db
      .selectFrom('pod_itsm_note')
      .select(['state', 'attempted_at'])
      .where('subject', '=', subject)
      .where('name', '=', name)
      .executeTakeFirst();
    const landed =
      row?.state === 'written' ||
      (!!row && !!port.hasNote && (await port.hasNote(ref, note, Number(row.attempted_at))));
    if (!row)
      await this.db
        .insertInto('pod_itsm_note')
        .values({ subject, name, state: 'pending', attempted_at: this.now(), written_at: null })
        .onConflict((oc) => oc.columns(['subject', 'name']).doNothing())
        .execute();
    await port.updateRequest(ref, landed ? { ...update, note: undefined } : update);
    if (row?.state !== 'written')
      await this.db
        .updateTable('pod_itsm_note')
        .set({ state: 'written', written_at: this.now() })
        .where('subject', '=', subject)
        .where('name', '=', name)
        .execute();
  }
}
