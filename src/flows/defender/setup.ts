import type { Ticketloop } from '../../app/build.ts';
import type { SetupStep } from '../../app/checks.ts';
import type { SetupCommand, SetupContext } from '../../app/module.ts';
import { formatPath } from '../../config/common.ts';
import { integrationSchema } from '../../config/schema.ts';
import { diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import { defenderShape, SEVERITIES, type DefenderIntegration } from './config.ts';
import { READ_ROLE } from './checks.ts';
import { previewReconcile } from './preview.ts';

/**
 * `ticketloop setup defender`: add the integration to the configuration file, then a dry-run
 * reconcile that lists the tickets the first pass would open — reading Defender, writing nothing.
 */

const FLAG_OF: Record<string, string> = {
  name: '--name',
  scope: '--scope',
  itsm: '--itsm',
  ticketType: '--ticket-type',
  'mapping.assignedTo': '--owner',
  'mapping.caller': '--caller',
  'filters.severities': '--severities',
};

function entryFrom(app: Ticketloop, o: Record<string, string | undefined>): Record<string, unknown> & { name: string } {
  const itsm = o.itsm ?? (app.config.itsm.length === 1 ? app.config.itsm[0].name : undefined);
  return {
    name: o.name!,
    type: 'defender',
    itsm,
    scope: o.scope,
    ...(o.ticketType ? { ticketType: o.ticketType } : {}),
    ...(o.owner || o.caller
      ? { mapping: { ...(o.owner ? { assignedTo: o.owner } : {}), ...(o.caller ? { caller: o.caller } : {}) } }
      : {}),
    ...(o.severities ? { filters: { severities: o.severities.split(',').map((s) => s.trim()) } } : {}),
  };
}

async function run(app: Ticketloop, o: Record<string, any>, ctx: SetupContext): Promise<SetupStep[]> {
  const entry = entryFrom(app, o);
  const parsed = integrationSchema({ type: 'defender', shape: defenderShape }, app.itsmModules).safeParse(entry);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const path = formatPath(i.path);
      return `${FLAG_OF[path] ?? path}: ${path === 'itsm' && !entry.itsm ? 'name the ITSM connection (several are configured)' : i.message}`;
    });
    return [{ what: 'the integration', outcome: 'failed', detail: problems.join('; ') }];
  }
  if (!app.connections.hasItsm(String(entry.itsm)))
    return [{ what: 'the integration', outcome: 'failed', detail: `--itsm: no ITSM connection named "${entry.itsm}"` }];
  const integration = { ...parsed.data, itsm: String(entry.itsm) } as DefenderIntegration;
  const steps = [await ctx.recordIntegration(entry)];
  steps.push(...(await ctx.setupItsm(integration.itsm, [integration.ticketType])));
  try {
    const p = await previewReconcile(app, integration);
    steps.push({
      what: `dry-run reconcile of ${integration.scope}`,
      outcome: 'unchanged',
      detail: `${p.assessments} assessments, ${p.unhealthy} unhealthy: ${p.open.length} ticket(s) would be opened, ${p.tracked} already have one, ${p.capped} over the daily cap`,
    });
    for (const t of p.open.slice(0, 20))
      ctx.say(
        `would open: [${t.severity}] ${t.title} — ${t.resources} resource(s), due ${t.dueDate}, e.g. ${t.resourceId}`,
      );
    if (p.open.length > 20) ctx.say(`… and ${p.open.length - 20} more`);
  } catch (e) {
    const ms = app.connections.microsoft().config;
    steps.push({
      what: `dry-run reconcile of ${integration.scope}`,
      outcome: 'failed',
      detail: Object.values(diagnoseMicrosoft(e, ms, { azureRole: READ_ROLE, scope: integration.scope })).join(' — '),
    });
  }
  return steps;
}

export const defenderSetup: SetupCommand = {
  description: 'add a Defender for Cloud integration to the configuration and preview the tickets it would open',
  options: [
    {
      flags: '--name <name>',
      description: 'the integration name (part of every ticket correlation id)',
      required: true,
    },
    {
      flags: '--scope <scope>',
      description: 'subscription (/subscriptions/<guid>), resource group, management group or security connector id',
      required: true,
    },
    { flags: '--itsm <connection>', description: 'the ITSM connection (default: the only one configured)' },
    { flags: '--ticket-type <type>', description: 'incident, change_request or problem (default incident)' },
    { flags: '--owner <email>', description: 'the owner of every ticket and governance assignment (required to run)' },
    { flags: '--caller <email>', description: "the tickets' caller (required to run)" },
    { flags: '--severities <list>', description: `only these severities (${SEVERITIES.join(',')})` },
  ],
  run,
};
