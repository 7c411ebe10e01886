import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { AuthorizationStore, type StoredAssignment } from '../../sandbox/azure/authz-store.ts';
import { AzureStore } from '../../sandbox/azure/store.ts';

const assignment = (name: string, principalId: string, end?: string): StoredAssignment =>
  ({
    name,
    scope: '/subscriptions/s1',
    roleGuid: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    principalId,
    principalType: 'User',
    createdOn: '2026-01-01T00:00:00Z',
    updatedOn: '2026-01-01T00:00:00Z',
    ...(end
      ? {
          pim: {
            scheduleId: `s-${name}`,
            requestName: `r-${name}`,
            startDateTime: '2026-01-01T00:00:00Z',
            endDateTime: end,
          },
        }
      : {}),
  }) as StoredAssignment;

test('role assignments from a database made before the indexed columns are found by principal and swept at their end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-az-store-'));
  try {
    const file = join(dir, 'azure.db');
    // The table as an earlier sandbox version wrote it.
    const old = new Database(file);
    old.exec(`CREATE TABLE az_role_assignments (seq INTEGER PRIMARY KEY AUTOINCREMENT, name_lc TEXT NOT NULL UNIQUE,
      triple_lc TEXT NOT NULL, body TEXT NOT NULL)`);
    const insert = old.prepare('INSERT INTO az_role_assignments (name_lc, triple_lc, body) VALUES (?, ?, ?)');
    for (const a of [assignment('a1', 'P-1'), assignment('a2', 'p-2', '2026-02-01T00:00:00Z')])
      insert.run(a.name, AuthorizationStore.triple(a.scope, a.principalId, a.roleGuid), JSON.stringify(a));
    old.close();

    const store = new AzureStore(file);
    const authz = new AuthorizationStore(store);
    assert.deepEqual(
      authz.assignmentsOfPrincipal('p-1').map((a) => a.name),
      ['a1'],
    );
    authz.insertAssignment(assignment('a3', 'p-1', '2026-03-01T00:00:00Z'));
    assert.deepEqual(
      authz.assignmentsOfPrincipal('P-1').map((a) => a.name),
      ['a1', 'a3'],
    );
    assert.deepEqual(authz.endedAssignments(Date.parse('2026-02-15T00:00:00Z')), ['a2']);
    assert.deepEqual(authz.endedAssignments(Date.parse('2026-03-01T00:00:00Z')).sort(), ['a2', 'a3']);
    store.docs.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
