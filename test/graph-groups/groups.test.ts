import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_GROUPS } from '../../sandbox/microsoft/constants.ts';
import {
  ADELE,
  ALEX,
  FINANCE,
  MEGAN,
  NESTOR,
  STORAGE,
  graphCaller,
  ref,
  tokenWithRoles,
  withGroups,
  workload,
} from './helpers.ts';

/**
 * Groups and members on the Graph twin. Sources (microsoftgraph/microsoft-graph-docs-contrib,
 * api-reference/v1.0/api/): group-list.md, group-get.md, group-post-groups.md, group-update.md,
 * group-list-members.md (the v1.0 service-principal known issue; limited information for inaccessible
 * members), group-post-members.md (204; 400 on a duplicate; 404 on an unknown object; ≤ 20 per PATCH,
 * all or nothing), group-delete-members.md, directoryobject-checkmembergroups.md, user-list-memberof.md;
 * concepts/errors.md for the envelope; the PoD wire-format fact sheet (from Microsoft Graph docs group-post-members, group-delete-members, privilegedaccessgroup-post-assignmentschedulerequests) §3.1–3.2.
 */

const q = encodeURIComponent;
const ADMINS = DEMO_GROUPS[0];
const ALREADY = "One or more added object references already exist for the following modified properties: 'members'.";

test('GET /groups: seeded groups with stable ids, $filter, $select, $top paging, $count only with ConsistencyLevel', () =>
  withGroups(async (h, g) => {
    const all = await g('GET', '/v1.0/groups');
    assert.equal(all.status, 200);
    assert.equal(all.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#groups`);
    const names = all.body.value.map((x: { displayName: string }) => x.displayName);
    for (const n of ['Ticketloop Admins', 'All Staff', 'Finance Readers', 'Prod Break-glass'])
      assert.ok(names.includes(n), n);
    const finance = all.body.value.find((x: { id: string }) => x.id === FINANCE.id);
    assert.equal(finance.securityEnabled, true);
    assert.equal(finance.mailEnabled, false);
    assert.deepEqual(finance.groupTypes, []);
    assert.ok(!('members' in finance), 'navigation only when expanded');

    const byName = await g(
      'GET',
      `/v1.0/groups?$filter=${q("displayName eq 'Finance Readers'")}&$select=id,displayName`,
    );
    assert.deepEqual(byName.body.value, [{ id: FINANCE.id, displayName: 'Finance Readers' }]);
    const starts = await g(
      'GET',
      `/v1.0/groups?$filter=${q("startswith(displayName,'Ticketloop')")}&$select=displayName`,
    );
    assert.equal(starts.body.value.length, 3);
    // description is only an advanced-query filter (filter-directory-objects.md).
    const adv = await g('GET', `/v1.0/groups?$filter=${q("description eq 'x'")}`);
    assert.equal(adv.status, 400);
    assert.equal(adv.body.error.code, 'Request_UnsupportedQuery');
    const advOk = await g('GET', `/v1.0/groups?$filter=${q("startswith(description,'Read')")}&$count=true`, undefined, {
      consistencylevel: 'eventual',
    });
    assert.equal(advOk.status, 200);
    assert.equal(advOk.body['@odata.count'], 1);

    const seen: string[] = [];
    let url: string | undefined = '/v1.0/groups?$top=2&$select=id';
    while (url) {
      const page: any = (await g('GET', url)).body;
      assert.ok(page.value.length <= 2);
      seen.push(...page.value.map((x: { id: string }) => x.id));
      url = page['@odata.nextLink'];
    }
    assert.equal(seen.length, all.body.value.length);

    const noCount = await g('GET', '/v1.0/groups/$count');
    assert.equal(noCount.status, 400);
    assert.equal(noCount.body.error.code, 'Request_BadRequest');
    const count = await g('GET', '/v1.0/groups/$count', undefined, { consistencylevel: 'eventual' });
    assert.equal(count.body, all.body.value.length);

    const one = await g('GET', `/v1.0/groups/${FINANCE.id}`);
    assert.equal(one.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#groups/$entity`);
    assert.equal(one.body.description, FINANCE.description);
    const missing = await g('GET', '/v1.0/groups/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'Request_ResourceNotFound');
    assert.ok(missing.body.error.innerError['request-id'] && missing.body.error.innerError.date);

    // Reading groups takes a group permission (Authorization_RequestDenied otherwise).
    const other = graphCaller(h, await tokenWithRoles(h, ['User.Read.All']));
    const refused = await other('GET', '/v1.0/groups');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'Authorization_RequestDenied');
  }));

test('POST /groups creates a group (201); required properties are checked; creating needs Group.Create', () =>
  withGroups(
    async (h, g) => {
      const created = await g('POST', '/v1.0/groups', {
        displayName: 'Payroll Approvers',
        mailEnabled: false,
        mailNickname: 'payroll-approvers',
        securityEnabled: true,
        description: 'People who approve payroll runs',
        'members@odata.bind': [`https://graph.microsoft.com/v1.0/users/${ALEX.id}`],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#groups/$entity`);
      assert.match(created.body.id, /^[0-9a-f-]{36}$/);
      const members = await g('GET', `/v1.0/groups/${created.body.id}/members?$select=id`);
      assert.deepEqual(members.body.value, [{ '@odata.type': '#microsoft.graph.user', id: ALEX.id }]);

      const noNick = await g('POST', '/v1.0/groups', { displayName: 'X', mailEnabled: false, securityEnabled: true });
      assert.equal(noNick.status, 400);
      assert.equal(noNick.body.error.code, 'Request_BadRequest');

      const reader = graphCaller(h, await tokenWithRoles(h, ['GroupMember.ReadWrite.All']));
      const refused = await reader('POST', '/v1.0/groups', {
        displayName: 'Y',
        mailEnabled: false,
        mailNickname: 'y',
        securityEnabled: true,
      });
      assert.equal(refused.status, 403);
    },
    ['Group.ReadWrite.All', 'User.Read.All'],
  ));

test('members/$ref: 204 add, 400 duplicate (exact message), 404 unknown object or group, 400 bad id; DELETE 204 then 404', () =>
  withGroups(async (h, g) => {
    const path = `/v1.0/groups/${STORAGE.id}/members/$ref`;
    const add = await g('POST', path, ref(ALEX.id));
    assert.equal(add.status, 204);
    assert.equal(add.body, undefined);

    const dup = await g('POST', path, ref(ALEX.id));
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error.code, 'Request_BadRequest');
    assert.equal(dup.body.error.message, ALREADY);
    assert.ok(dup.body.error.innerError['request-id'], 'Graph envelope');
    assert.equal(dup.headers['request-id'], dup.body.error.innerError['request-id']);

    const ghost = await g('POST', path, ref('0f0f0f0f-0000-4000-8000-000000000000'));
    assert.equal(ghost.status, 404);
    assert.equal(ghost.body.error.code, 'Request_ResourceNotFound');
    const noGroup = await g('POST', '/v1.0/groups/0f0f0f0f-0000-4000-8000-000000000001/members/$ref', ref(ALEX.id));
    assert.equal(noGroup.status, 404);
    const badId = await g('POST', path, {
      '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/not-a-guid',
    });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.message, "Invalid object identifier 'not-a-guid'.");

    const del = await g('DELETE', `/v1.0/groups/${STORAGE.id}/members/${ALEX.id}/$ref`);
    assert.equal(del.status, 204);
    const again = await g('DELETE', `/v1.0/groups/${STORAGE.id}/members/${ALEX.id}/$ref`);
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'Request_ResourceNotFound');

    // Writes take GroupMember.ReadWrite.All (or Group/Directory.ReadWrite.All).
    const reader = graphCaller(h, await tokenWithRoles(h, ['GroupMember.Read.All']));
    const refused = await reader('POST', path, ref(ALEX.id));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'Authorization_RequestDenied');
  }));

test('service principals: listed by beta and $expand=members, not by v1.0 /members; adding one needs Application.ReadWrite.All', () =>
  withGroups(async (h, g) => {
    const sp = await workload(h);
    const plain = graphCaller(h, await tokenWithRoles(h, ['GroupMember.ReadWrite.All']));
    const refused = await plain('POST', `/v1.0/groups/${STORAGE.id}/members/$ref`, ref(sp.id));
    assert.equal(refused.status, 403);

    assert.equal((await g('POST', `/v1.0/groups/${STORAGE.id}/members/$ref`, ref(sp.id))).status, 204);
    assert.equal((await g('POST', `/v1.0/groups/${STORAGE.id}/members/$ref`, ref(NESTOR.id))).status, 204);

    const v1 = await g('GET', `/v1.0/groups/${STORAGE.id}/members`);
    assert.equal(v1.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#directoryObjects`);
    assert.deepEqual(
      v1.body.value.map((m: { id: string }) => m.id),
      [NESTOR.id],
      'v1.0 leaves service principals out (known issue)',
    );
    assert.equal(v1.body.value[0]['@odata.type'], '#microsoft.graph.user');
    assert.equal(v1.body.value[0].displayName, 'Nestor Wilke');

    const beta = await g('GET', `/beta/groups/${STORAGE.id}/members?$select=id,displayName,appId`);
    const types = Object.fromEntries(beta.body.value.map((m: any) => [m.id, m['@odata.type']]));
    assert.deepEqual(types, { [sp.id]: '#microsoft.graph.servicePrincipal', [NESTOR.id]: '#microsoft.graph.user' });
    assert.equal(beta.body.value.find((m: any) => m.id === sp.id).appId, sp.appId);

    const expanded = await g('GET', `/v1.0/groups/${STORAGE.id}?$expand=members($select=id)&$select=id`);
    assert.deepEqual(
      expanded.body.members.map((m: any) => [m['@odata.type'], m.id]).sort(),
      [
        ['#microsoft.graph.servicePrincipal', sp.id],
        ['#microsoft.graph.user', NESTOR.id],
      ].sort(),
    );
    const cast = await g('GET', `/v1.0/groups/${STORAGE.id}/members/microsoft.graph.servicePrincipal?$select=id`);
    assert.deepEqual(cast.body.value, [{ '@odata.type': '#microsoft.graph.servicePrincipal', id: sp.id }]);

    // An app without User.Read.All sees members of that type with type and id only (limited information).
    const limited = await plain('GET', `/v1.0/groups/${STORAGE.id}/members`);
    assert.equal(limited.body.value[0].id, NESTOR.id);
    assert.equal(limited.body.value[0]['@odata.type'], '#microsoft.graph.user');
    assert.equal(limited.body.value[0].displayName, null);
  }));

test('members: $top pages with @odata.nextLink; $count needs ConsistencyLevel; $filter only as an advanced query', () =>
  withGroups(async (h, g) => {
    const made = await h.call('POST', '/_sandbox/entra/users', { json: { count: 7 } });
    const ids = made.body.value.map((u: { id: string }) => u.id);
    const seeded = await h.call('POST', `/_sandbox/graph/groups/${STORAGE.id}/members`, { json: { members: ids } });
    assert.equal(seeded.status, 200);
    const seen: string[] = [];
    let url: string | undefined = `/v1.0/groups/${STORAGE.id}/members?$top=3&$select=id`;
    let pages = 0;
    while (url) {
      const page: any = (await g('GET', url)).body;
      seen.push(...page.value.map((m: { id: string }) => m.id));
      url = page['@odata.nextLink'];
      pages++;
    }
    assert.deepEqual(seen, ids);
    assert.equal(pages, 3);
    const counted = await g('GET', `/v1.0/groups/${STORAGE.id}/members?$count=true&$top=1`, undefined, {
      consistencylevel: 'eventual',
    });
    assert.equal(counted.body['@odata.count'], 7);
    const filtered = await g('GET', `/v1.0/groups/${STORAGE.id}/members?$filter=${q(`id eq '${ids[0]}'`)}`);
    assert.equal(filtered.status, 400);
    assert.equal(filtered.body.error.code, 'Request_UnsupportedQuery');
  }));

test('PATCH members@odata.bind: 204, at most 20 link changes, all or nothing', () =>
  withGroups(async (h, g) => {
    const bind = (ids: string[]) => ({
      'members@odata.bind': ids.map((id) => `https://graph.microsoft.com/v1.0/directoryObjects/${id}`),
    });
    const ok = await g('PATCH', `/v1.0/groups/${STORAGE.id}`, bind([ADELE.id, ALEX.id]));
    assert.equal(ok.status, 204);
    const members = async () =>
      (await g('GET', `/v1.0/groups/${STORAGE.id}/members?$select=id`)).body.value.map((m: { id: string }) => m.id);
    assert.deepEqual(await members(), [ADELE.id, ALEX.id]);

    // One reference already there, or one unknown: nothing is added.
    const dup = await g('PATCH', `/v1.0/groups/${STORAGE.id}`, bind([MEGAN.id, ALEX.id]));
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error.message, ALREADY);
    const unknown = await g(
      'PATCH',
      `/v1.0/groups/${STORAGE.id}`,
      bind([MEGAN.id, '0f0f0f0f-0000-4000-8000-000000000000']),
    );
    assert.equal(unknown.status, 404);
    assert.deepEqual(await members(), [ADELE.id, ALEX.id]);

    const many = (await h.call('POST', '/_sandbox/entra/users', { json: { count: 21 } })).body.value.map(
      (u: { id: string }) => u.id,
    );
    const tooMany = await g('PATCH', `/v1.0/groups/${STORAGE.id}`, bind(many));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.code, 'Request_BadRequest');
    assert.equal(tooMany.body.error.message, 'A resource cannot contain more than 20 link changes.');
    assert.deepEqual(await members(), [ADELE.id, ALEX.id]);
  }));

test('checkMemberGroups is transitive and takes at most 20 ids; memberOf lists direct groups', () =>
  withGroups(async (h, g) => {
    // Finance Readers ∋ Storage Contributors ∋ Alex: Alex is in Finance Readers through the nested group.
    await h.call('POST', `/_sandbox/graph/groups/${STORAGE.id}/members`, { json: { members: [ALEX.id] } });
    await h.call('POST', `/_sandbox/graph/groups/${FINANCE.id}/members`, { json: { members: [STORAGE.id] } });
    const check = await g('POST', `/v1.0/directoryObjects/${ALEX.id}/checkMemberGroups`, {
      groupIds: [FINANCE.id, STORAGE.id, ADMINS.id],
    });
    assert.equal(check.status, 200);
    assert.equal(check.body['@odata.context'], `${h.sb.graphUrl}/v1.0/$metadata#Collection(Edm.String)`);
    assert.deepEqual(check.body.value, [FINANCE.id, STORAGE.id]);
    const viaUsers = await g('POST', `/v1.0/users/${ALEX.id}/checkMemberGroups`, { groupIds: [ADMINS.id] });
    assert.deepEqual(viaUsers.body.value, []);
    const tooMany = await g('POST', `/v1.0/users/${ALEX.id}/checkMemberGroups`, {
      groupIds: Array.from({ length: 21 }, () => FINANCE.id),
    });
    assert.equal(tooMany.status, 400);
    const ghost = await g('POST', '/v1.0/users/0f0f0f0f-0000-4000-8000-000000000000/checkMemberGroups', {
      groupIds: [FINANCE.id],
    });
    assert.equal(ghost.status, 404);

    const memberOf = await g('GET', `/v1.0/users/${ALEX.id}/memberOf?$select=id,displayName`);
    assert.equal(memberOf.status, 200);
    assert.deepEqual(memberOf.body.value.map((x: any) => x.displayName).sort(), [
      'All Staff',
      'Storage Contributors',
      'Ticketloop Operators',
    ]);
    assert.ok(memberOf.body.value.every((x: any) => x['@odata.type'] === '#microsoft.graph.group'));

    // transitiveMembers (group-list-transitivemembers.md): the nested group and its members, each once;
    // the `microsoft.graph.user` cast keeps the users only.
    const all = await g('GET', `/v1.0/groups/${FINANCE.id}/transitiveMembers?$select=id`);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.value.map((x: any) => x.id).sort(), [MEGAN.id, STORAGE.id, ALEX.id].sort());
    const direct = await g('GET', `/v1.0/groups/${FINANCE.id}/members?$select=id`);
    assert.deepEqual(direct.body.value.map((x: any) => x.id).sort(), [MEGAN.id, STORAGE.id].sort());
    const users = await g('GET', `/v1.0/groups/${FINANCE.id}/transitiveMembers/microsoft.graph.user?$select=id,mail`);
    assert.equal(users.status, 200);
    assert.match(users.body['@odata.context'], /#Collection\(microsoft\.graph\.user\)/);
    assert.deepEqual(users.body.value.map((x: any) => x.mail).sort(), [ALEX.mail, MEGAN.mail].sort());
  }));

test('state survives a restart; injected faults answer 429 with Retry-After in the Graph envelope', () =>
  withGroups(async (h, g) => {
    const admin = graphCaller(h, await tokenWithRoles(h, ['Group.ReadWrite.All']));
    const created = await admin('POST', '/v1.0/groups', {
      displayName: 'Release Managers',
      mailEnabled: false,
      mailNickname: 'release-managers',
      securityEnabled: true,
    });
    await g('POST', `/v1.0/groups/${created.body.id}/members/$ref`, ref(MEGAN.id));
    await g('POST', `/v1.0/groups/${FINANCE.id}/members/$ref`, ref(NESTOR.id));
    await h.restart();
    const token = await tokenWithRoles(h, ['GroupMember.ReadWrite.All', 'User.Read.All']);
    const g2 = graphCaller(h, token);
    const after = await g2('GET', `/v1.0/groups/${created.body.id}/members?$select=id`);
    assert.deepEqual(
      after.body.value.map((m: { id: string }) => m.id),
      [MEGAN.id],
    );
    const finance = await g2('GET', `/v1.0/groups/${FINANCE.id}/members?$select=id`);
    assert.deepEqual(
      finance.body.value.map((m: { id: string }) => m.id),
      [MEGAN.id, NESTOR.id],
    );
    const again = await g2('GET', `/v1.0/groups?$filter=${q("displayName eq 'Finance Readers'")}&$select=id`);
    assert.deepEqual(again.body.value, [{ id: FINANCE.id }], 'seeded ids are stable');

    await h.call('PATCH', '/_sandbox/faults', { json: { burst429: 1, retryAfterSeconds: 7, pathPattern: '/groups' } });
    const throttled = await g2('GET', `/v1.0/groups/${FINANCE.id}/members`);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], '7');
    assert.equal(throttled.body.error.code, 'TooManyRequests');
    await h.call('PATCH', '/_sandbox/faults', { json: { errorRate: 1, errorStatus: 503, pathPattern: '/members/' } });
    const down = await g2('POST', `/v1.0/groups/${FINANCE.id}/members/$ref`, ref(ALEX.id));
    assert.equal(down.status, 503);
    assert.equal(down.body.error.code, 'serviceNotAvailable');
    await h.call('DELETE', '/_sandbox/faults');
  }));
