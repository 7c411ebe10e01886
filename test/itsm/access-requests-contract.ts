import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AccessRequestPort, FormAnswers, IncomingAccessRequest, TicketRef } from '../../src/itsm/port.ts';

/**
 * The contract of the optional access-request sub-port (src/itsm/port.ts `AccessRequestPort`), with
 * nothing of any vendor in it: a person fills in the offering's form in the ITSM, approvers decide
 * there, and the port reads and writes what permissions on demand needs. An adapter's test builds an
 * `AccessContractSubject`; test/itsm/servicenow-access-requests.test.ts is the ServiceNow one.
 */

/** A person working in the ITSM itself, not through the port. */
export interface AccessAgent {
  /** Fill in the offering's form for `forEmail`; the new request's key (e.g. RITM0010001). */
  ask(answers: FormAnswers, forEmail: string): Promise<string>;
  /** Decide `approverEmail`'s approval of the request in the ITSM, as that approver. */
  decide(ref: TicketRef, approverEmail: string, decision: 'approved' | 'rejected', comment: string): Promise<void>;
  /** What a person sees on the request. */
  view(ref: TicketRef): Promise<{
    closed: boolean;
    /** Closed as complete (true) or incomplete (false). */
    complete: boolean;
    approval: string;
    notes: string[];
    approvals: { email: string; state: string }[];
  }>;
}

export interface AccessContractSubject {
  port: AccessRequestPort;
  /** An offering (catalog item) whose form has the fields `system`, `permission`, `justification`. */
  offering: string;
  directoryIdAttribute?: string;
  /** Someone who may ask, with the directory id the ITSM holds for them. */
  person: { email: string; directoryId: string };
  /** Two people who can approve in the ITSM. */
  approvers: [string, string];
  agent: AccessAgent;
  close(): Promise<void>;
}

const PREFIX = 'tl:contract:r:';

export function accessRequestContract(name: string, make: () => Promise<AccessContractSubject>): void {
  describe(`access-request port contract: ${name}`, () => {
    let s: AccessContractSubject;
    let mark: string | undefined;
    const run = randomBytes(4).toString('hex');
    before(async () => {
      s = await make();
    });
    after(async () => s?.close());

    /** Everything new until the port says there is no more, from the running watermark. */
    async function drainNew(): Promise<IncomingAccessRequest[]> {
      const out: IncomingAccessRequest[] = [];
      for (;;) {
        const page = await s.port.pollNew(s.offering, mark, { directoryIdAttribute: s.directoryIdAttribute });
        out.push(...page.requests);
        mark = page.watermark;
        if (!page.more) return out;
      }
    }

    async function ask(justification: string): Promise<IncomingAccessRequest> {
      const key = await s.agent.ask({ system: 'azure-prod', permission: 'reader', justification }, s.person.email);
      const seen = (await drainNew()).find((r) => r.ref.key === key);
      assert.ok(seen, `${key} is reported as new`);
      return seen;
    }

    test('a request filled in is reported once, with its answers and whom it is for', async () => {
      const r = await ask(`contract ${run}: answers`);
      assert.equal(r.answers.system, 'azure-prod');
      assert.equal(r.answers.permission, 'reader');
      assert.equal(r.answers.justification, `contract ${run}: answers`);
      assert.equal(r.requestedFor.email, s.person.email.toLowerCase());
      assert.equal(r.requestedFor.directoryId, s.person.directoryId);
      assert.ok(r.ref.id && r.ref.key && r.ref.link);
      // Taken in (correlation written): no longer new, even read from the start.
      await s.port.updateRequest(r.ref, { correlation: `${PREFIX}${run}-a` });
      let fromStart: string | undefined;
      const all: IncomingAccessRequest[] = [];
      for (;;) {
        const page = await s.port.pollNew(s.offering, fromStart, { directoryIdAttribute: s.directoryIdAttribute });
        all.push(...page.requests);
        fromStart = page.watermark;
        if (!page.more) break;
      }
      assert.ok(!all.some((x) => x.ref.id === r.ref.id), 'a request taken in is not new again');
    });

    test('approvals: one per approver, asked once; an unknown approver is named', async () => {
      const r = await ask(`contract ${run}: approvals`);
      const first = await s.port.requestApprovals(r.ref, [...s.approvers, 'nobody-here@invalid.example']);
      assert.deepEqual(first.requested.sort(), s.approvers.map((e) => e.toLowerCase()).sort());
      assert.deepEqual(first.unknown, ['nobody-here@invalid.example']);
      await s.port.requestApprovals(r.ref, s.approvers);
      const rows = await s.port.listApprovals(r.ref);
      assert.equal(rows.length, 2, 'asking again makes no second row');
      assert.ok(rows.every((a) => a.state === 'requested'));
    });

    test('a decision made in the ITSM is reported with its comment; one made here is written there', async () => {
      const r = await ask(`contract ${run}: decisions`);
      await s.port.updateRequest(r.ref, { correlation: `${PREFIX}${run}-d`, phase: 'awaiting_approval' });
      await s.port.requestApprovals(r.ref, s.approvers);
      let dmark: string | undefined;
      for (;;) {
        const page = await s.port.pollDecisions(PREFIX, dmark);
        dmark = page.watermark;
        if (!page.more) break;
      }
      await s.agent.decide(r.ref, s.approvers[0], 'approved', 'fine by me');
      let decided;
      for (;;) {
        const page = await s.port.pollDecisions(PREFIX, dmark);
        dmark = page.watermark;
        decided ??= page.decisions.find((x) => x.request.id === r.ref.id);
        if (!page.more) break;
      }
      assert.ok(decided, 'the decision is reported');
      assert.equal(decided.state, 'approved');
      assert.equal(decided.approverEmail, s.approvers[0].toLowerCase());
      assert.equal(decided.comment, 'fine by me');
      assert.equal(decided.correlation, `${PREFIX}${run}-d`);

      assert.equal(await s.port.decideApproval(r.ref, s.approvers[0], 'approved', 'again'), 'unchanged');
      assert.equal(await s.port.decideApproval(r.ref, s.approvers[1], 'approved', 'from Ticketloop'), 'written');
      assert.equal(await s.port.decideApproval(r.ref, 'nobody-here@invalid.example', 'approved', ''), 'no_approver');
      const view = await s.agent.view(r.ref);
      assert.deepEqual(
        view.approvals.map((a) => a.state),
        ['approved', 'approved'],
      );
      assert.equal(view.approval, 'approved');
    });

    test('leftover approvals become no longer required; the request closes with a note', async () => {
      const r = await ask(`contract ${run}: leftovers`);
      await s.port.requestApprovals(r.ref, s.approvers);
      await s.port.decideApproval(r.ref, s.approvers[0], 'rejected', 'no');
      assert.equal(await s.port.closeLeftoverApprovals(r.ref), 1);
      assert.equal(await s.port.closeLeftoverApprovals(r.ref), 0);
      const states = (await s.port.listApprovals(r.ref)).map((a) => a.state).sort();
      assert.deepEqual(states, ['not_required', 'rejected']);
      await s.port.updateRequest(r.ref, { phase: 'incomplete', approval: 'rejected', note: 'Rejected: no' });
      const view = await s.agent.view(r.ref);
      assert.equal(view.closed, true);
      assert.equal(view.complete, false);
      assert.equal(view.approval, 'rejected');
      assert.ok(view.notes.includes('Rejected: no'));
    });

    test('the phases: awaiting approval → approved → fulfilled → completed', async () => {
      const r = await ask(`contract ${run}: phases`);
      for (const phase of ['awaiting_approval', 'approved', 'fulfilled'] as const) {
        await s.port.updateRequest(r.ref, { phase, note: `now ${phase}` });
        assert.equal((await s.agent.view(r.ref)).closed, false, phase);
      }
      await s.port.updateRequest(r.ref, { phase: 'completed', note: 'ended' });
      const view = await s.agent.view(r.ref);
      assert.equal(view.closed, true);
      assert.equal(view.complete, true);
      assert.deepEqual(view.notes.sort(), ['ended', 'now approved', 'now awaiting_approval', 'now fulfilled']);
    });
  });
}
