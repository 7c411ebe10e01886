import type { CheckResult } from '../../app/checks.ts';
import type { MicrosoftHandle } from '../../app/connections.ts';
import { GRAPH_SCOPE } from '../../connectors/microsoft/graph.ts';
import type { EntitlementIntegration } from './config.ts';
import type { EntitlementGraph } from './graph-em.ts';

/**
 * Which grant lets Ticketloop resume requests (docs/entitlement.md, "Least privilege"): the
 * tenant-wide application permission, or — what Microsoft's tutorial uses and we recommend — the
 * catalog-scoped role "Access package assignment manager" on each catalog of the integrations.
 */

export const EM_PERMISSION = 'EntitlementManagement.ReadWrite.All';
/** Built-in entitlement-management role definitions that may resume a catalog's requests. */
export const ASSIGNMENT_MANAGER_ROLE = 'e2182095-804a-4656-ae11-64734e9b7ae5';
export const CATALOG_OWNER_ROLE = 'ae79f266-94d4-4dab-b730-feca7e132178';
const CATALOG_SCOPE = /^\/AccessPackageCatalog\/(.+)$/;

/** The app-only token's own claims (roles, oid): read only to explain the setup, never to authorize. */
function claimsOf(token: string): { roles: string[]; oid?: string } {
  try {
    const c = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    return {
      roles: Array.isArray(c.roles) ? c.roles.map(String) : [],
      oid: typeof c.oid === 'string' ? c.oid : undefined,
    };
  } catch {
    return { roles: [] };
  }
}

export async function resumeGrantCheck(
  ms: MicrosoftHandle,
  graph: EntitlementGraph,
  list: EntitlementIntegration[],
): Promise<CheckResult> {
  const target = 'Microsoft Graph';
  const check = 'resume grant';
  const { roles, oid } = claimsOf(await ms.tokens.getToken(GRAPH_SCOPE));
  let scopes: string[] = [];
  let unreadable = '';
  if (oid) {
    try {
      const mine = await graph.listRoleAssignments(oid);
      scopes = mine
        .filter((a) => a.roleDefinitionId === ASSIGNMENT_MANAGER_ROLE || a.roleDefinitionId === CATALOG_OWNER_ROLE)
        .map((a) => String(a.appScopeId));
    } catch (e) {
      unreadable = ` (its catalog roles could not be read: ${(e as Error).message.slice(0, 200)})`;
    }
  }
  const everywhere = scopes.includes('/');
  const catalogs = scopes.flatMap((s) => CATALOG_SCOPE.exec(s)?.[1] ?? []);
  const wanted = [...new Set(list.flatMap((i) => i.catalogs))];
  const missing = everywhere ? [] : wanted.filter((c) => c !== '*' && !catalogs.includes(c));
  const assign = `assign the app's service principal${oid ? ` (${oid})` : ''} the role "Access package assignment manager" (${ASSIGNMENT_MANAGER_ROLE}) on each catalog: POST /roleManagement/entitlementManagement/roleAssignments {principalId, roleDefinitionId, appScopeId: "/AccessPackageCatalog/<catalog id>"}`;
  const roleText = everywhere
    ? 'the catalog role "Access package assignment manager" on every catalog'
    : `the catalog role "Access package assignment manager" on ${catalogs.length} catalog(s) (${catalogs.join(', ')})`;

  if (roles.includes(EM_PERMISSION))
    return {
      target,
      check,
      ok: true,
      detail: `found the application permission ${EM_PERMISSION} (tenant-wide)${scopes.length ? ` and ${roleText}` : ''}; least privilege: ${assign}, then remove the application permission`,
    };
  if (scopes.length && !missing.length)
    return {
      target,
      check,
      ok: true,
      detail: `found ${roleText}${wanted.includes('*') && !everywhere ? '; the integrations accept any catalog ("*"): requests of other catalogs cannot be resumed' : ''}`,
    };
  return {
    target,
    check,
    ok: false,
    detail: scopes.length
      ? `found ${roleText}, but not on ${missing.join(', ')}`
      : `found neither ${EM_PERMISSION} nor the catalog role "Access package assignment manager"${unreadable}`,
    fix: `${assign} (recommended), or grant the application permission ${EM_PERMISSION}`,
  };
}
