import { GROUP_PERMISSIONS } from './constants.ts';
import { SERVICE_PRINCIPALS_READ, USERS_READ, servicePrincipalKind, userKind, type Rules } from './graph-directory.ts';
import type { GraphCaller } from './graph-http.ts';
import type { Directory, DirectoryGroup, DirectoryObject } from './groups-model.ts';
import type { EntityKind } from './odata.ts';

/**
 * How groups and the directory objects in their member lists look in Graph JSON
 * (resources/group.md, resources/directoryobject.md), and the `$filter` support of `/groups`
 * (concepts/includes/filter-directory-objects.md: the properties the sandbox holds).
 */

export const GROUP_FILTERS: Rules = {
  id: 'eq',
  displayName: 'eq startsWith',
  mailNickname: 'eq startsWith',
  mail: 'eq startsWith endsWith+',
  mailEnabled: 'eq',
  securityEnabled: 'eq',
  isAssignableToRole: 'eq',
  createdDateTime: 'eq+ range+',
  description: 'eq+ startsWith+',
  visibility: 'eq+',
  'groupTypes/any': 'eq',
  'proxyAddresses/any': 'eq startsWith endsWith+',
};

/** What `GET /groups` returns without `$select` (group-list.md's example response, v1.0 properties only). */
const GROUP_DEFAULT_PROPERTIES = [
  'id',
  'deletedDateTime',
  'classification',
  'createdDateTime',
  'description',
  'displayName',
  'expirationDateTime',
  'groupTypes',
  'isAssignableToRole',
  'mail',
  'mailEnabled',
  'mailNickname',
  'membershipRule',
  'membershipRuleProcessingState',
  'onPremisesDomainName',
  'onPremisesLastSyncDateTime',
  'onPremisesNetBiosName',
  'onPremisesSamAccountName',
  'onPremisesSecurityIdentifier',
  'onPremisesSyncEnabled',
  'preferredDataLocation',
  'preferredLanguage',
  'proxyAddresses',
  'renewedDateTime',
  'resourceBehaviorOptions',
  'resourceProvisioningOptions',
  'securityEnabled',
  'securityIdentifier',
  'theme',
  'visibility',
  'onPremisesProvisioningErrors',
  'serviceProvisioningErrors',
];

/** A stable, SID-shaped security identifier derived from the object id (Entra's start S-1-12-1-). */
function securityIdentifier(id: string): string {
  const hex = id.replace(/-/g, '').padEnd(32, '0');
  const parts = [0, 8, 16, 24].map((i) => parseInt(hex.slice(i, i + 8).replace(/(..)(..)(..)(..)/, '$4$3$2$1'), 16));
  return `S-1-12-1-${parts.join('-')}`;
}

function shapeGroup(g: DirectoryGroup): Record<string, unknown> {
  return {
    id: g.id,
    deletedDateTime: null,
    classification: null,
    createdDateTime: g.createdDateTime ?? null,
    description: g.description ?? null,
    displayName: g.displayName,
    expirationDateTime: null,
    groupTypes: g.groupTypes ?? [],
    isAssignableToRole: g.isAssignableToRole ?? null,
    mail: null,
    mailEnabled: g.mailEnabled ?? false,
    mailNickname: g.mailNickname ?? null,
    membershipRule: null,
    membershipRuleProcessingState: null,
    onPremisesDomainName: null,
    onPremisesLastSyncDateTime: null,
    onPremisesNetBiosName: null,
    onPremisesSamAccountName: null,
    onPremisesSecurityIdentifier: null,
    onPremisesSyncEnabled: null,
    preferredDataLocation: null,
    preferredLanguage: null,
    proxyAddresses: [],
    renewedDateTime: g.createdDateTime ?? null,
    resourceBehaviorOptions: [],
    resourceProvisioningOptions: [],
    securityEnabled: g.securityEnabled ?? true,
    securityIdentifier: securityIdentifier(g.id),
    theme: null,
    visibility: g.visibility ?? null,
    onPremisesProvisioningErrors: [],
    serviceProvisioningErrors: [],
  };
}

type ObjectType = DirectoryObject['type'];

/** The object types the caller may read in full; of the others a member list shows only type and id (group-list-members.md). */
export function readableTypes(caller: GraphCaller): Set<ObjectType> {
  const has = (roles: string[]) => roles.some((r) => caller.roles.includes(r));
  const out = new Set<ObjectType>();
  if (has(USERS_READ)) out.add('user');
  if (has(SERVICE_PRINCIPALS_READ)) out.add('servicePrincipal');
  if (has(GROUP_PERMISSIONS.read)) out.add('group');
  return out;
}

export interface GroupKinds {
  group: EntityKind<DirectoryGroup>;
  /** A member list: users, service principals and groups, each with its `@odata.type`. */
  directoryObject: EntityKind<DirectoryObject>;
}

/** The kinds for one caller (what it may read) and one way of listing members (v1.0 hides service principals). */
export function groupKinds(dir: Directory, readable: Set<ObjectType>): GroupKinds {
  const directoryObject: EntityKind<DirectoryObject> = {
    type: 'directoryObject',
    shape(o) {
      const full =
        o.type === 'user'
          ? userKind.shape(o.doc)
          : o.type === 'group'
            ? shapeGroup(o.doc)
            : servicePrincipalKind.shape(o.doc);
      const shaped = readable.has(o.type)
        ? full
        : Object.fromEntries(Object.keys(full).map((k) => [k, k === 'id' ? o.id : null]));
      return { '@odata.type': `#microsoft.graph.${o.type}`, ...shaped };
    },
    defaultPropertiesOf: (o) =>
      o.type === 'user' ? userKind.defaultProperties : o.type === 'group' ? GROUP_DEFAULT_PROPERTIES : undefined,
  };
  const group: EntityKind<DirectoryGroup> = {
    type: 'group',
    defaultProperties: GROUP_DEFAULT_PROPERTIES,
    shape: shapeGroup,
    nav: {
      // `$expand=members` lists service principals in v1.0 too (group-list-members.md, known issue).
      members: (g) => ({ kind: directoryObject, value: dir.members(g) }),
      owners: (g) => ({
        kind: directoryObject,
        value: (g.owners ?? []).map((id) => dir.object(id)).filter(Boolean),
      }),
      memberOf: (g) => ({
        kind: directoryObject,
        value: dir.groupsOf(g.id).map((p) => ({ type: 'group', id: p.id, doc: p })),
      }),
    },
  };
  return { group, directoryObject };
}
