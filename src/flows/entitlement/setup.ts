import type { Ticketloop } from '../../app/build.ts';
import type { SetupStep } from '../../app/checks.ts';
import type { SetupCommand, SetupContext } from '../../app/module.ts';
import { adminConsentUrl, diagnoseMicrosoft } from '../../connectors/microsoft/diagnose.ts';
import { HttpError } from '../../engine/errors.ts';
import { EM_PERMISSION } from './grant.ts';
import { REQUEST_STAGES, type EntitlementIntegration, type RequestStage } from './config.ts';
import { EntitlementGraph, extensionBody, type ExtensionOptions } from './graph-em.ts';
import { CALLOUT_PATH, LOGIC_APP_PATH } from './routes.ts';

/**
 * `ticketloop setup entitlement`: what Microsoft's ticketed-provisioning tutorial has an admin click
 * together, through Graph (wire-format §2): a custom extension in the catalog that calls Ticketloop
 * (directly, or through the Logic App forwarder), and the extension on the chosen stages of every
 * assignment policy of the chosen access packages. Each step looks before it writes, so a second
 * run changes nothing.
 */

type Obj = Record<string, any>;

export interface EntitlementSetupOptions extends ExtensionOptions {
  /** Catalog id or display name. */
  catalog: string;
  /** Access package ids or display names (in that catalog). */
  accessPackages: string[];
  stages: RequestStage[];
  dryRun?: boolean;
}

/** Read-only or navigation properties a PUT of a policy must not send back. */
const POLICY_READ_ONLY = ['@odata.context', 'id', 'createdDateTime', 'modifiedDateTime', 'accessPackage', 'catalog'];

/** "P1D" and "PT24H" are the same wait; Graph may echo either. */
function sameDuration(a: unknown, b: unknown): boolean {
  const ms = (d: unknown) => {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(String(d ?? ''));
    return m ? ((+(m[1] ?? 0) * 24 + +(m[2] ?? 0)) * 60 + +(m[3] ?? 0)) * 60 + +(m[4] ?? 0) : NaN;
  };
  return ms(a) === ms(b);
}

function targets(ext: Obj, o: EntitlementSetupOptions): boolean {
  const e = ext.endpointConfiguration ?? {};
  if ('url' in o.target) return e.url === o.target.url;
  const l = o.target.logicApp;
  return (
    String(e.subscriptionId).toLowerCase() === l.subscriptionId.toLowerCase() &&
    String(e.resourceGroupName).toLowerCase() === l.resourceGroupName.toLowerCase() &&
    e.logicAppWorkflowName === l.logicAppWorkflowName
  );
}

function upToDate(ext: Obj, want: Obj): boolean {
  const auth = ext.authenticationConfiguration ?? {};
  const cb = ext.callbackConfiguration ?? {};
  return (
    String(auth['@odata.type']).replace(/^#?/, '#') === want.authenticationConfiguration['@odata.type'] &&
    (auth.resourceId ?? undefined) === want.authenticationConfiguration.resourceId &&
    sameDuration(cb.timeoutDuration ?? cb.durationBeforeTimeout, want.callbackConfiguration.timeoutDuration)
  );
}

const byIdOrName = (items: Obj[], key: string) =>
  items.find((x) => x.id === key) ?? items.find((x) => String(x.displayName).toLowerCase() === key.toLowerCase());

export async function setupEntitlement(graph: EntitlementGraph, o: EntitlementSetupOptions): Promise<SetupStep[]> {
  const bad = o.stages.filter((s) => !REQUEST_STAGES.includes(s));
  if (bad.length)
    throw new Error(`stages: ${bad.join(', ')} cannot wait for a ticket (use ${REQUEST_STAGES.join(', ')})`);
  const steps: SetupStep[] = [];
  const catalogs = await graph.listCatalogs();
  const catalog = byIdOrName(catalogs, o.catalog);
  if (!catalog) {
    const names = catalogs.map((c) => `"${c.displayName}"`).join(', ') || 'none';
    return [{ what: `catalog ${o.catalog}`, outcome: 'failed', detail: `not found (catalogs: ${names})` }];
  }
  steps.push({ what: `catalog "${catalog.displayName}"`, outcome: 'unchanged', detail: catalog.id });

  // The custom extension.
  const want = extensionBody(o);
  const existing = (await graph.listCustomWorkflowExtensions(catalog.id)).find((x) => targets(x, o));
  let extId = existing?.id as string | undefined;
  const where = 'url' in o.target ? o.target.url : `Logic App ${o.target.logicApp.logicAppWorkflowName}`;
  if (existing && upToDate(existing, want)) {
    steps.push({
      what: `custom extension "${existing.displayName}" → ${where}`,
      outcome: 'unchanged',
      detail: existing.id,
    });
  } else if (o.dryRun) {
    steps.push({
      what: `custom extension → ${where}`,
      outcome: 'manual',
      detail: existing ? 'would update' : 'would create',
    });
  } else if (existing) {
    await graph.updateCustomWorkflowExtension(catalog.id, existing.id, o);
    steps.push({
      what: `custom extension "${existing.displayName}" → ${where}`,
      outcome: 'updated',
      detail: existing.id,
    });
  } else {
    const created = await graph.createCustomWorkflowExtension(catalog.id, o);
    extId = created.id;
    steps.push({
      what: `custom extension "${created.displayName}" → ${where}`,
      outcome: 'created',
      detail: `${created.id}; Entra sends a connection test to it`,
    });
  }

  // The stages on each policy of each access package.
  const packages = await graph.listAccessPackages(`catalog/id eq '${catalog.id}'`);
  for (const key of o.accessPackages) {
    const pkg = byIdOrName(packages, key);
    if (!pkg) {
      steps.push({
        what: `access package ${key}`,
        outcome: 'failed',
        detail: `not found in catalog "${catalog.displayName}"`,
      });
      continue;
    }
    const policies = await graph.listAssignmentPolicies(pkg.id);
    if (!policies.length)
      steps.push({
        what: `access package "${pkg.displayName}"`,
        outcome: 'manual',
        detail: 'has no assignment policy: add one in the portal (who may request, approval), then run setup again',
      });
    for (const policy of policies) {
      const settings: Obj[] = policy.customExtensionStageSettings ?? [];
      const missing = o.stages.filter(
        (stage) => !settings.some((s) => s.stage === stage && s.customExtension?.id === extId && extId),
      );
      const what = `policy "${policy.displayName}" of "${pkg.displayName}": ${o.stages.join(', ')}`;
      if (!missing.length) {
        steps.push({ what, outcome: 'unchanged' });
        continue;
      }
      if (o.dryRun || !extId) {
        steps.push({ what, outcome: 'manual', detail: `would add ${missing.join(', ')}` });
        continue;
      }
      // One extension per stage: ours replaces another one on the same stage.
      const kept = settings
        .filter((s) => !o.stages.includes(s.stage))
        .map((s) => ({ stage: s.stage, customExtension: { id: s.customExtension?.id } }));
      const body = Object.fromEntries(Object.entries(policy).filter(([k]) => !POLICY_READ_ONLY.includes(k)));
      await graph.replaceAssignmentPolicy(policy.id, {
        ...body,
        accessPackage: { id: pkg.id },
        customExtensionStageSettings: [
          ...kept,
          ...o.stages.map((stage) => ({ stage, customExtension: { id: extId } })),
        ],
      });
      steps.push({ what, outcome: 'updated', detail: `added ${missing.join(', ')}` });
    }
  }
  return steps;
}

// ---- the command ---------------------------------------------------------------------------------

const SHORT_STAGES: Record<string, RequestStage> = {
  created: 'assignmentRequestCreated',
  approved: 'assignmentRequestApproved',
  granted: 'assignmentRequestGranted',
  removed: 'assignmentRequestRemoved',
};

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Logic/workflows/{name}` */
function parseLogicApp(id: string) {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Logic\/workflows\/([^/]+)$/i.exec(
      id.trim(),
    );
  if (!m)
    throw new Error(
      '--logic-app: must be /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Logic/workflows/<name>',
    );
  return { subscriptionId: m[1], resourceGroupName: m[2], logicAppWorkflowName: m[3] };
}

async function run(app: Ticketloop, o: Record<string, any>, ctx: SetupContext): Promise<SetupStep[]> {
  if (!app.config.microsoft)
    throw new Error('the configuration has no `microsoft` connection (tenantId, clientId, clientSecret)');
  const stages = String(o.stages)
    .split(',')
    .map((s) => s.trim())
    .map((s) => SHORT_STAGES[s] ?? (s as RequestStage));
  const publicUrl = (o.url ?? app.config.server.publicUrl)?.replace(/\/+$/, '');
  if (!o.logicApp && !publicUrl)
    throw new Error('--url: give the URL where Entra reaches Ticketloop (or set server.publicUrl), or --logic-app');
  const itsm = o.itsm ?? (app.config.itsm.length === 1 ? app.config.itsm[0].name : undefined);
  if (!itsm || !app.connections.hasItsm(itsm))
    throw new Error(
      `--itsm: name one of the ITSM connections (${app.config.itsm.map((c) => c.name).join(', ') || 'none configured'})`,
    );

  const existing = app.integrations<EntitlementIntegration>('entitlement').find((i) => i.name === o.name);
  const steps = [await ctx.recordIntegration({ name: o.name, type: 'entitlement', itsm, stages })];
  steps.push(...(await ctx.setupItsm(itsm, [existing?.table ?? 'sc_req_item'])));
  const ms = app.connections.microsoft();
  const graph = new EntitlementGraph(ms.graph);
  try {
    await graph.listCatalogs();
  } catch (e) {
    const d = diagnoseMicrosoft(e, ms.config, { graphPermission: EM_PERMISSION });
    // A missing permission is the admin's click (consent); anything else is a failure to fix first.
    const outcome = e instanceof HttpError && e.status === 403 ? 'manual' : 'failed';
    return [...steps, { what: 'Graph access', outcome, detail: `${d.detail} — ${d.fix}` }];
  }
  steps.push({
    what: 'Graph access',
    outcome: 'unchanged',
    detail: `${EM_PERMISSION} granted (admin consent: ${adminConsentUrl(ms.config)})`,
  });
  const resourceId = existing?.inbound.audiences?.[0] ?? ms.config.clientId;
  steps.push(
    ...(await setupEntitlement(graph, {
      catalog: o.catalog,
      accessPackages: o.accessPackage,
      stages,
      target: o.logicApp ? { logicApp: parseLogicApp(o.logicApp) } : { url: `${publicUrl}${CALLOUT_PATH}` },
      resourceId,
      timeout: o.timeout,
      dryRun: ctx.dryRun,
    })),
  );
  if (o.logicApp)
    steps.push({
      what: 'Logic App forwarder',
      outcome: 'manual',
      detail: `deploy docs/logic-app-forwarder.json as ${o.logicApp} pointing at ${publicUrl ?? '<Ticketloop URL>'}${LOGIC_APP_PATH} (az deployment group create --template-file docs/logic-app-forwarder.json)`,
    });
  return steps;
}

export const entitlementSetup: SetupCommand = {
  description: 'create the custom extension and put it on the access packages’ policy stages (Graph)',
  options: [
    { flags: '--catalog <id|name>', description: 'the catalog of the access packages', required: true },
    {
      flags: '--access-package <id|name...>',
      description: 'the access packages to provision by ticket',
      required: true,
    },
    {
      flags: '--stages <list>',
      description: 'stages that open a ticket: created, approved, granted, removed',
      default: 'approved,removed',
    },
    { flags: '--url <url>', description: 'where Entra reaches Ticketloop (default: server.publicUrl)' },
    { flags: '--logic-app <resourceId>', description: 'call this Logic App forwarder instead of Ticketloop directly' },
    {
      flags: '--timeout <duration>',
      description: 'how long a request waits for its ticket (ISO 8601)',
      default: 'P14D',
    },
    {
      flags: '--name <integration>',
      description: 'the integration entry in the configuration',
      default: 'entitlement',
    },
    { flags: '--itsm <connection>', description: 'the ITSM connection (default: the only one configured)' },
  ],
  run,
};
