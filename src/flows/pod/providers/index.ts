import type { Ticketloop } from '../../../app/build.ts';
import type { ProviderType } from '../config.ts';
import { AzurePimProvider } from './azure/pim.ts';
import { AzureRbacProvider } from './azure/rbac.ts';
import { EntraGroupProvider } from './entra/groups.ts';
import { EntraPimGroupProvider } from './entra/pim-groups.ts';
import type { ProviderFactory } from './registry.ts';

/**
 * The provider types Ticketloop knows, each made from the app's shared connections: Azure through
 * the `microsoft` connection's ARM client, Entra through its Graph client. A new cloud adds a line.
 */
export function PROVIDER_FACTORIES(app: Ticketloop): Partial<Record<ProviderType, ProviderFactory>> {
  const microsoft = () => app.connections.microsoft();
  return {
    'azure-rbac': () => new AzureRbacProvider(microsoft().arm),
    'azure-pim': () => new AzurePimProvider(microsoft().arm, app.clock),
    'entra-group': () => new EntraGroupProvider(microsoft().graph),
    'entra-pim-group': () => new EntraPimGroupProvider(microsoft().graph, app.clock),
  };
}
