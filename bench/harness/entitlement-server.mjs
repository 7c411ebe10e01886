// The Ticketloop process of bench/entitlement.ts, on the compiled runtime (dist/, plain node, no tsx),
// as an operator runs it: `npm run build` first. TL_BENCH = {config, engine}.
import { buildTicketloop, createLogger } from '../../dist/src/app/build.js';
import { validateConfig } from '../../dist/src/app/config.js';
import { ITSM_MODULES } from '../../dist/src/app/registry.js';
import { entitlementModule } from '../../dist/src/flows/entitlement/module.js';

const o = JSON.parse(process.env.TL_BENCH);
const app = await buildTicketloop(validateConfig(o.config, 'bench'), {
  logger: createLogger('warn'),
  itsm: ITSM_MODULES,
  flows: [entitlementModule],
  engine: o.engine,
});
const url = await app.start();
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => void app.stop().then(() => process.exit(0)));
