import { PermanentError } from '../../../engine/errors.ts';
import type { PodIntegration, PodSystem, ProviderType } from '../config.ts';
import type { AuthorizationProvider, ResolvedPermission } from './port.ts';

/**
 * One provider instance per configured authorization system, made on first use by the factory for
 * its `provider` type, and a cache of resolved permission names (role and group names change rarely;
 * a restart or `resolveTtlMs` refreshes them).
 */

export type ProviderFactory = (system: PodSystem, integration: PodIntegration) => AuthorizationProvider;

export class ProviderRegistry {
  private readonly instances = new Map<string, AuthorizationProvider>();
  private readonly resolved = new Map<string, { at: number; value: Promise<ResolvedPermission> }>();

  constructor(
    private readonly integrations: () => PodIntegration[],
    private readonly factories: Partial<Record<ProviderType, ProviderFactory>>,
    private readonly now: () => number,
    private readonly resolveTtlMs = 3_600_000,
  ) {}

  /** The provider of `system` in `integration`. */
  get(integration: string, system: string): AuthorizationProvider {
    const key = `${integration}\u0000${system}`;
    const existing = this.instances.get(key);
    if (existing) return existing;
    const i = this.integrations().find((x) => x.name === integration);
    const s = i?.systems.find((x) => x.name === system);
    if (!i || !s) throw new PermanentError(`no authorization system "${system}" in pod integration "${integration}"`);
    const factory = this.factories[s.provider];
    if (!factory) throw new PermanentError(`no provider for type ${s.provider} (system "${system}")`);
    const provider = factory(s, i);
    this.instances.set(key, provider);
    return provider;
  }

  /** A permission's name resolved through its provider, cached; a failed look-up is not cached. */
  resolve(integration: string, system: string, nameOrId: string, scope: string): Promise<ResolvedPermission> {
    const key = [integration, system, nameOrId, scope].join('\u0000');
    const hit = this.resolved.get(key);
    if (hit && this.now() - hit.at < this.resolveTtlMs) return hit.value;
    const value = this.get(integration, system).resolvePermission(nameOrId, scope);
    this.resolved.set(key, { at: this.now(), value });
    value.catch(() => this.resolved.delete(key));
    return value;
  }
}
