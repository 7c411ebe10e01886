import type { Module } from './build.ts';

/** The flow modules Ticketloop runs. Each flow adds itself here. */
export async function loadModules(): Promise<Module[]> {
  const { entitlementModule } = await import('../flows/entitlement/module.ts');
  const { defenderModule } = await import('../flows/defender/module.ts');
  return [entitlementModule, defenderModule];
}
