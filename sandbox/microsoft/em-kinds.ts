import type { DocStore } from '../shared/persist.ts';
import {
  C,
  publicShape,
  subjectOf,
  type AccessPackage,
  type Assignment,
  type AssignmentRequest,
  type Catalog,
  type DirectoryUser,
  type Extension,
  type Policy,
  type StageSetting,
} from './em-model.ts';
import type { EntityKind, Related } from './odata.ts';

/**
 * The entitlement-management documents as Graph entities (odata.ts renders them): their
 * properties, and the navigation properties of the v1.0 schema the sandbox can follow.
 */

export interface EmKinds {
  catalog: EntityKind<Catalog>;
  extension: EntityKind<Extension>;
  accessPackage: EntityKind<AccessPackage>;
  policy: EntityKind<Policy>;
  request: EntityKind<AssignmentRequest>;
  assignment: EntityKind<Assignment>;
}

type Subject = Record<string, unknown>;

const SUBJECT_DEFAULTS = {
  id: null,
  objectId: null,
  displayName: null,
  email: null,
  principalName: null,
  subjectType: null,
  subjectLifecycle: null,
  onPremisesSecurityIdentifier: null,
};

export function emKinds(store: DocStore): EmKinds {
  const one = (kind: EntityKind, value: unknown): Related => ({ kind, value: value ?? null });
  const many = (kind: EntityKind, value: unknown[]): Related => ({ kind, value });
  const byField = <T>(coll: string, field: string, id: string) =>
    store.list<T & Record<string, unknown>>(coll).filter((d) => d[field] === id);

  const subject: EntityKind<Subject> = {
    type: 'accessPackageSubject',
    shape: (s) => ({ ...SUBJECT_DEFAULTS, ...s }),
    nav: { connectedOrganization: () => one(subject, null) },
    selectKeepsId: true,
  };
  const question: EntityKind<Record<string, unknown>> = {
    type: 'accessPackageQuestion',
    shape: (q) => q,
    selectKeepsId: true,
  };
  const extension: EntityKind<Extension> = { type: 'customCalloutExtension', shape: publicShape, selectKeepsId: true };
  const stageSetting: EntityKind<StageSetting> = {
    type: 'customExtensionStageSetting',
    shape: (s) => ({ id: s.id, stage: s.stage }),
    nav: { customExtension: (s) => one(extension, store.get<Extension>(C.extensions, s.customExtension.id)) },
    selectKeepsId: true,
  };

  const catalog: EntityKind<Catalog> = {
    type: 'accessPackageCatalog',
    shape: publicShape,
    nav: {
      accessPackages: (c) => many(accessPackage, byField<AccessPackage>(C.packages, '_catalogId', c.id)),
      customWorkflowExtensions: (c) => many(extension, byField<Extension>(C.extensions, '_catalogId', c.id)),
    },
    selectKeepsId: true,
  };
  const accessPackage: EntityKind<AccessPackage> = {
    type: 'accessPackage',
    shape: publicShape,
    nav: {
      catalog: (p) => one(catalog, store.get(C.catalogs, p._catalogId)),
      assignmentPolicies: (p) => many(policy, byField<Policy>(C.policies, '_accessPackageId', p.id)),
    },
    selectKeepsId: true,
  };
  const packageOf = (id: string) => store.get<AccessPackage>(C.packages, id);
  const policy: EntityKind<Policy> = {
    type: 'accessPackageAssignmentPolicy',
    shape: publicShape,
    nav: {
      accessPackage: (p) => one(accessPackage, packageOf(p._accessPackageId)),
      catalog: (p) => one(catalog, store.get(C.catalogs, packageOf(p._accessPackageId)?._catalogId ?? '')),
      customExtensionStageSettings: (p) => many(stageSetting, p.customExtensionStageSettings ?? []),
      questions: (p) => many(question, (p.questions ?? []) as Record<string, unknown>[]),
    },
    selectKeepsId: true,
  };

  const target = (userId: string) => {
    const u = store.get<DirectoryUser>(C.users, userId);
    return u ? subjectOf(u) : null;
  };
  const assignment: EntityKind<Assignment> = {
    type: 'accessPackageAssignment',
    shape: (a) => ({ ...publicShape(a), customExtensionCalloutInstances: [] }),
    nav: {
      accessPackage: (a) => one(accessPackage, packageOf(a._accessPackageId)),
      assignmentPolicy: (a) => one(policy, store.get(C.policies, a._policyId)),
      target: (a) => one(subject, target(a._targetId)),
    },
    selectKeepsId: true,
  };
  const request: EntityKind<AssignmentRequest> = {
    type: 'accessPackageAssignmentRequest',
    shape: publicShape,
    nav: {
      accessPackage: (r) => one(accessPackage, packageOf(r._accessPackageId)),
      // Before delivery the assignment does not exist yet: Graph shows its id only.
      assignment: (r) =>
        one(
          assignment,
          store.get<Assignment>(C.assignments, r._assignmentId) ?? {
            id: r._assignmentId,
            state: null,
            status: null,
            expiredDateTime: null,
            schedule: null,
            _accessPackageId: r._accessPackageId,
            _policyId: r._policyId,
            _targetId: r._targetId,
            _catalogId: packageOf(r._accessPackageId)?._catalogId ?? '',
          },
        ),
      requestor: (r) => one(subject, r._requestor),
    },
    selectKeepsId: true,
  };
  return { catalog, extension, accessPackage, policy, request, assignment };
}
