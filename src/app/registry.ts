import { defenderModule } from '../flows/defender/module.ts';
import { entitlementModule } from '../flows/entitlement/module.ts';
import { m365Module } from '../flows/m365/module.ts';
import { podModule } from '../flows/pod/module.ts';
import { servicenowModule } from '../itsm/servicenow/module.ts';
import type { ItsmModule } from '../itsm/port.ts';
import type { FlowModule } from './module.ts';

/** The modules Ticketloop runs: adding a flow or an ITSM adapter adds one line here. */
export const FLOW_MODULES: FlowModule[] = [entitlementModule, defenderModule, podModule, m365Module];
export const ITSM_MODULES: ItsmModule[] = [servicenowModule];
