import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TABLES } from '../../sandbox/servicenow/tables.ts';
import { startHarness, type Harness } from './helpers.ts';

/**
 * Issue #11 item 1: the system dictionary tables through the Table API (wire-format.md §1.1–1.6 for
 * the API, §1.4 for the shapes). sys_dictionary has one row per column (`name` = table, `element`,
 * `internal_type`, `max_length`, `mandatory`, `reference`), columns inherited from task defined on
 * `name=task`; sys_db_object has one row per table with `super_class` referencing the parent's row.
 */
describe('ServiceNow sandbox: sys_dictionary and sys_db_object', () => {
  let h: Harness;
  const q = (table: string, query: string) => h.call('GET', `/api/now/table/${table}?${query}`);
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('lists every served table in sys_db_object, the ticket tables extending task by reference', async () => {
    const all = await q('sys_db_object', 'sysparm_fields=name,label,super_class&sysparm_exclude_reference_link=true');
    assert.equal(all.status, 200, all.text);
    const names = all.json.result.map((r: { name: string }) => r.name);
    assert.deepEqual([...names].sort(), ['task', ...Object.keys(TABLES)].sort());
    assert.ok(names.includes('sys_dictionary') && names.includes('sys_db_object') && names.includes('kb_knowledge'));

    const task = (await q('sys_db_object', 'sysparm_query=name=task')).json.result[0];
    assert.equal(task.super_class, '');
    const incident = (await q('sys_db_object', 'sysparm_query=name=incident')).json.result[0];
    assert.equal(incident.label, 'Incident');
    assert.deepEqual(incident.super_class, {
      link: `${h.sn.baseUrl}/api/now/table/sys_db_object/${task.sys_id}`,
      value: task.sys_id,
    });
    // Dot-walked and display values, as clients read the hierarchy.
    const children = await q(
      'sys_db_object',
      'sysparm_query=super_class.name=task^ORDERBYname&sysparm_fields=name,super_class&sysparm_display_value=true',
    );
    assert.deepEqual(
      children.json.result.map((r: any) => [r.name, r.super_class.display_value]),
      ['change_request', 'incident', 'problem', 'sc_req_item', 'sc_request', 'sc_task'].map((n) => [n, 'Task']),
    );
    assert.equal((await q('sys_db_object', 'sysparm_query=super_class.name=incident')).json.result.length, 0);
  });

  it('has one sys_dictionary row per column: own columns on the table, inherited ones on task', async () => {
    const caller = await q('sys_dictionary', 'sysparm_query=name=incident^element=caller_id');
    assert.equal(caller.json.result.length, 1);
    const c = caller.json.result[0];
    assert.equal(c.name, 'incident');
    assert.equal(c.column_label, 'Caller');
    assert.equal(c.mandatory, 'false');
    assert.equal(c.max_length, '32');
    // internal_type and reference are references keyed by name.
    assert.deepEqual(c.internal_type, {
      link: `${h.sn.baseUrl}/api/now/table/sys_glide_object/reference`,
      value: 'reference',
    });
    assert.deepEqual(c.reference, { link: `${h.sn.baseUrl}/api/now/table/sys_db_object/sys_user`, value: 'sys_user' });
    const shown = await q(
      'sys_dictionary',
      `sysparm_query=name=incident^element=caller_id&sysparm_display_value=true&sysparm_fields=internal_type,reference`,
    );
    assert.equal(shown.json.result[0].internal_type.display_value, 'Reference');
    assert.equal(shown.json.result[0].reference.display_value, 'User');

    // short_description is inherited: it is task's row, not incident's.
    assert.equal(
      (await q('sys_dictionary', 'sysparm_query=name=incident^element=short_description')).json.result.length,
      0,
    );
    const sd = (await q('sys_dictionary', 'sysparm_query=name=task^element=short_description')).json.result;
    assert.deepEqual(
      sd.map((r: any) => [r.internal_type.value, r.max_length, r.mandatory]),
      [['string', '160', 'false']],
    );
    const state = (
      await q('sys_dictionary', 'sysparm_query=name=task^element=state&sysparm_fields=internal_type,choice')
    ).json.result[0];
    assert.deepEqual(state, {
      internal_type: { link: `${h.sn.baseUrl}/api/now/table/sys_glide_object/integer`, value: 'integer' },
      choice: '1',
    });

    // Validating field names before a query, as a client does: unknown ones come back missing.
    const wanted = ['caller_id', 'short_description', 'correlation_id', 'u_not_a_field'];
    const found = await q(
      'sys_dictionary',
      `sysparm_query=nameINincident,task^elementIN${wanted.join(',')}^ORDERBYelement&sysparm_fields=name,element`,
    );
    assert.deepEqual(found.json.result, [
      { name: 'incident', element: 'caller_id' },
      { name: 'task', element: 'correlation_id' },
      { name: 'task', element: 'short_description' },
    ]);
    // The table's own "collection" row has no element.
    const collection = await q(
      'sys_dictionary',
      'sysparm_query=name=incident^elementISEMPTY&sysparm_fields=internal_type',
    );
    assert.equal(collection.json.result[0].internal_type.value, 'collection');
  });

  it('pages with sysparm_limit/offset, X-Total-Count and Link like any table', async () => {
    const first = await q(
      'sys_dictionary',
      'sysparm_query=name=task^ORDERBYelement&sysparm_limit=5&sysparm_fields=element',
    );
    const total = Number(first.headers['x-total-count']);
    assert.ok(total > 20, String(total));
    assert.equal(first.json.result.length, 5);
    assert.match(String(first.headers.link), /rel="next"/);
    const second = await q(
      'sys_dictionary',
      'sysparm_query=name=task^ORDERBYelement&sysparm_limit=5&sysparm_offset=5&sysparm_fields=element',
    );
    const elements = [...first.json.result, ...second.json.result].map((r: { element: string }) => r.element);
    assert.deepEqual(elements, [...elements].sort());
    assert.equal(new Set(elements).size, 10);
  });

  it('describes every column a record of each table returns (the parent for inherited ones)', async () => {
    const admin = h.basic(h.sn.credentials.admin);
    const tables = (await q('sys_db_object', 'sysparm_fields=name,super_class.name')).json.result as Record<
      string,
      string
    >[];
    for (const t of tables.filter((r) => r.name !== 'task')) {
      const r = await h.call('GET', `/api/now/table/${t.name}?sysparm_limit=1`, { auth: admin });
      assert.equal(r.status, 200, `${t.name}: ${r.text}`);
      const parent = t['super_class.name'];
      const cols = await h.call(
        'GET',
        `/api/now/table/sys_dictionary?sysparm_query=nameIN${t.name},${parent}^elementISNOTEMPTY&sysparm_fields=element`,
      );
      const described = cols.json.result.map((c: { element: string }) => c.element).sort();
      assert.deepEqual(described, Object.keys(TABLES[t.name].fields).sort(), t.name);
      if (r.json.result.length > 0) assert.deepEqual(Object.keys(r.json.result[0]).sort(), described, t.name);
    }
  });

  it('keeps the same sys_ids across restarts and refuses writes as an ACL-denied write does (even for admin)', async () => {
    const ids = async () =>
      (await q('sys_dictionary', 'sysparm_query=name=incident^ORDERBYelement&sysparm_fields=sys_id,element')).json
        .result;
    const before = await ids();
    await h.restart();
    assert.deepEqual(await ids(), before);
    const other = await startHarness();
    try {
      const again = await other.call(
        'GET',
        '/api/now/table/sys_dictionary?sysparm_query=name=incident^ORDERBYelement&sysparm_fields=sys_id,element',
      );
      assert.deepEqual(again.json.result, before, 'another instance: the same sys_ids');
    } finally {
      await other.close();
    }
    const one = await h.call('GET', `/api/now/table/sys_dictionary/${before[1].sys_id}?sysparm_fields=element`);
    assert.deepEqual(one.json.result, { element: before[1].element });

    const admin = h.basic(h.sn.credentials.admin);
    const denied = (op: string) => ({
      error: { message: 'Operation Failed', detail: `ACL Exception ${op} Failed due to security constraints` },
      status: 'failure',
    });
    const insert = await h.call('POST', '/api/now/table/sys_dictionary', {
      auth: admin,
      body: { name: 'incident', element: 'u_extra', internal_type: 'string' },
    });
    assert.equal(insert.status, 403);
    assert.deepEqual(insert.json, denied('Insert'));
    const update = await h.call(
      'PATCH',
      `/api/now/table/sys_db_object/${(await q('sys_db_object', 'sysparm_query=name=incident')).json.result[0].sys_id}`,
      {
        auth: admin,
        body: { label: 'Incidents' },
      },
    );
    assert.equal(update.status, 403);
    assert.deepEqual(update.json, denied('Update'));
    const del = await h.call('DELETE', `/api/now/table/sys_dictionary/${before[1].sys_id}`, { auth: admin });
    assert.equal(del.status, 403);
    assert.deepEqual(del.json, denied('Delete'));
    assert.equal((await h.admin('DELETE', '/_sandbox/servicenow/table/sys_dictionary')).status, 400);
    assert.deepEqual(await ids(), before);
  });
});
