import { z } from 'zod';
import { HttpProblem } from '../http/server.ts';
import type { IdentityRouteDeps } from './auth-routes.ts';
import { actorOf, answer, principalOf, tokenView, userView } from './http.ts';
import { ROLES, satisfies } from './roles.ts';
import { viewOf } from './users.ts';

/**
 * Users (admin only: list, create, show, change, delete) and API tokens (everyone manages their
 * own personal tokens; admins see and revoke every token and create service tokens). The plain
 * token is in the creation answer only.
 */

const id = z.object({ id: z.string().uuid() });
const roles = z.array(z.enum(ROLES)).max(ROLES.length);

export function registerAdminIdentityRoutes(d: IdentityRouteDeps): void {
  const { http, identity } = d;
  const admin = { role: 'admin', selfAudited: true } as const;
  const own = { role: 'authenticated', selfAudited: true } as const;

  http.get(
    '/api/users',
    {
      config: admin,
      schema: { tags: ['users'], summary: 'Every user', response: { 200: z.object({ users: z.array(userView) }) } },
    },
    async () => ({ users: await identity.users.list() }),
  );

  http.post(
    '/api/users',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'Create a local account (without a password it cannot sign in until one is set)',
        body: z
          .object({
            name: z.string().min(1).max(128),
            displayName: z.string().min(1).max(200).optional(),
            password: z.string().min(1).max(1024).optional(),
            roles,
          })
          .strict(),
        response: { 201: z.object({ user: userView }) },
      },
    },
    async (req, reply) => {
      const user = await answer(() => identity.users.create(req.body, actorOf(req)));
      return reply.code(201).send({ user });
    },
  );

  http.get(
    '/api/users/:id',
    { config: admin, schema: { tags: ['users'], summary: 'One user', params: id, response: { 200: userView } } },
    async (req) => {
      const u = await identity.users.get(req.params.id);
      if (!u) throw new HttpProblem(404, 'not_found', `no user with id ${req.params.id}`);
      return viewOf(u, d.now());
    },
  );

  http.patch(
    '/api/users/:id',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary:
          'Change roles, display name, password; disable, enable or unlock (a new password or disabling ends sessions)',
        params: id,
        body: z
          .object({
            displayName: z.string().min(1).max(200).optional(),
            roles: roles.optional(),
            disabled: z.boolean().optional(),
            password: z.string().min(1).max(1024).optional(),
            unlock: z.boolean().optional(),
          })
          .strict(),
        response: { 200: userView },
      },
    },
    async (req) => answer(() => identity.users.update(req.params.id, req.body, actorOf(req))),
  );

  http.delete(
    '/api/users/:id',
    {
      config: admin,
      schema: {
        tags: ['users'],
        summary: 'Delete a user with their sessions and personal tokens',
        params: id,
        response: { 200: z.object({ deleted: z.string() }) },
      },
    },
    async (req) => {
      await answer(() => identity.users.remove(req.params.id, actorOf(req)));
      return { deleted: req.params.id };
    },
  );

  http.get(
    '/api/tokens',
    {
      config: own,
      schema: {
        tags: ['tokens'],
        summary: "Your personal tokens (admins: every token); never the token's value",
        response: { 200: z.object({ tokens: z.array(tokenView) }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (satisfies(p.roles, 'admin')) return { tokens: await identity.tokens.list() };
      return { tokens: p.userId ? await identity.tokens.list(p.userId) : [] };
    },
  );

  http.post(
    '/api/tokens',
    {
      config: own,
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the answer is the only place its value appears',
        description:
          'A personal token holds some or all of your roles (default all), never more. A service token (admins only) ' +
          'belongs to no user. A token created with a token expires no later than that token.',
        body: z
          .object({
            name: z.string().min(1).max(64),
            kind: z.enum(['personal', 'service']).default('personal'),
            roles: roles.optional(),
            days: z.number().int().min(1).max(3650).optional(),
          })
          .strict(),
        response: { 201: tokenView.extend({ token: z.string() }) },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { kind, ...rest } = req.body;
      if (kind === 'service' && !satisfies(p.roles, 'admin'))
        throw new HttpProblem(403, 'forbidden', 'only admins create service tokens');
      const owner = kind === 'personal' && p.userId ? await identity.users.get(p.userId) : undefined;
      if (kind === 'personal' && !owner)
        throw new HttpProblem(400, 'invalid', 'a personal token belongs to a user: sign in, or create a service token');
      const created = await answer(() =>
        identity.tokens.create({ ...rest, kind, owner, notAfter: p.expiresAt }, p.actor),
      );
      return reply.code(201).send({ ...created.view, token: created.token });
    },
  );

  http.delete(
    '/api/tokens/:id',
    {
      config: own,
      schema: {
        tags: ['tokens'],
        summary: 'Revoke a token (yours; admins: any)',
        params: id,
        response: { 200: tokenView },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const t = await identity.tokens.get(req.params.id);
      // Someone else's token is "not found": its existence is none of the caller's business.
      if (!t || (!satisfies(p.roles, 'admin') && (!p.userId || t.user_id !== p.userId)))
        throw new HttpProblem(404, 'not_found', `no token with id ${req.params.id}`);
      return answer(() => identity.tokens.revoke(t.id, p.actor));
    },
  );
}
