import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DocStore } from '../shared/persist.ts';
import type { Entra } from './entra.ts';
import { TENANT_ID } from './constants.ts';
import { C, type DirectoryUser } from './em-model.ts';
import { FIRST_PARTY_SERVICE_PRINCIPALS, type ServicePrincipalSeed } from './first-party.ts';
import { GraphFailure, authorizeGraph } from './graph-http.ts';
import { conditions, type Condition } from './odata-filter.ts';
import { entityResponse, listResponse, parseOptions, type EntityKind, type QueryOptions } from './odata.ts';

/**
 * The directory as Graph shows it: `GET /users`, `/users/{id | userPrincipalName}`,
 * `/servicePrincipals`, `/servicePrincipals/{id}`. `$filter` follows the directory's documented
 * support per property (concepts/aad-advanced-queries.md, includes/filter-directory-objects.md):
 * `ne`, `not` and `endsWith` only as advanced queries (`ConsistencyLevel: eventual` and
 * `$count=true`), anything else on an unindexed property is `Request_UnsupportedQuery`.
 */

/** Application permissions that may read them (user-list.md, serviceprincipal-list.md). */
export const USERS_READ = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
export const SERVICE_PRINCIPALS_READ = [
  'Application.Read.All',
  'Application.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

/**
 * `$filter` support per property: each operator, `+` when only in advanced queries. Lambdas are
 * `collection/any` (their variable's member after it: `identities/any/issuer`).
 */
export type Rules = Record<string, string>;
const USER_FILTERS: Rules = {
  id: 'eq',
  accountEnabled: 'eq',
  userType: 'eq',
  employeeId: 'eq',
  createdDateTime: 'eq range',
  displayName: 'eq startsWith',
  givenName: 'eq startsWith',
  surname: 'eq startsWith',
  jobTitle: 'eq startsWith',
  department: 'eq startsWith',
  city: 'eq startsWith',
  country: 'eq startsWith',
  usageLocation: 'eq startsWith',
  mailNickname: 'eq startsWith',
  mail: 'eq startsWith endsWith+',
  userPrincipalName: 'eq startsWith endsWith+',
  companyName: 'eq+ startsWith+',
  mobilePhone: 'eq+ startsWith+',
  officeLocation: 'eq+ startsWith+',
  'otherMails/any': 'eq startsWith endsWith+',
  'proxyAddresses/any': 'eq startsWith endsWith+',
  'identities/any/issuer': 'eq',
  'identities/any/issuerAssignedId': 'eq',
};
const SERVICE_PRINCIPAL_FILTERS: Rules = {
  id: 'eq',
  appId: 'eq',
  accountEnabled: 'eq',
  applicationTemplateId: 'eq',
  preferredSingleSignOnMode: 'eq',
  servicePrincipalType: 'eq',
  displayName: 'eq startsWith',
  publisherName: 'eq startsWith',
  description: 'eq+ startsWith+',
  notes: 'eq+ startsWith+',
  appOwnerOrganizationId: 'eq+',
  appRoleAssignmentRequired: 'eq+',
  'alternativeNames/any': 'eq startsWith',
  'servicePrincipalNames/any': 'eq startsWith',
  'tags/any': 'eq startsWith',
};

const unsupported = (message: string) => new GraphFailure(400, 'Request_UnsupportedQuery', message);

function operatorOf(c: Condition): string | undefined {
  if (c.op === 'eq' || c.op === 'ne' || c.op === 'in' || c.op === 'bare') return 'eq';
  if (c.op === 'startswith') return 'startsWith';
  if (c.op === 'endswith') return 'endsWith';
  if (c.op === 'gt' || c.op === 'ge' || c.op === 'lt' || c.op === 'le') return 'range';
  return undefined; // contains, tolower, toupper: the directory has no such index
}

/** Throws the directory's Request_UnsupportedQuery for a filter its indexes cannot answer. */
export function checkDirectoryFilter(o: QueryOptions, rules: Rules, resource: string, advanced: boolean): void {
  if (!o.filter) return;
  for (const c of conditions(o.filter)) {
    const key = Object.keys(rules).find((k) => k.toLowerCase() === c.property.toLowerCase());
    const ops = key ? rules[key].split(' ') : [];
    const op = operatorOf(c);
    const allowed = op && ops.find((x) => x.replace('+', '') === op);
    if (!allowed) {
      const property = (key ?? c.property).split('/')[0];
      throw unsupported(
        `Unsupported or invalid query filter clause specified for property '${property}' of resource '${resource}'.`,
      );
    }
    const needs = allowed.endsWith('+') ? op : c.op === 'ne' ? 'ne' : c.negated ? 'not' : undefined;
    if (needs && !advanced) {
      throw unsupported(
        `Operator '${needs}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information`,
      );
    }
  }
}

/** `ConsistencyLevel: eventual` and `$count=true`: the directory's advanced queries. */
export function isAdvanced(req: FastifyRequest): boolean {
  const level = String(req.headers.consistencylevel ?? '').toLowerCase();
  return level === 'eventual' && (req.query as Record<string, string>).$count === 'true';
}

/** "By default, only a limited set of properties are returned" (user-list.md), in Graph's order. */
const USER_DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

export const userKind: EntityKind<DirectoryUser> = {
  type: 'user',
  defaultProperties: USER_DEFAULT_PROPERTIES,
  shape(u) {
    const [given, ...rest] = u.displayName.split(' ');
    return {
      businessPhones: [],
      displayName: u.displayName,
      givenName: rest.length ? given : null,
      jobTitle: null,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: rest.length ? rest.join(' ') : null,
      userPrincipalName: u.userPrincipalName,
      id: u.id,
      // Returned only when selected.
      accountEnabled: true,
      userType: 'Member',
      mailNickname: u.userPrincipalName.split('@')[0],
      otherMails: [],
      proxyAddresses: u.mail ? [`SMTP:${u.mail}`] : [],
      identities: [
        {
          signInType: 'userPrincipalName',
          issuer: u.userPrincipalName.split('@')[1] ?? '',
          issuerAssignedId: u.userPrincipalName,
        },
      ],
    };
  },
};

export const servicePrincipalKind: EntityKind<ServicePrincipalSeed> = {
  type: 'servicePrincipal',
  shape: (sp) => ({
    id: sp.id,
    deletedDateTime: null,
    accountEnabled: true,
    alternativeNames: [],
    appDisplayName: sp.displayName,
    appDescription: null,
    appId: sp.appId,
    applicationTemplateId: null,
    appOwnerOrganizationId: sp.appOwnerOrganizationId,
    appRoleAssignmentRequired: false,
    description: null,
    disabledByMicrosoftStatus: null,
    displayName: sp.displayName,
    homepage: null,
    loginUrl: null,
    logoutUrl: null,
    notes: null,
    notificationEmailAddresses: [],
    preferredSingleSignOnMode: null,
    preferredTokenSigningKeyThumbprint: null,
    replyUrls: [],
    servicePrincipalNames: sp.servicePrincipalNames,
    servicePrincipalType: 'Application',
    signInAudience: sp.signInAudience,
    tags: [],
    tokenEncryptionKeyId: null,
    samlSingleSignOnSettings: null,
    addIns: [],
    appRoles: sp.appRoles,
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    keyCredentials: [],
    oauth2PermissionScopes: [],
    passwordCredentials: [],
    resourceSpecificApplicationPermissions: [],
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
  }),
};

export const directoryNotFound = (id: string) =>
  new GraphFailure(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );

/** Microsoft's own service principals, then one per app registered in the tenant. */
export function listServicePrincipals(entra: Entra): ServicePrincipalSeed[] {
  const firstParty = new Set(FIRST_PARTY_SERVICE_PRINCIPALS.map((sp) => sp.appId));
  return [
    ...FIRST_PARTY_SERVICE_PRINCIPALS,
    ...entra
      .listApps()
      .filter((a) => !firstParty.has(a.clientId))
      .map((a) => ({
        id: a.oid,
        appId: a.clientId,
        displayName: a.displayName,
        appOwnerOrganizationId: TENANT_ID,
        servicePrincipalNames: [a.clientId, ...a.identifierUris],
        appRoles: [],
        signInAudience: 'AzureADMyOrg',
      })),
  ];
}

/** `/users/$count`: only as an advanced query, and then as text (aad-advanced-queries.md). */
export function sendCount(req: FastifyRequest, reply: FastifyReply, n: number) {
  if (String(req.headers.consistencylevel ?? '').toLowerCase() !== 'eventual')
    throw new GraphFailure(400, 'Request_BadRequest', '$count is not currently supported.');
  return reply.type('text/plain').send(String(n));
}

export function registerGraphDirectory(
  app: FastifyInstance,
  d: { store: DocStore; entra: Entra },
  baseUrl: () => string,
): void {
  const servicePrincipals = () => listServicePrincipals(d.entra);
  const users = () => d.store.list<DirectoryUser>(C.users);

  const collection = <D>(
    path: string,
    kind: EntityKind<D>,
    roles: string[],
    rules: Rules,
    resource: string,
    all: () => D[],
  ) => {
    app.get(path, async (req) => {
      await authorizeGraph(d.entra, req, roles);
      const options = parseOptions(req.query as Record<string, string>, kind.type);
      const advanced = isAdvanced(req);
      checkDirectoryFilter(options, rules, resource, advanced);
      // Without ConsistencyLevel the directory silently ignores $count=true (aad-advanced-queries.md).
      const name = path.split('/').pop()!;
      return listResponse(req, baseUrl(), name, kind, all(), { options, count: advanced });
    });
  };
  for (const v of ['v1.0', 'beta']) {
    collection(`/${v}/users`, userKind, USERS_READ, USER_FILTERS, 'User', users);
    collection(
      `/${v}/servicePrincipals`,
      servicePrincipalKind,
      SERVICE_PRINCIPALS_READ,
      SERVICE_PRINCIPAL_FILTERS,
      'ServicePrincipal',
      servicePrincipals,
    );

    app.get<{ Params: { id: string } }>(`/${v}/users/:id`, async (req, reply) => {
      await authorizeGraph(d.entra, req, USERS_READ);
      if (req.params.id === '$count') return sendCount(req, reply, users().length);
      const key = req.params.id.toLowerCase();
      const u =
        d.store.get<DirectoryUser>(C.users, req.params.id) ??
        users().find((x) => x.id.toLowerCase() === key || x.userPrincipalName.toLowerCase() === key);
      if (!u) throw directoryNotFound(req.params.id);
      return entityResponse(req, baseUrl(), 'users', userKind, u);
    });
    app.get<{ Params: { id: string } }>(`/${v}/servicePrincipals/:id`, async (req, reply) => {
      await authorizeGraph(d.entra, req, SERVICE_PRINCIPALS_READ);
      if (req.params.id === '$count') return sendCount(req, reply, servicePrincipals().length);
      const sp = servicePrincipals().find((x) => x.id.toLowerCase() === req.params.id.toLowerCase());
      if (!sp) throw directoryNotFound(req.params.id);
      return entityResponse(req, baseUrl(), 'servicePrincipals', servicePrincipalKind, sp);
    });
  }
}
