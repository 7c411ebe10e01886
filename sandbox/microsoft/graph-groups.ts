import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import type { Entra } from './entra.ts';
import { GROUP_PERMISSIONS as P } from './constants.ts';
import { checkDirectoryFilter, directoryNotFound, isAdvanced, sendCount } from './graph-directory.ts';
import { GraphFailure, authorizeGraph, type GraphCaller } from './graph-http.ts';
import { GROUP_FILTERS, groupKinds, readableTypes } from './groups-kinds.ts';
import { mailNicknameOf, type Directory, type DirectoryGroup, type DirectoryObject } from './groups-model.ts';
import { apiVersion, entityResponse, listResponse, parseOptions } from './odata.ts';

/**
 * Groups and their members (api-reference/v1.0/api/group-*.md): list/get/create/update groups,
 * `members` (direct; v1.0 leaves service principals out, a known issue), `members/$ref` add and
 * remove, `transitiveMembers` (nested groups and their members), `members@odata.bind` (≤ 20 link
 * changes, all or nothing), `checkMemberGroups` (transitive) and `memberOf`. Errors are the directory's (`Request_BadRequest`,
 * `Request_ResourceNotFound`, `Authorization_RequestDenied`).
 */

export interface GroupsDeps {
  entra: Entra;
  directory: Directory;
  clock: OffsetClock;
  /** Ends PIM for Groups assignments that are due, before anything reads memberships. */
  sweep(): void;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const badRequest = (message: string) => new GraphFailure(400, 'Request_BadRequest', message);
const denied = () =>
  new GraphFailure(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
/** The duplicate-add message (group-post-members.md; seen verbatim in n8n's Entra node and many scripts). */
export const ALREADY_MEMBER =
  "One or more added object references already exist for the following modified properties: 'members'.";
const MAX_LINK_CHANGES = 20;

/** `https://graph.microsoft.com/v1.0/directoryObjects/{id}` (or users/…, groups/…, `directoryObjects('{id}')`) → the id. */
export function referencedId(ref: unknown): string {
  const text = typeof ref === 'string' ? ref : String(ref);
  const m =
    /\/(?:directoryObjects|users|groups|servicePrincipals)\/([^/?#]+)\/?$/i.exec(text) ??
    /\/(?:directoryObjects|users|groups|servicePrincipals)\('?([^')]+)'?\)$/i.exec(text);
  const id = m ? decodeURIComponent(m[1]) : text;
  if (!GUID.test(id)) throw badRequest(`Invalid object identifier '${id}'.`);
  return id;
}

const has = (caller: GraphCaller, roles: string[]) => roles.some((r) => caller.roles.includes(r));

/** Writing a service principal's membership also takes the right to change it (group-post-members.md). */
function checkMemberWrite(caller: GraphCaller, o: DirectoryObject): void {
  if (o.type === 'servicePrincipal' && !has(caller, P.writeServicePrincipalMember)) throw denied();
}

/** Group properties a PATCH or POST may set (the rest are read-only or unmodelled). */
const WRITABLE = ['displayName', 'description', 'mailNickname', 'mailEnabled', 'securityEnabled', 'visibility'];
const CREATABLE = [...WRITABLE, 'groupTypes', 'isAssignableToRole'];

export function registerGraphGroups(app: FastifyInstance, d: GroupsDeps, baseUrl: () => string): void {
  const dir = d.directory;
  const group = (id: string): DirectoryGroup => {
    const g = dir.group(id);
    if (!g) throw directoryNotFound(id);
    return g;
  };
  const read = async (req: FastifyRequest, roles = P.read) => {
    const caller = await authorizeGraph(d.entra, req, roles);
    d.sweep();
    return { caller, kinds: groupKinds(dir, readableTypes(caller)) };
  };

  /** Resolve `@odata.bind` lists (members, owners) to objects; every reference must exist before anything changes. */
  const bindings = (body: Record<string, unknown>, caller: GraphCaller) => {
    const out: { as: 'member' | 'owner'; o: DirectoryObject }[] = [];
    for (const [key, as] of [
      ['members@odata.bind', 'member'],
      ['owners@odata.bind', 'owner'],
    ] as const) {
      const refs = body[key];
      if (refs === undefined) continue;
      if (!Array.isArray(refs)) throw badRequest(`Invalid value for property '${key}'.`);
      for (const ref of refs) {
        const id = referencedId(ref);
        const o = dir.object(id);
        if (!o) throw directoryNotFound(id);
        checkMemberWrite(caller, o);
        out.push({ as, o });
      }
    }
    if (out.length > MAX_LINK_CHANGES) throw badRequest('A resource cannot contain more than 20 link changes.');
    return out;
  };

  /**
   * Direct (or transitive: nested groups and their members) members as a page: v1.0 leaves service
   * principals out (known issue); `cast` keeps one type.
   */
  const memberPage = async (
    req: FastifyRequest<{ Params: { id: string } }>,
    cast?: DirectoryObject['type'],
    transitive = false,
  ) => {
    const { kinds } = await read(req);
    const g = group(req.params.id);
    const q = req.query as Record<string, string>;
    const advanced = isAdvanced(req);
    if (q.$filter && !advanced) {
      throw new GraphFailure(
        400,
        'Request_UnsupportedQuery',
        'Filter on members is only supported as an advanced query. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information',
      );
    }
    let members = transitive ? dir.transitiveMembers(g) : dir.members(g);
    if (cast) members = members.filter((o) => o.type === cast);
    else if (apiVersion(req) === 'v1.0') members = members.filter((o) => o.type !== 'servicePrincipal');
    const options = parseOptions(q, 'directoryObject');
    const context = cast ? `Collection(microsoft.graph.${cast})` : 'directoryObjects';
    return listResponse(req, baseUrl(), context, kinds.directoryObject, members, { options, count: advanced });
  };

  const CASTS: Record<string, DirectoryObject['type']> = {
    'microsoft.graph.user': 'user',
    'microsoft.graph.group': 'group',
    'microsoft.graph.serviceprincipal': 'servicePrincipal',
  };

  for (const v of ['v1.0', 'beta']) {
    app.get(`/${v}/groups`, async (req) => {
      const { kinds } = await read(req);
      const options = parseOptions(req.query as Record<string, string>, 'group');
      const advanced = isAdvanced(req);
      checkDirectoryFilter(options, GROUP_FILTERS, 'Group', advanced);
      return listResponse(req, baseUrl(), 'groups', kinds.group, dir.groups(), { options, count: advanced });
    });

    app.get<{ Params: { id: string } }>(`/${v}/groups/:id`, async (req, reply) => {
      const { kinds } = await read(req);
      if (req.params.id === '$count') return sendCount(req, reply, dir.groups().length);
      return entityResponse(req, baseUrl(), 'groups', kinds.group, group(req.params.id));
    });

    app.post(`/${v}/groups`, async (req, reply) => {
      const caller = await authorizeGraph(d.entra, req, P.create);
      const body = (req.body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(body)) {
        if (!CREATABLE.includes(k) && !k.endsWith('@odata.bind') && !k.startsWith('@odata.'))
          throw badRequest(`Property '${k}' is read-only or not supported when creating a group.`);
      }
      // Required by group-post-groups.md: displayName, mailEnabled, mailNickname, securityEnabled.
      if (typeof body.displayName !== 'string' || !body.displayName.trim())
        throw badRequest("Invalid value specified for property 'displayName' of resource 'Group'.");
      for (const k of ['mailEnabled', 'securityEnabled'])
        if (typeof body[k] !== 'boolean')
          throw badRequest(`Invalid value specified for property '${k}' of resource 'Group'.`);
      if (
        typeof body.mailNickname !== 'string' ||
        !/^[\x21-\x7e]{1,64}$/.test(body.mailNickname) ||
        /[@()\\[\]";:<>,\s]/.test(body.mailNickname)
      )
        throw badRequest("Invalid value specified for property 'mailNickname' of resource 'Group'.");
      const links = bindings(body, caller);
      const g: DirectoryGroup = {
        id: randomUUID(),
        displayName: body.displayName,
        description: typeof body.description === 'string' ? body.description : null,
        mailNickname: body.mailNickname || mailNicknameOf(body.displayName),
        mailEnabled: body.mailEnabled as boolean,
        securityEnabled: body.securityEnabled as boolean,
        groupTypes: Array.isArray(body.groupTypes) ? body.groupTypes.map(String) : [],
        isAssignableToRole: typeof body.isAssignableToRole === 'boolean' ? body.isAssignableToRole : null,
        visibility: typeof body.visibility === 'string' ? body.visibility : null,
        createdDateTime: new Date(d.clock.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
        members: links.filter((l) => l.as === 'member').map((l) => l.o.id),
        owners: links.filter((l) => l.as === 'owner').map((l) => l.o.id),
      };
      dir.putGroup(g);
      const kinds = groupKinds(dir, readableTypes(caller));
      return reply.code(201).send(entityResponse(req, baseUrl(), 'groups', kinds.group, g));
    });

    app.patch<{ Params: { id: string } }>(`/${v}/groups/:id`, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const props = Object.keys(body).filter((k) => !k.endsWith('@odata.bind') && !k.startsWith('@odata.'));
      const caller = await authorizeGraph(d.entra, req, props.length ? P.writeGroup : P.writeMembers);
      d.sweep();
      const g = group(req.params.id);
      for (const k of props)
        if (!WRITABLE.includes(k)) throw badRequest(`Property '${k}' is read-only or not supported.`);
      const links = bindings(body, caller);
      // All or nothing (group-post-members.md): one reference already there fails the whole request.
      if (links.some((l) => (l.as === 'member' ? dir.isMember(g, l.o.id) : (g.owners ?? []).includes(l.o.id))))
        throw badRequest(ALREADY_MEMBER);
      const next: DirectoryGroup = { ...g, ...Object.fromEntries(props.map((k) => [k, body[k]])) };
      for (const l of links) (l.as === 'member' ? next.members : (next.owners ??= [])).push(l.o.id);
      dir.putGroup(next);
      return reply.code(204).send();
    });

    for (const [segment, transitive] of [
      ['members', false],
      ['transitiveMembers', true],
    ] as const) {
      app.get<{ Params: { id: string } }>(`/${v}/groups/:id/${segment}`, (req) =>
        memberPage(req, undefined, transitive),
      );
      app.get<{ Params: { id: string; cast: string } }>(`/${v}/groups/:id/${segment}/:cast`, async (req, reply) => {
        const cast = CASTS[req.params.cast.toLowerCase()];
        if (req.params.cast === '$count') {
          await read(req);
          const g = group(req.params.id);
          const all = transitive ? dir.transitiveMembers(g) : dir.members(g);
          return sendCount(
            req,
            reply,
            all.filter((o) => apiVersion(req) === 'beta' || o.type !== 'servicePrincipal').length,
          );
        }
        if (!cast)
          throw new GraphFailure(400, 'BadRequest', `Resource not found for the segment '${req.params.cast}'.`);
        return memberPage(req, cast, transitive);
      });
    }

    app.post<{ Params: { id: string } }>(`/${v}/groups/:id/members/$ref`, async (req, reply) => {
      const caller = await authorizeGraph(d.entra, req, P.writeMembers);
      d.sweep();
      const g = group(req.params.id);
      const id = referencedId((req.body as Record<string, unknown> | undefined)?.['@odata.id']);
      const o = dir.object(id);
      if (!o) throw directoryNotFound(id);
      checkMemberWrite(caller, o);
      if (dir.isMember(g, o.id)) throw badRequest(ALREADY_MEMBER);
      dir.addMember(g.id, o.id);
      return reply.code(204).send();
    });

    app.delete<{ Params: { id: string; member: string } }>(
      `/${v}/groups/:id/members/:member/$ref`,
      async (req, reply) => {
        const caller = await authorizeGraph(d.entra, req, P.writeMembers);
        d.sweep();
        const g = group(req.params.id);
        const o = dir.object(req.params.member);
        if (!o || !dir.isMember(g, o.id)) throw directoryNotFound(req.params.member);
        checkMemberWrite(caller, o);
        dir.removeMember(g.id, o.id);
        return reply.code(204).send();
      },
    );

    registerMembershipQueries(app, d, baseUrl, v);
  }
}

/** `checkMemberGroups` (transitive, ≤ 20 ids) and `memberOf` (direct) of users, service principals, groups. */
function registerMembershipQueries(app: FastifyInstance, d: GroupsDeps, baseUrl: () => string, v: string): void {
  const dir = d.directory;
  const READERS = [...new Set([...P.read, 'User.Read.All', 'User.ReadWrite.All', 'Application.Read.All'])];
  const owner = (collection: string, id: string): DirectoryObject => {
    const o = dir.object(id);
    const fits = collection === 'directoryObjects' || (o && `${o.type}s`.toLowerCase() === collection.toLowerCase());
    if (!o || !fits) throw directoryNotFound(id);
    return o;
  };
  for (const collection of ['directoryObjects', 'users', 'servicePrincipals', 'groups']) {
    app.post<{ Params: { id: string } }>(
      `/${v}/${collection}/:id/checkMemberGroups`,
      async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
        await authorizeGraph(d.entra, req, READERS);
        d.sweep();
        const o = owner(collection, req.params.id);
        const ids = (req.body as { groupIds?: unknown } | undefined)?.groupIds;
        if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string'))
          throw badRequest("Invalid value for parameter 'groupIds'.");
        if (ids.length > 20) throw badRequest('The number of groupIds in a single request cannot exceed 20.');
        const mine = dir.transitiveGroupsOf(o.id);
        const lowered = new Set([...mine].map((x) => x.toLowerCase()));
        return reply.send({
          '@odata.context': `${baseUrl()}/${v}/$metadata#Collection(Edm.String)`,
          value: (ids as string[]).filter((g) => lowered.has(g.toLowerCase())),
        });
      },
    );
    if (collection === 'directoryObjects') continue;
    app.get<{ Params: { id: string } }>(`/${v}/${collection}/:id/memberOf`, async (req) => {
      const caller = await authorizeGraph(d.entra, req, READERS);
      d.sweep();
      const o = owner(collection, req.params.id);
      const kinds = groupKinds(dir, readableTypes(caller));
      const groups = dir.groupsOf(o.id).map((g): DirectoryObject => ({ type: 'group', id: g.id, doc: g }));
      const options = parseOptions(req.query as Record<string, string>, 'directoryObject');
      return listResponse(req, baseUrl(), 'directoryObjects', kinds.directoryObject, groups, {
        options,
        count: isAdvanced(req),
      });
    });
  }
}

/**
 * The sandbox's control API for pre-existing access: memberships made directly, without Graph's
 * permission checks or rules (`POST /_sandbox/graph/groups/{id}/members {members: [ids], as?}`).
 */
export function registerGroupsControl(app: FastifyInstance, dir: Directory): void {
  const PREFIX = '/_sandbox/graph/groups/:id/members';
  const view = (g: DirectoryGroup) => ({
    id: g.id,
    displayName: g.displayName,
    members: g.members,
    owners: g.owners ?? [],
  });
  app.get<{ Params: { id: string } }>(PREFIX, async (req, reply) => {
    const g = dir.group(req.params.id);
    return g ? view(g) : reply.code(404).send({ error: `no group ${req.params.id}` });
  });
  app.post<{ Params: { id: string }; Body: { members?: unknown; as?: unknown } }>(PREFIX, async (req, reply) => {
    const g = dir.group(req.params.id);
    if (!g) return reply.code(404).send({ error: `no group ${req.params.id}` });
    const ids = Array.isArray(req.body?.members) ? req.body.members.map(String) : [];
    const as = req.body?.as === 'owner' ? 'owner' : 'member';
    const unknown = ids.filter((id) => !dir.object(id));
    if (unknown.length) return reply.code(400).send({ error: `unknown directory objects: ${unknown.join(', ')}` });
    for (const id of ids) dir.addMember(g.id, dir.object(id)!.id, as);
    return view(dir.group(g.id)!);
  });
  app.delete<{ Params: { id: string; member: string }; Querystring: { as?: string } }>(
    `${PREFIX}/:member`,
    async (req, reply) => {
      const removed = dir.removeMember(req.params.id, req.params.member, req.query.as === 'owner' ? 'owner' : 'member');
      return reply.code(removed ? 204 : 404).send();
    },
  );
}
