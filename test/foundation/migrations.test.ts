import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import { defenderMigrations } from '../../src/flows/defender/tables.ts';
import { decisionLinkMigrations } from '../../src/flows/pod/decision-links.ts';
import { podMigrations } from '../../src/flows/pod/drift.ts';
import { itsmNoteMigrations } from '../../src/flows/pod/itsm-notes.ts';
import { openStore } from '../../src/store/db.ts';
import { migrateTo, migrateToLatest } from '../../src/store/migrations.ts';
import { createTestDatabase, DIALECTS, postgresSkip } from '../helpers/dialects.ts';

// A database as the code before migrations 0005_* left it: ITSM watch state and Defender
// integrations in the string-keyed `kv` table. The upgrade moves every row to its own table.
for (const dialect of DIALECTS) {
  test(
    `the upgrade moves kv rows to explicit tables (${dialect})`,
    { skip: dialect === 'postgres' ? await postgresSkip() : false },
    async () => {
      const tdb = await createTestDatabase(dialect);
      const store = await openStore({ databaseUrl: tdb.url, dataDir: tdb.dataDir });
      try {
        await migrateTo(store, [defenderMigrations], '0004_job_priority');
        const db = store.db as unknown as Kysely<any>;
        const integration = { name: 'api-1', type: 'defender', servicenow: 'prod', scope: '/subscriptions/s1' };
        const rows = [
          ['watermark:servicenow:prod/incident', '{"ts":"2026-11-30 10:00:00"}'],
          ['ticket:prod:incident:0123456789abcdef0123456789abcdef', '{"correlationId":"tl:defender:x","modCount":"4"}'],
          ['defender:integration:api-1', JSON.stringify(integration)],
          ['defender:deleted:gone-1', JSON.stringify({ ...integration, name: 'gone-1' })],
          ['defender:pass:api-1', '1700000000000'],
          ['defender:cap:api-1', '{"day":"2026-11-30","opened":7}'],
          ['defender:last:api-1', '{"pages":3}'],
        ];
        await db
          .insertInto('kv')
          .values(rows.map(([key, value]) => ({ key, value, updated_at: 42 })))
          .execute();
        await db
          .insertInto('defender_assessment')
          .values({
            integration: 'api-1',
            id: 'a1',
            item: 'i1',
            name: 'n',
            resource_id: 'r',
            severity: 'High',
            gov: 'INC0010001',
            seen: 1,
          })
          .execute();

        const applied = await migrateToLatest(store, [defenderMigrations]);
        assert.deepEqual(applied.sort(), [
          '0005_defender_state',
          '0005_itsm_state',
          '0006_audit_mac',
          '0007_identity',
          '0011_defender_manual',
          '0012_defender_people_removal',
        ]);

        assert.deepEqual(await db.selectFrom('itsm_watermark').select(['system', 'kind', 'watermark']).execute(), [
          { system: 'prod', kind: 'incident', watermark: '{"ts":"2026-11-30 10:00:00"}' },
        ]);
        assert.deepEqual(
          await db.selectFrom('itsm_ticket').select(['system', 'kind', 'id', 'correlation', 'version']).execute(),
          [
            {
              system: 'prod',
              kind: 'incident',
              id: '0123456789abcdef0123456789abcdef',
              correlation: 'tl:defender:x',
              version: '4',
            },
          ],
        );
        const integrations = await db
          .selectFrom('defender_integration')
          .select(['name', 'config', 'deleted_at'])
          .orderBy('name')
          .execute();
        assert.deepEqual(
          integrations.map((r) => [
            r.name,
            JSON.parse(r.config).name,
            r.deleted_at === null ? null : Number(r.deleted_at),
          ]),
          [
            ['api-1', 'api-1', null],
            ['gone-1', 'gone-1', 42],
          ],
        );
        const pass = await db.selectFrom('defender_pass').selectAll().execute();
        assert.deepEqual(
          pass.map((r) => [r.integration, Number(r.pass), r.cap_day, Number(r.cap_opened), r.last_stats]),
          [['api-1', 1700000000000, '2026-11-30', 7, '{"pages":3}']],
        );
        const [assessment] = await db.selectFrom('defender_assessment').selectAll().execute();
        assert.equal(assessment.governed_ticket, 'INC0010001', 'the gov column is renamed, its values kept');
        assert.equal((await db.selectFrom('kv').selectAll().execute()).length, 0, 'nothing left behind in kv');
      } finally {
        await store.close();
        await tdb.drop();
      }
    },
  );
}

// Permissions on demand's tables: the ITSM notes written once (0018_pod_itsm_notes) after the
// flow's earlier migrations, on every dialect.
for (const dialect of DIALECTS) {
  test(
    `permissions on demand's migrations apply in order, 0018_pod_itsm_notes last (${dialect})`,
    { skip: dialect === 'postgres' ? await postgresSkip() : false },
    async () => {
      const tdb = await createTestDatabase(dialect);
      const store = await openStore({ databaseUrl: tdb.url, dataDir: tdb.dataDir });
      try {
        const pod = (d: typeof dialect) => ({
          ...podMigrations(d),
          ...decisionLinkMigrations(d),
          ...itsmNoteMigrations(d),
        });
        const applied = await migrateToLatest(store, [pod]);
        const mine = applied.filter((n) => /_pod_/.test(n));
        assert.deepEqual(mine, ['0008_pod_drift', '0010_pod_action_links', '0018_pod_itsm_notes']);
        const db = store.db as unknown as Kysely<any>;
        const row = {
          subject: 'sn:sc_req_item:1',
          name: 'sync:x',
          state: 'pending',
          attempted_at: 1,
          written_at: null,
        };
        await db.insertInto('pod_itsm_note').values(row).execute();
        await assert.rejects(db.insertInto('pod_itsm_note').values(row).execute(), 'one row per record and name');
      } finally {
        await store.close();
        await tdb.drop();
      }
    },
  );
}
