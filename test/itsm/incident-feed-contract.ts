import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { IncidentFeedPort, ReportedIncident, TicketRef } from '../../src/itsm/port.ts';

/**
 * The contract of the optional incident-feed sub-port (src/itsm/port.ts `IncidentFeedPort`), with
 * nothing of any vendor in it: people report incidents in the ITSM and change them; the feed reads
 * them from a watermark, page by page, and links a child to a parent. An adapter's test builds an
 * `IncidentFeedSubject`; test/itsm/servicenow-incident-feed.test.ts is the ServiceNow one.
 */

/** A person working in the ITSM itself, not through the port. */
export interface IncidentAgent {
  /** Report an incident; its ref. `correlation` as Ticketloop would set it, when given. */
  report(title: string, description: string, correlation?: string): Promise<TicketRef>;
  /** Change its description. */
  edit(ref: TicketRef, description: string): Promise<void>;
  /** Write a work note on it. */
  note(ref: TicketRef, text: string): Promise<void>;
  /** The id of its parent incident, or '' when it has none. */
  parentOf(ref: TicketRef): Promise<string>;
}

export interface IncidentFeedSubject {
  port: IncidentFeedPort;
  /** The incident kind (ServiceNow: 'incident'). */
  kind: string;
  agent: IncidentAgent;
  close(): Promise<void>;
}

export function incidentFeedContract(name: string, make: () => Promise<IncidentFeedSubject>): void {
  describe(`incident-feed port contract: ${name}`, () => {
    let s: IncidentFeedSubject;
    let mark: string | undefined;
    const run = randomBytes(4).toString('hex');
    before(async () => {
      s = await make();
    });
    after(async () => s?.close());

    /** Everything until the feed says there is no more, from the running watermark, in small pages. */
    async function drain(notesContaining?: string): Promise<ReportedIncident[]> {
      const out: ReportedIncident[] = [];
      for (let pages = 0; pages < 100; pages++) {
        const page = await s.port.pollIncidents(s.kind, mark, { pageSize: 2, notesContaining });
        assert.ok(page.incidents.length <= 2, 'a page holds at most pageSize incidents');
        out.push(...page.incidents);
        mark = page.watermark;
        if (!page.more) return out;
      }
      throw new Error('the feed never ended');
    }

    test('reported incidents are read with their text, times and correlation, across pages', async () => {
      await drain();
      const refs = [];
      for (let n = 0; n < 5; n++) refs.push(await s.agent.report(`contract ${run}: mail ${n}`, `details ${n}`));
      const ours = await s.agent.report(`contract ${run}: opened by Ticketloop`, '', `tl:contract:${run}`);
      const seen = await drain();
      for (const [n, ref] of refs.entries()) {
        const hit = seen.find((x) => x.ref.id === ref.id);
        assert.ok(hit, `${ref.key} is read`);
        assert.equal(hit.key, ref.key);
        assert.equal(hit.title, `contract ${run}: mail ${n}`);
        assert.equal(hit.description, `details ${n}`);
        assert.match(hit.openedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
        assert.match(hit.updatedAt, /Z$/);
        assert.equal(hit.correlation, '');
      }
      assert.equal(seen.find((x) => x.ref.id === ours.id)?.correlation, `tl:contract:${run}`);
    });

    test('a changed incident is read again from the watermark, with its new text', async () => {
      const ref = await s.agent.report(`contract ${run}: teams`, 'before');
      assert.ok((await drain()).some((x) => x.ref.id === ref.id));
      await s.agent.edit(ref, 'after');
      const again = (await drain()).filter((x) => x.ref.id === ref.id);
      assert.ok(again.length >= 1, 'the change is read');
      assert.equal(again[again.length - 1].description, 'after');
    });

    test('linkToParent makes an incident a child of another, which the feed then reports', async () => {
      const parent = await s.agent.report(`contract ${run}: parent`, '');
      const child = await s.agent.report(`contract ${run}: child`, '');
      await s.port.linkToParent(child, parent);
      assert.equal(await s.agent.parentOf(child), parent.id);
      const read = (await drain()).filter((x) => x.ref.id === child.id);
      assert.equal(read[read.length - 1]?.parent, parent.id);
      await assert.rejects(s.port.linkToParent(child, child), /own parent/);
    });

    test('with notesContaining, each incident carries its work notes holding that text (any case), with author and time', async () => {
      const ref = await s.agent.report(`contract ${run}: notes`, '');
      await s.agent.note(ref, 'called the user back');
      await s.agent.note(ref, `#TICKETLOOP confirm EX900001 ${run}`);
      const read = (await drain('#ticketloop')).filter((x) => x.ref.id === ref.id);
      const notes = read[read.length - 1]?.notes;
      assert.equal(notes?.length, 1, JSON.stringify(notes));
      assert.equal(notes[0].text, `#TICKETLOOP confirm EX900001 ${run}`);
      assert.ok(notes[0].id && notes[0].author, 'a note has an id and an author');
      assert.match(notes[0].createdAt, /Z$/);
      await s.agent.note(ref, 'one more');
      const plain = (await drain()).filter((x) => x.ref.id === ref.id);
      assert.equal(plain[plain.length - 1]?.notes, undefined, 'notes only when asked for');
    });
  });
}
