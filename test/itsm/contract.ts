import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PermanentError } from '../../src/engine/errors.ts';
import { createHttpServer, type App } from '../../src/http/server.ts';
import type { ItsmPort, Ticket, TicketChange, TicketRef } from '../../src/itsm/port.ts';

/**
 * The contract every ITSM adapter passes: the port (src/itsm/port.ts) exercised only through
 * `ItsmPort`, with nothing of any vendor in it. An adapter's test file builds a `ContractSubject`
 * (its port on a running system, plus an "agent" who works in the ITSM directly) and calls
 * `itsmContract()`; test/itsm/servicenow-contract.test.ts is the ServiceNow one.
 *
 * Correlation keys carry a random run id, so reruns against a system that keeps its state do not
 * collide. Every wait is bounded (polling with a deadline), and checks that a feed does NOT report
 * something are made on a read that did report a positive control, so an eventually consistent
 * system (a search index that lags) is not mistaken for a correct one.
 */

/** A person working in the ITSM itself (its UI or its own API), not through the port. */
export interface ContractAgent {
  /** Resolve the ticket, as an agent would, with these resolution notes. */
  resolve(ref: TicketRef, notes: string): Promise<void>;
  /** Delete the record outright (a hard delete). */
  delete(ref: TicketRef): Promise<void>;
  /** What a person sees on the ticket: its title, description and journal (any order). */
  view(ref: TicketRef): Promise<{
    title: string;
    description: string;
    workNotes: string[];
    comments: string[];
    /** The person ids the ticket names as assignee and caller (as `findPerson` gives them). */
    assignee?: string;
    caller?: string;
  }>;
  /** The ids of `kind` tickets whose title contains `text`, as a person's search finds them. */
  search(kind: string, text: string): Promise<string[]>;
}

/** The ITSM's push (webhook) towards the endpoint the port registers with `registerPush`. */
export interface ContractPush {
  /**
   * Make the ITSM push its changes to `baseUrl` (`http://127.0.0.1:<port>`, where a Fastify app
   * with the port's `registerPush` listens), or stop pushing with undefined. Every change to a
   * ticket (through the port or by the agent) then fires a push, as the real system does.
   */
  target(baseUrl: string | undefined): Promise<void>;
}

export interface ContractSubject {
  /** A fresh port on a fresh system (or at least one that does not share correlation keys with other runs). */
  port: ItsmPort;
  /** A ticket kind that supports resolve/close/cancel/reopen (ServiceNow: 'incident'). */
  kind: string;
  /** Fields, in the adapter's own names, that set a ticket's title through `updateTicket`. */
  titleFields(title: string): Record<string, string>;
  /** A person who exists in the ITSM, and their manager's e-mail if they have one. */
  person: { email: string; managerEmail?: string };
  agent: ContractAgent;
  /** Undefined when the adapter has no push (or the system cannot send one). */
  push?: ContractPush;
  close(): Promise<void>;
}

/** Generous bounds: the suite must hold on a loaded 2-core machine. */
const WAIT_MS = 30_000;

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms = WAIT_MS): Promise<T> {
  const end = Date.now() + ms;
  let delay = 50;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function isPermanent(e: unknown): boolean {
  return e instanceof PermanentError;
}

/** Declares the contract tests for one adapter; `make` is called once, before the first test. */
export function itsmContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`ITSM port contract: ${name}`, () => {
    let s: ContractSubject;
    let port: ItsmPort;
    let kind: string;
    /** Lower-case hex: a valid part of a `tl:<flow>:<item>` key. */
    const run = randomBytes(4).toString('hex');
    /** The correlation prefix of one test's tickets: `tl:ct<run>-<tag>:`. */
    const prefixOf = (tag: string) => `tl:ct${run}-${tag}:`;
    const open = async (correlation: string, title = `contract ${run} ${correlation}`, description?: string) =>
      (await port.openTicket({ kind, correlation, title, description, origin: 'contract test' })).ticket;
    const fresh = async (ref: TicketRef): Promise<Ticket> => {
      const t = await port.getTicket(ref);
      assert.ok(t, `${ref.key} can be read back`);
      return t;
    };

    before(async () => {
      s = await make();
      port = s.port;
      kind = s.kind;
    });
    after(async () => {
      await s?.close();
    });

    // ---- 1. idempotent open, lookups ---------------------------------------------------------

    test('openTicket creates once: the same correlation again returns the same ticket with created=false', async () => {
      const key = `${prefixOf('open')}once`;
      const a = await port.openTicket({ kind, correlation: key, title: `contract ${run} once` });
      assert.equal(a.created, true);
      const b = await port.openTicket({ kind, correlation: key, title: `contract ${run} once, again` });
      assert.equal(b.created, false, 'the second open found the first ticket');
      assert.deepEqual(b.ticket.ref, a.ticket.ref);
      assert.equal(b.ticket.correlation, key);
      assert.deepEqual(
        await s.agent.search(kind, `contract ${run} once`),
        [a.ticket.ref.id],
        'exactly one ticket in the ITSM',
      );
    });

    test('findByCorrelation finds the ticket by its exact key', async () => {
      const key = `${prefixOf('find')}item-1`;
      const t = await open(key);
      const found = await port.findByCorrelation(kind, key);
      assert.ok(found, 'found');
      assert.deepEqual(found.ref, t.ref);
      assert.equal(found.correlation, key);
    });

    test('findByCorrelation is exact and case-sensitive: a prefix, an extension or another case of the key does not match', async () => {
      const key = `${prefixOf('exact')}item-1`;
      await open(key);
      for (const other of [key.slice(0, -1), `${key}0`, key.toUpperCase(), `${prefixOf('exact')}Item-1`]) {
        assert.equal(await port.findByCorrelation(kind, other), undefined, `'${other}' does not match '${key}'`);
      }
    });

    test('getTicket finds a ticket by its ref', async () => {
      const t = await open(`${prefixOf('get')}item-1`);
      const got = await port.getTicket(t.ref);
      assert.ok(got);
      assert.deepEqual(got.ref, t.ref);
      assert.equal(got.version, t.version);
      assert.equal(got.status, 'open');
      const byKindAndId = await port.getTicket({ kind: t.ref.kind, id: t.ref.id });
      assert.deepEqual(byKindAndId?.ref, t.ref, 'kind and id are enough');
    });

    test('findByKey (where the adapter has it) finds a ticket by the key people use, exactly; an unknown key finds nothing', async (t) => {
      if (!port.findByKey) return t.skip('the adapter cannot look tickets up by key');
      const opened = await open(`${prefixOf('key')}item-1`);
      assert.deepEqual((await port.findByKey(kind, opened.ref.key))?.ref, opened.ref);
      assert.equal(await port.findByKey(kind, `${opened.ref.key}9`), undefined, 'an extension does not match');
      await assert.rejects(port.findByKey(kind, ' '), PermanentError, 'an empty key is refused, never a match-all');
    });

    test('an empty or whitespace-only correlation is refused (PermanentError) and nothing is created', async () => {
      const marker = `contract ${run} no-correlation`;
      for (const bad of ['', ' ', '   ', '\t\n']) {
        await assert.rejects(
          port.openTicket({ kind, correlation: bad, title: marker }),
          isPermanent,
          `openTicket(${JSON.stringify(bad)})`,
        );
        const found = await port.findByCorrelation(kind, bad).catch(() => undefined);
        assert.equal(found, undefined, `findByCorrelation(${JSON.stringify(bad)}) finds nothing`);
      }
      assert.deepEqual(await s.agent.search(kind, marker), [], 'no ticket was created');
    });

    // ---- 2. what a ticket carries ------------------------------------------------------------

    test('a new ticket carries its ref (system, kind, id, key, http(s) link), status open, a version, a UTC updatedAt and its correlation', async () => {
      const key = `${prefixOf('shape')}item-1`;
      const before = Date.now();
      const { ticket: t, created } = await port.openTicket({ kind, correlation: key, title: `contract ${run} shape` });
      assert.equal(created, true);
      assert.equal(t.ref.system, port.system);
      assert.equal(t.ref.kind, kind);
      assert.ok(t.ref.id.trim(), 'non-empty id');
      assert.ok(t.ref.key.trim(), 'non-empty key');
      assert.notEqual(t.ref.key, '', 'key');
      const link = new URL(t.ref.link);
      assert.match(link.protocol, /^https?:$/, 'the link is http(s)');
      assert.equal(t.status, 'open');
      assert.ok(t.version.trim(), 'non-empty version');
      assert.match(t.updatedAt, ISO_UTC, 'updatedAt is ISO 8601 UTC');
      // Within 15 minutes of now: a time zone read as UTC (or the reverse) would be hours off.
      const skew = Date.parse(t.updatedAt) - before;
      assert.ok(
        Math.abs(skew) < 15 * 60_000,
        `updatedAt ${t.updatedAt} is about now (${new Date(before).toISOString()})`,
      );
      assert.equal(t.correlation, key);
      assert.equal(t.closeNotes, undefined, 'no close notes on an open ticket');
      assert.equal(typeof t.fields, 'object');
    });

    test('title and description given to openTicket land in the ITSM', async () => {
      const title = `contract ${run} title lands`;
      const description = `What happened.\nLine two of ${run}.`;
      const t = await open(`${prefixOf('text')}item-1`, title, description);
      const seen = await s.agent.view(t.ref);
      assert.equal(seen.title, title);
      assert.equal(seen.description, description);
    });

    // ---- 3. updates and journal --------------------------------------------------------------

    test('updateTicket changes the ticket and its version', async () => {
      const t = await open(`${prefixOf('update')}item-1`);
      const title = `contract ${run} updated title`;
      const u = await port.updateTicket(t.ref, s.titleFields(title));
      assert.deepEqual(u.ref, t.ref);
      assert.notEqual(u.version, t.version, 'the version changed');
      assert.equal((await fresh(t.ref)).version, u.version, 'the returned ticket is the current one');
      assert.equal((await s.agent.view(t.ref)).title, title);
    });

    test('addWorkNote and addComment land on the ticket and each change its version', async () => {
      const t = await open(`${prefixOf('journal')}item-1`);
      const note = `work note ${run}`;
      await port.addWorkNote(t.ref, note);
      const afterNote = await fresh(t.ref);
      assert.notEqual(afterNote.version, t.version, 'a work note changes the version');
      const comment = `comment ${run}`;
      await port.addComment(t.ref, comment);
      const afterComment = await fresh(t.ref);
      assert.notEqual(afterComment.version, afterNote.version, 'a comment changes the version');
      const seen = await s.agent.view(t.ref);
      assert.ok(seen.workNotes.includes(note), `work notes: ${JSON.stringify(seen.workNotes)}`);
      assert.ok(seen.comments.includes(comment), `comments: ${JSON.stringify(seen.comments)}`);
      assert.ok(!seen.comments.includes(note), 'the work note is not a (customer-visible) comment');
    });

    test('an empty or whitespace-only work note or comment is refused (PermanentError) and changes nothing', async () => {
      const t = await open(`${prefixOf('empty-note')}item-1`);
      for (const bad of ['', '  ', '\n']) {
        await assert.rejects(port.addWorkNote(t.ref, bad), isPermanent, `addWorkNote(${JSON.stringify(bad)})`);
        await assert.rejects(port.addComment(t.ref, bad), isPermanent, `addComment(${JSON.stringify(bad)})`);
      }
      assert.equal((await fresh(t.ref)).version, t.version, 'the version did not move');
    });

    // ---- 4. close-out ------------------------------------------------------------------------

    test('resolveTicket → resolved with closeNotes; reopenTicket → open; closeTicket → closed', async () => {
      const t = await open(`${prefixOf('lifecycle')}item-1`);
      const r = await port.resolveTicket(t.ref, { notes: `resolved by contract ${run}` });
      assert.equal(r.status, 'resolved');
      assert.equal(r.closeNotes, `resolved by contract ${run}`);
      assert.ok(r.closedBy?.trim(), 'a resolved ticket says who resolved it');
      assert.notEqual(r.version, t.version);
      assert.equal((await fresh(t.ref)).status, 'resolved', 'read back');

      const o = await port.reopenTicket(t.ref, `reopened by contract ${run}`);
      assert.equal(o.status, 'open');
      assert.notEqual(o.version, r.version);
      assert.equal((await fresh(t.ref)).status, 'open', 'read back');

      const c = await port.closeTicket(t.ref, { notes: `closed by contract ${run}` });
      assert.equal(c.status, 'closed');
      assert.equal(c.closeNotes, `closed by contract ${run}`);
      assert.ok(c.closedBy?.trim(), 'a closed ticket says who closed it');
      assert.equal((await fresh(t.ref)).status, 'closed', 'read back');
    });

    test("updatedBy names the latest change's author: the port's own writes keep one name, a person's change shows theirs", async (t) => {
      const opened = await open(`${prefixOf('updated-by')}item-1`);
      if (opened.updatedBy === undefined) return t.skip('the adapter does not know who changed a ticket');
      assert.ok(opened.updatedBy.trim(), 'a name, not an empty string');
      await port.addWorkNote(opened.ref, `note by contract ${run}`);
      const noted = await fresh(opened.ref);
      assert.notEqual(noted.version, opened.version, 'the note changed the ticket');
      assert.equal(noted.updatedBy, opened.updatedBy, "the port's own writes carry the same name");
      await s.agent.resolve(opened.ref, `resolved by a person, contract ${run}`);
      const resolved = await fresh(opened.ref);
      assert.ok(resolved.updatedBy?.trim(), 'the agent is named');
      assert.notEqual(resolved.updatedBy, opened.updatedBy, "the agent's change carries the agent's name");
    });

    test('cancelTicket → canceled', async () => {
      const t = await open(`${prefixOf('cancel')}item-1`);
      const c = await port.cancelTicket(t.ref, { notes: `canceled by contract ${run}` });
      assert.equal(c.status, 'canceled');
      assert.equal(c.closeNotes, `canceled by contract ${run}`);
      assert.ok(c.closedBy?.trim(), 'a canceled ticket says who canceled it');
      assert.equal((await fresh(t.ref)).status, 'canceled', 'read back');
    });

    test('close-out (resolve, close, cancel) without notes is refused (PermanentError) and leaves the ticket open', async () => {
      const t = await open(`${prefixOf('no-notes')}item-1`);
      for (const notes of ['', '   ']) {
        await assert.rejects(
          port.resolveTicket(t.ref, { notes }),
          isPermanent,
          `resolve with notes ${JSON.stringify(notes)}`,
        );
        await assert.rejects(
          port.closeTicket(t.ref, { notes }),
          isPermanent,
          `close with notes ${JSON.stringify(notes)}`,
        );
        await assert.rejects(
          port.cancelTicket(t.ref, { notes }),
          isPermanent,
          `cancel with notes ${JSON.stringify(notes)}`,
        );
      }
      const now = await fresh(t.ref);
      assert.equal(now.status, 'open');
      assert.equal(now.version, t.version, 'nothing was written');
      await assert.rejects(port.reopenTicket(t.ref, ''), isPermanent, 'a reopen without a note is refused too');
    });

    // ---- 5. people ---------------------------------------------------------------------------

    test('findPerson finds a known person by e-mail, with an id and their manager', async () => {
      const p = await port.findPerson(s.person.email);
      assert.ok(p, `${s.person.email} is found`);
      assert.ok(p.id.trim(), 'non-empty id');
      assert.equal(p.email.toLowerCase(), s.person.email.toLowerCase());
      if (s.person.managerEmail) assert.equal(p.managerEmail?.toLowerCase(), s.person.managerEmail.toLowerCase());
      const again = await port.findPerson(s.person.email);
      assert.equal(again?.id, p.id, 'stable id');
    });

    test('setTicketPeople rewrites the assignee and caller of an open ticket and changes its version', async () => {
      const t = await open(`${prefixOf('people')}item-1`);
      const p = await port.findPerson(s.person.email);
      assert.ok(p, `${s.person.email} is found`);
      const u = await port.setTicketPeople(t.ref, { assignee: p.id, caller: p.id });
      assert.notEqual(u.version, t.version, 'the version changed');
      const seen = await s.agent.view(t.ref);
      assert.equal(seen.assignee, p.id);
      assert.equal(seen.caller, p.id);
    });

    test('findPerson gives undefined for an unknown e-mail', async () => {
      assert.equal(await port.findPerson(`nobody-${run}@contract.invalid`), undefined);
    });

    // ---- 6. polling --------------------------------------------------------------------------

    /** Poll until `want` says the reported changes are complete; returns those and the watermark. */
    async function pollUntil(
      prefix: string,
      watermark: string | undefined,
      what: string,
      want: (c: TicketChange[]) => boolean,
    ) {
      return eventually(what, async () => {
        const changes: TicketChange[] = [];
        const mark = await port.pollChanges(kind, prefix, watermark, async (c) => {
          changes.push(c);
        });
        assert.equal(typeof mark, 'string');
        assert.ok(mark, 'a non-empty watermark');
        return want(changes) && { changes, watermark: mark };
      });
    }
    const about = (changes: TicketChange[], t: Ticket) => changes.filter((c) => c.ref.id === t.ref.id);

    test('pollChanges without a watermark reports a ticket just changed, as a poll change carrying the ticket', async () => {
      const prefix = prefixOf('poll-new');
      const t = await open(`${prefix}item-1`);
      const { changes } = await pollUntil(
        prefix,
        undefined,
        'the new ticket to be polled',
        (cs) => about(cs, t).length > 0,
      );
      const mine = about(changes, t);
      assert.equal(mine.length, 1, 'one change per ticket version in one poll');
      const c = mine[0];
      assert.equal(c.source, 'poll');
      assert.notEqual(c.deleted, true);
      assert.deepEqual(c.ref, t.ref);
      assert.ok(c.ticket, 'the change carries the ticket');
      assert.deepEqual(c.ticket.ref, t.ref);
      assert.equal(c.ticket.version, t.version);
      assert.equal(c.ticket.correlation, t.correlation);
      assert.equal(c.ticket.status, 'open');
      for (const other of changes)
        assert.ok(
          other.ticket?.correlation.startsWith(prefix),
          `only tickets of the prefix: ${other.ticket?.correlation}`,
        );
    });

    test('pollChanges from the returned watermark reports the next version of a ticket', async () => {
      const prefix = prefixOf('poll-next');
      const t = await open(`${prefix}item-1`);
      const first = await pollUntil(prefix, undefined, 'the ticket to be polled', (cs) => about(cs, t).length > 0);
      const r = await port.resolveTicket(t.ref, { notes: `resolved for the poll ${run}` });
      assert.notEqual(r.version, t.version);
      const next = await pollUntil(prefix, first.watermark, 'the resolved version to be polled', (cs) =>
        about(cs, t).some((c) => c.ticket?.version === r.version),
      );
      const c = about(next.changes, t).find((x) => x.ticket?.version === r.version)!;
      assert.equal(c.source, 'poll');
      assert.equal(c.ticket?.status, 'resolved');
      assert.equal(c.ticket?.closeNotes, `resolved for the poll ${run}`);
      assert.ok(
        about(next.changes, t).every((x) => x.ticket?.version === r.version),
        'the ticket is reported at its current version only',
      );
      // And once more from the newest watermark: still found (look-back) or not, never an older version.
      const again = await pollUntil(prefix, next.watermark, 'a poll from the newest watermark', () => true);
      assert.ok(about(again.changes, t).every((x) => x.ticket?.version === r.version));
    });

    test('pollChanges does not report tickets whose correlation does not start with the prefix', async () => {
      const prefix = prefixOf('poll-filter');
      const outside = [
        await open(`tl:ct${run}-poll-other:item-1`), // another prefix
        await open(prefix.slice(0, -1)), // the prefix without its last character
        await open(`x${prefix}item-1`), // the prefix, not at the start
      ];
      const inside = await open(`${prefix}item-1`);
      const { changes } = await pollUntil(
        prefix,
        undefined,
        'the ticket inside the prefix to be polled',
        (cs) => about(cs, inside).length > 0,
      );
      for (const o of outside) assert.deepEqual(about(changes, o), [], `'${o.correlation}' is not reported`);
    });

    test('pollChanges matches the prefix case-sensitively', async () => {
      const prefix = prefixOf('poll-case');
      const upper = await open(`${prefix.toUpperCase()}item-1`);
      const inside = await open(`${prefix}item-2`);
      const { changes } = await pollUntil(
        prefix,
        undefined,
        'the ticket inside the prefix to be polled',
        (cs) => about(cs, inside).length > 0,
      );
      assert.deepEqual(
        about(changes, upper).map((c) => c.ticket?.correlation),
        [],
        `'${upper.correlation}' does not start with '${prefix}'`,
      );
    });

    // ---- 7. reconcile ------------------------------------------------------------------------

    describe('reconcile', () => {
      const prefix = prefixOf('reconcile');
      let unchanged: Ticket;
      let changedBefore: Ticket;
      let changedNow: Ticket;
      let deleted: Ticket;
      let untracked: Ticket;
      let outsideUpper: Ticket;
      let outsideOther: Ticket;
      let changes: TicketChange[];

      before(async () => {
        unchanged = await open(`${prefix}unchanged`);
        changedBefore = await open(`${prefix}changed`);
        deleted = await open(`${prefix}deleted`);
        untracked = await open(`${prefix}untracked`);
        outsideUpper = await open(`${prefix.toUpperCase()}untracked`);
        outsideOther = await open(`tl:ct${run}-reconcile-other:untracked`);
        await s.agent.resolve(changedBefore.ref, `resolved by an agent ${run}`);
        changedNow = await fresh(changedBefore.ref);
        assert.notEqual(changedNow.version, changedBefore.version, 'the agent changed the ticket');
        await s.agent.delete(deleted.ref);
        const known = [unchanged, changedBefore, deleted].map((t) => ({ id: t.ref.id, version: t.version }));
        changes = await eventually('reconcile to report the changed, deleted and untracked tickets', async () => {
          const cs: TicketChange[] = [];
          await port.reconcile(kind, prefix, known, async (c) => {
            cs.push(c);
          });
          const seen = (t: Ticket) => cs.some((c) => c.ref.id === t.ref.id);
          return seen(changedBefore) && seen(deleted) && seen(untracked) && cs;
        });
      });

      const of = (t: Ticket) => changes.filter((c) => c.ref.id === t.ref.id);

      test('reconcile does not report a known ticket whose version is unchanged', () => {
        assert.deepEqual(of(unchanged), []);
      });

      test('reconcile reports a known ticket that changed, with source reconcile and its current version', () => {
        const cs = of(changedBefore);
        assert.equal(cs.length, 1);
        assert.equal(cs[0].source, 'reconcile');
        assert.notEqual(cs[0].deleted, true);
        assert.deepEqual(cs[0].ref, changedBefore.ref);
        assert.equal(cs[0].ticket?.version, changedNow.version);
        assert.equal(cs[0].ticket?.status, 'resolved');
      });

      test('reconcile reports a known ticket that was deleted, with deleted: true', async () => {
        const cs = of(deleted);
        assert.equal(cs.length, 1);
        assert.equal(cs[0].source, 'reconcile');
        assert.equal(cs[0].deleted, true);
        assert.equal(cs[0].ref.system, port.system);
        assert.equal(cs[0].ref.kind, kind);
        assert.equal(cs[0].ref.id, deleted.ref.id);
        assert.equal(await port.getTicket(deleted.ref), undefined, 'getTicket of a deleted ticket is undefined');
      });

      test('reconcile reports a ticket carrying the prefix that is not known', () => {
        const cs = of(untracked);
        assert.equal(cs.length, 1);
        assert.equal(cs[0].source, 'reconcile');
        assert.notEqual(cs[0].deleted, true);
        assert.deepEqual(cs[0].ticket?.ref, untracked.ref);
        assert.equal(cs[0].ticket?.correlation, untracked.correlation);
      });

      test('reconcile does not report unknown tickets outside the prefix (another prefix, or the prefix in another case)', () => {
        assert.deepEqual(of(outsideOther), [], `'${outsideOther.correlation}'`);
        assert.deepEqual(
          of(outsideUpper).map((c) => c.ticket?.correlation),
          [],
          `'${outsideUpper.correlation}' does not start with '${prefix}'`,
        );
      });
    });

    // ---- 8. push -----------------------------------------------------------------------------

    /** A Fastify app with the port's push endpoint, listening; every answered request is recorded. */
    async function pushEndpoint(kinds: () => ReadonlySet<string>, onChange: (c: TicketChange) => Promise<void>) {
      const app: App = await createHttpServer({ logger: pino({ level: 'silent' }), bodyLimit: 1024 * 1024 });
      const answered: number[] = [];
      app.addHook('onResponse', async (_req, reply) => {
        answered.push(reply.statusCode);
      });
      await port.registerPush!(app, kinds, onChange);
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port: p } = app.server.address() as AddressInfo;
      await s.push!.target(`http://127.0.0.1:${p}`);
      return {
        answered,
        async close() {
          await s.push!.target(undefined);
          await app.close();
        },
      };
    }
    const pushSkip = () =>
      !port.registerPush ? 'the adapter has no push' : !s.push ? 'the subject cannot make the system push' : undefined;

    test('push: a change made in the ITSM arrives through registerPush as a TicketChange with source webhook', async (t) => {
      const skip = pushSkip();
      if (skip) return t.skip(skip);
      const changes: TicketChange[] = [];
      const ep = await pushEndpoint(
        () => new Set([kind]),
        async (c) => {
          changes.push(c);
        },
      );
      try {
        const tk = await open(`${prefixOf('push')}item-1`);
        await s.agent.resolve(tk.ref, `resolved by an agent for the push ${run}`);
        const resolved = await fresh(tk.ref);
        const c = await eventually('the resolve to be pushed', async () =>
          changes.find((x) => x.ref.id === tk.ref.id && x.ticket?.version === resolved.version),
        );
        assert.equal(c.source, 'webhook');
        assert.notEqual(c.deleted, true);
        assert.deepEqual(c.ref, tk.ref);
        assert.ok(c.ticket);
        assert.deepEqual(c.ticket.ref, tk.ref);
        assert.equal(c.ticket.status, 'resolved');
        assert.equal(c.ticket.correlation, tk.correlation);
        assert.match(c.ticket.updatedAt, ISO_UTC);
        for (const x of changes) assert.equal(x.source, 'webhook');
        assert.ok(
          ep.answered.every((st) => st >= 200 && st < 300),
          `the pushes were acknowledged: ${ep.answered}`,
        );
      } finally {
        await ep.close();
      }
    });

    test('push: a push for a kind not in kinds() is acknowledged and ignored', async (t) => {
      const skip = pushSkip();
      if (skip) return t.skip(skip);
      const changes: TicketChange[] = [];
      let watched: ReadonlySet<string> = new Set([`not-${kind}`]);
      const ep = await pushEndpoint(
        () => watched,
        async (c) => {
          changes.push(c);
        },
      );
      try {
        const tk = await open(`${prefixOf('push-ignored')}item-1`);
        const from = ep.answered.length;
        await port.updateTicket(tk.ref, s.titleFields(`contract ${run} pushed while not watched`));
        await eventually('the system to push the change', async () => ep.answered.length > from);
        assert.equal(changes.length, 0, `nothing reported for a kind not watched: ${JSON.stringify(changes)}`);
        assert.ok(
          ep.answered.every((st) => st >= 200 && st < 300),
          `ignored pushes are acknowledged (no retries): ${ep.answered}`,
        );

        // Control: the same endpoint reports the kind once kinds() includes it.
        watched = new Set([kind]);
        const r = await port.resolveTicket(tk.ref, { notes: `resolved while watched ${run}` });
        const c = await eventually('the change to be pushed once watched', async () =>
          changes.find((x) => x.ref.id === tk.ref.id && x.ticket?.version === r.version),
        );
        assert.equal(c.source, 'webhook');
      } finally {
        await ep.close();
      }
    });

    // ---- setup -------------------------------------------------------------------------------

    test('checkSetup reports the subject configuration as ok, one result per thing checked', async () => {
      const r = await port.checkSetup();
      assert.deepEqual(
        r.filter((x) => !x.ok),
        [],
      );
      assert.ok(r.length >= 2, `sign-in and at least the ticket kind are checked: ${JSON.stringify(r)}`);
      for (const x of r) {
        assert.ok(x.target.includes(port.system), `the target names the connection: ${x.target}`);
        assert.ok(x.check && x.detail, JSON.stringify(x));
        assert.equal(x.fix, undefined, 'passing results carry no fix');
      }
      assert.equal(new Set(r.map((x) => x.check)).size, r.length, 'no thing is reported twice');
    });
  });
}
