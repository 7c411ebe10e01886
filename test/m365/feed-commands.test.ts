import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommands } from '../../src/flows/m365/feed/verdicts.ts';

// The work-note commands agents write on an incident (docs/m365.md, "As incidents arrive").

const note = (text: string, id = 'n1') => ({ id, author: 'david.miller', createdAt: '2026-12-04T10:00:00Z', text });

test('confirm, reject (with the rest of the line as the comment) and none; any case; issue ids upper-cased', () => {
  const got = parseCommands([
    note('#ticketloop confirm EX123456', 'a'),
    note('Called the user.\n#TicketLoop REJECT ex654321 their mailbox is full\nmore text', 'b'),
    note('#ticketloop none', 'c'),
  ]);
  assert.deepEqual(
    got.map((c) => [c.note.id, c.action, c.issue, c.comment]),
    [
      ['a', 'confirm', 'EX123456', ''],
      ['b', 'reject', 'EX654321', 'their mailbox is full'],
      ['c', 'none', undefined, ''],
    ],
  );
});

test('notes without a well-formed command are skipped: no issue, an unknown verb, Ticketloop’s own note', () => {
  assert.deepEqual(
    parseCommands([
      note('#ticketloop confirm'),
      note('#ticketloop accept EX123456'),
      note('Possibly related to Microsoft 365 health issue EX123456 — …. Confirm or reject in Ticketloop.'),
      note('#ticketloopconfirm EX123456'),
    ]),
    [],
  );
});
