import type { AzureStore, ManagementGroup, Subscription } from './store.ts';

/**
 * The tenant's management-group tree. The tenant root group is named after the tenant id (as in
 * Azure); a group without a `parent` hangs below the root, and a subscription no group lists
 * belongs to the root, like a new subscription in a real tenant.
 */

export interface Tenant {
  tenantId: string;
  displayName: string;
  defaultDomain: string;
}

export const ROOT_DISPLAY_NAME = 'Tenant Root Group';
export const MG_TYPE = 'Microsoft.Management/managementGroups';
export const mgId = (name: string) => `/providers/Microsoft.Management/managementGroups/${name}`;

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export class Hierarchy {
  constructor(
    private readonly store: AzureStore,
    readonly tenant: Tenant,
  ) {}

  get rootName(): string {
    return this.tenant.tenantId;
  }

  /** Create the root group once (databases from before the hierarchy existed get it on start). */
  ensureRoot(now: string): void {
    if (this.store.managementGroup(this.rootName)) return;
    this.store.putManagementGroup({
      name: this.rootName,
      displayName: ROOT_DISPLAY_NAME,
      subscriptions: [],
      updatedTime: now,
    });
  }

  isRoot(mg: ManagementGroup): boolean {
    return same(mg.name, this.rootName);
  }

  /** The parent group; undefined only for the root. A parent that no longer exists means the root. */
  parentOf(mg: ManagementGroup): ManagementGroup | undefined {
    if (this.isRoot(mg)) return undefined;
    return (mg.parent && this.store.managementGroup(mg.parent)) || this.store.managementGroup(this.rootName);
  }

  /** The group a subscription sits in (the root when no group lists it). */
  groupOf(subscriptionId: string): ManagementGroup | undefined {
    return (
      this.store.managementGroups().find((g) => g.subscriptions.some((s) => same(s, subscriptionId))) ??
      this.store.managementGroup(this.rootName)
    );
  }

  /** The group and its ancestors, nearest first, ending with the root. */
  chain(mg: ManagementGroup): ManagementGroup[] {
    const out: ManagementGroup[] = [];
    for (let g: ManagementGroup | undefined = mg; g && out.length < 10; g = this.parentOf(g)) out.push(g);
    return out;
  }

  childGroups(mg: ManagementGroup): ManagementGroup[] {
    return this.store.managementGroups().filter((g) => {
      const p = this.parentOf(g);
      return p !== undefined && same(p.name, mg.name);
    });
  }

  childSubscriptions(mg: ManagementGroup): Subscription[] {
    return this.store.subscriptions().filter((s) => same(this.groupOf(s.subscriptionId)?.name ?? '', mg.name));
  }

  /** Every subscription at or below the group (an assessment list at group scope spans them). */
  descendantSubscriptions(mg: ManagementGroup): string[] {
    return [
      ...this.childSubscriptions(mg).map((s) => s.subscriptionId),
      ...this.childGroups(mg).flatMap((g) => this.descendantSubscriptions(g)),
    ];
  }

  /**
   * Scopes that contain `scope`, for RBAC inheritance: the tenant root `/`, the management groups
   * above it, then each path prefix (subscription, resource group, resource, …). Lower-cased.
   */
  ancestorScopes(scope: string): string[] {
    const segs = scope.split('/').filter(Boolean);
    let group: ManagementGroup | undefined;
    if (segs[0]?.toLowerCase() === 'subscriptions' && segs[1]) group = this.groupOf(segs[1]);
    else if (/^providers\/microsoft\.management\/managementgroups\/[^/]+/i.test(segs.join('/')))
      group = this.store.managementGroup(segs[3]);
    const out = ['/', ...(group ? this.chain(group).map((g) => mgId(g.name)) : [])];
    for (let i = 2; i <= segs.length; i++) out.push(`/${segs.slice(0, i).join('/')}`);
    return out.map((s) => s.toLowerCase());
  }
}
