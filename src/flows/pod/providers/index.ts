import type { Ticketloop } from '../../../app/build.ts';
import type { ProviderType } from '../config.ts';
import type { ProviderFactory } from './registry.ts';

/** The provider types Ticketloop knows, each made from the app's connections. */
export function PROVIDER_FACTORIES(_app: Ticketloop): Partial<Record<ProviderType, ProviderFactory>> {
  return {};
}
