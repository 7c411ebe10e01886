import type { FastifyInstance } from 'fastify';
import { ArmError, sendArmError } from './arm.ts';
import { assignmentResource, createAssignment, newName, sweepExpired, type AssignmentCtx } from './assignments.ts';
import { canonicalScope, roleGuidOf } from './authz.ts';
import { parseDuration } from './pim-schedule.ts';
import { BUILT_IN_ROLES } from './roles.ts';

/**
 * Control endpoints for Microsoft.Authorization (no token, like every `/_sandbox/azure` route):
 * list and seed role assignments directly (access that existed before the broker), drop them,
 * and set the PIM policy maximum, the list page size and principals the directory lacks.
 */

type Body = Record<string, any>;

const need = (cond: unknown, message: string) => {
  if (!cond) throw new ArmError(400, 'InvalidInput', message);
};

/** A role by GUID, full role definition id or built-in role name. */
function roleGuid(v: unknown): string | undefined {
  return (
    roleGuidOf(v) ??
    BUILT_IN_ROLES.find((r) => typeof v === 'string' && r.properties.roleName.toLowerCase() === v.toLowerCase())?.guid
  );
}

export function registerAuthorizationAdmin(app: FastifyInstance, ctx: AssignmentCtx): void {
  const route = (path: string, fn: (b: Body) => unknown) =>
    app.post(`/_sandbox/azure${path}`, async (req, reply) => {
      try {
        return await fn((req.body ?? {}) as Body);
      } catch (e) {
        if (e instanceof ArmError) return sendArmError(reply, e);
        throw e;
      }
    });

  app.get('/_sandbox/azure/roleAssignments', async () => {
    sweepExpired(ctx);
    return {
      value: ctx.authz.assignments().map((a) => ({ ...assignmentResource(a), ...(a.pim ? { pim: a.pim } : {}) })),
      settings: ctx.authz.settings(),
    };
  });

  // One assignment or {assignments: [...]}: {scope, principalId, roleDefinitionId (GUID, id or role name), principalType?, name?, description?, createdBy?}
  route('/roleAssignments', (b) => {
    const items: Body[] = Array.isArray(b.assignments) ? b.assignments : [b];
    const out = ctx.authz.transaction(() =>
      items.map((x) => {
        need(
          typeof x.scope === 'string' && x.scope.startsWith('/'),
          "'scope' must be an ARM scope such as /subscriptions/{id}",
        );
        const guid = roleGuid(x.roleDefinitionId ?? x.role);
        need(guid, "'roleDefinitionId' must be a role GUID, a role definition id or a built-in role name");
        return createAssignment(ctx, {
          scope: canonicalScope(x.scope),
          name: typeof x.name === 'string' ? x.name : newName(),
          roleDefinitionId: guid,
          principalId: x.principalId,
          principalType: x.principalType ?? 'User',
          description: x.description,
          createdBy: typeof x.createdBy === 'string' ? x.createdBy : null,
        }).assignment;
      }),
    );
    return { value: out.map(assignmentResource) };
  });

  // {name} or {scope?, principalId?}: removes matching assignments (all when the body is empty).
  route('/roleAssignments/delete', (b) => {
    const gone = ctx.authz
      .assignments()
      .filter(
        (a) =>
          (b.name === undefined || a.name === String(b.name).toLowerCase()) &&
          (b.scope === undefined || a.scope.toLowerCase() === canonicalScope(b.scope).toLowerCase()) &&
          (b.principalId === undefined || a.principalId === String(b.principalId).toLowerCase()),
      );
    for (const a of gone) ctx.authz.deleteAssignment(a.name);
    return { removed: gone.length };
  });

  // {pageSize?, pimMaxDuration?: "PT8H" (every role), pimMaxDurationByRole?: {roleGuidOrName: "PT2H"}, missingPrincipals?: [ids]}
  route('/authorization/settings', (b) => {
    const s = ctx.authz.settings();
    if (b.pageSize !== undefined) {
      need(Number.isInteger(b.pageSize) && b.pageSize >= 1 && b.pageSize <= 1000, "'pageSize' must be 1..1000");
      s.pageSize = b.pageSize;
    }
    if (b.pimMaxDuration !== undefined) {
      const ms = parseDuration(b.pimMaxDuration);
      need(ms, "'pimMaxDuration' must be an ISO 8601 duration such as PT8H");
      s.maxActiveMs.default = ms!;
    }
    if (b.pimMaxDurationByRole !== undefined) {
      need(typeof b.pimMaxDurationByRole === 'object', "'pimMaxDurationByRole' must map roles to durations");
      for (const [role, d] of Object.entries(b.pimMaxDurationByRole as Record<string, unknown>)) {
        const guid = roleGuid(role);
        const ms = parseDuration(d);
        need(guid && ms, `'${role}': a role GUID or name and an ISO 8601 duration`);
        s.maxActiveMs.roles[guid!] = ms!;
      }
    }
    if (b.missingPrincipals !== undefined) {
      need(Array.isArray(b.missingPrincipals), "'missingPrincipals' must be a list of principal ids");
      s.missingPrincipals = b.missingPrincipals.map(String);
    }
    return ctx.authz.putSettings(s);
  });
}
