import { z } from 'zod';
import { anyUrl, secretRef, microsoftConnection, serviceNowConnection, serviceNowInstance } from './common.ts';
import { entitlementIntegration } from '../flows/entitlement/config.ts';
import { defenderIntegration } from '../flows/defender/config.ts';

/**
 * The one schema for the whole configuration file. Every error is reported with its path, e.g.
 * `integrations[0].servicenow.instanceUrl: must be an https URL`.
 */

/** Each flow's `integrations[]` entry, told apart by `type`; schemas live with the flows. */
const integration = z.discriminatedUnion('type', [entitlementIntegration, defenderIntegration]);

export const configSchema = z
  .object({
    dataDir: z.string().default('./data'),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        bodyLimitBytes: z.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
        /** The URL others (Entra, ServiceNow business rules) use to reach us. */
        publicUrl: anyUrl.optional(),
        /** Bearer token the operator API (`/api/…`) requires; mandatory when listening beyond loopback. */
        apiToken: secretRef.optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 1024 * 1024 }),
    database: z
      .object({
        url: z
          .string()
          .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL')
          .optional(),
        poolSize: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .default({ poolSize: 10 }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    engine: z
      .object({
        concurrency: z.number().int().min(1).max(512).default(16),
        pollIntervalMs: z.number().int().min(5).default(200),
        leaseMs: z.number().int().min(1000).default(30_000),
        backoffBaseMs: z.number().int().min(1).default(1_000),
        backoffMaxMs: z.number().int().min(1).default(15 * 60_000),
        /** Finished jobs are kept this long (for `jobs list` and audits), then deleted. */
        retainDoneHours: z.number().min(1).default(168),
      })
      .strict()
      .default({ concurrency: 16, pollIntervalMs: 200, leaseMs: 30_000, backoffBaseMs: 1_000, backoffMaxMs: 900_000, retainDoneHours: 168 }),
    sandbox: z
      .object({
        /** Start the bundled ServiceNow / Microsoft / Azure sandbox in-process. */
        enabled: z.boolean().default(false),
        dataDir: z.string().optional(),
        servicenowPort: z.number().int().min(0).max(65535).default(0),
        microsoftPort: z.number().int().min(0).max(65535).default(0),
        azurePort: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .default({ enabled: false, servicenowPort: 0, microsoftPort: 0, azurePort: 0 }),
    servicenow: z.array(serviceNowInstance).default([]),
    microsoft: microsoftConnection.optional(),
    integrations: z.array(integration).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.server.apiToken && !isLoopback(c.server.host))
      ctx.addIssue({ code: 'custom', path: ['server', 'apiToken'], message: `required when server.host (${c.server.host}) is not a loopback address: the operator API under /api would be open to the network` });
    const names = new Set(c.servicenow.map((s) => s.name));
    c.integrations.forEach((i, n) => {
      if (typeof i.servicenow === 'string' && !names.has(i.servicenow))
        ctx.addIssue({ code: 'custom', path: ['integrations', n, 'servicenow'], message: `no servicenow instance named "${i.servicenow}"` });
    });
    const seen = new Set<string>();
    c.integrations.forEach((i, n) => {
      if (seen.has(i.name)) ctx.addIssue({ code: 'custom', path: ['integrations', n, 'name'], message: `duplicate integration name "${i.name}"` });
      seen.add(i.name);
    });
  });

export type Config = z.infer<typeof configSchema>;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
export { secretRef, serviceNowConnection, serviceNowInstance, microsoftConnection } from './common.ts';
export type { SecretRef } from './common.ts';
export type ServiceNowConnection = z.infer<typeof serviceNowConnection>;
export type MicrosoftConnection = z.infer<typeof microsoftConnection>;
