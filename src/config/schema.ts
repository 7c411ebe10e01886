import { z } from 'zod';
import { ENGINE_DEFAULTS } from '../engine/defaults.ts';
import { identityConfig } from '../identity/config.ts';
import { microsoftConnection, secretRef } from './common.ts';

/**
 * The configuration schema, built from the registered modules (app/config.ts): the core's keys,
 * one list of named connections per ITSM adapter (`servicenow: [...]`), and `integrations[]`,
 * told apart by `type`, each entry's schema owned by its flow. Every error names its path, e.g.
 * `integrations[0].servicenow.instanceUrl: must be an https URL`.
 */

/** What an ITSM adapter module contributes: a configuration key and the schema of one connection. */
export interface ConnectionSchemaPart {
  configKey: string;
  connectionSchema: z.ZodObject<any>;
}

/** What a flow module contributes: its `type` and the fields of its integration entries. */
export interface IntegrationSchemaPart {
  type: string;
  shape: z.ZodRawShape;
}

/** Fields every integration has once validated: the ITSM connection it uses is always `itsm`. */
export interface IntegrationConfig {
  name: string;
  type: string;
  enabled: boolean;
  /** The name of an ITSM connection (of any adapter). */
  itsm: string;
  [key: string]: unknown;
}

/** A flow's integration entry, typed from its shape. */
export type Integration<S extends z.ZodRawShape> = Omit<z.infer<z.ZodObject<S>>, 'itsm'> & IntegrationConfig;

/** One ITSM connection; `type` is the adapter's configuration key. */
export interface ItsmConnectionConfig {
  type: string;
  name: string;
  [key: string]: unknown;
}

const coreShape = {
  dataDir: z.string().default('./data'),
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(50 * 1024 * 1024)
        .default(1024 * 1024),
      /** The whole request (headers and body) must arrive within this; slower clients get 408 and are cut off. */
      requestTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
      /** A socket silent this long (in either direction, e.g. a client that stops reading) is closed. */
      connectionTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
      /** An idle keep-alive connection is closed after this: longer than a fronting proxy's idle timeout (often 60 s). */
      keepAliveTimeoutMs: z.number().int().min(1000).max(600_000).default(72_000),
      /** Where Entra and the ITSM reach Ticketloop (custom extension target, webhook URL); used by `ticketloop setup`. */
      publicUrl: z
        .url({ protocol: /^https?$/ })
        .transform((u) => u.replace(/\/+$/, ''))
        .optional(),
      /**
       * Deprecated: one shared bearer token for `/api/…`, accepted as a service token with the admin
       * role (actor `token:server.apiToken`). Use `ticketloop tokens create <name> --role …` instead.
       */
      apiToken: secretRef.optional(),
      /**
       * Behind a reverse proxy: `true` (trust every hop) or the proxies' addresses (CIDR allowed). The
       * client address then comes from X-Forwarded-For: sign-in limits and audit use it.
       */
      trustProxy: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
    })
    .strict()
    .prefault({}),
  database: z
    .object({
      url: z
        .string()
        .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL')
        .optional(),
      poolSize: z.number().int().min(1).max(100).default(10),
    })
    .strict()
    .prefault({}),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .strict()
    .prefault({}),
  engine: z
    .object({
      concurrency: z.number().int().min(1).max(512).default(ENGINE_DEFAULTS.concurrency),
      pollIntervalMs: z.number().int().min(5).default(ENGINE_DEFAULTS.pollIntervalMs),
      leaseMs: z.number().int().min(1000).default(ENGINE_DEFAULTS.leaseMs),
      backoffBaseMs: z.number().int().min(1).default(ENGINE_DEFAULTS.backoffBaseMs),
      backoffMaxMs: z.number().int().min(1).default(ENGINE_DEFAULTS.backoffMaxMs),
      /** Finished jobs are kept this long (for `jobs list` and audits), then deleted. */
      retainDoneHours: z
        .number()
        .min(1)
        .default(ENGINE_DEFAULTS.retainDoneMs / 3_600_000),
    })
    .strict()
    .prefault({}),
  sandbox: z
    .object({
      dataDir: z.string().optional(),
      servicenowPort: z.number().int().min(0).max(65535).default(0),
      microsoftPort: z.number().int().min(0).max(65535).default(0),
      azurePort: z.number().int().min(0).max(65535).default(0),
    })
    .strict()
    .prefault({}),
  microsoft: microsoftConnection.optional(),
  audit: z
    .object({
      /** Signed checkpoints of the audit chain, outside the database (store/checkpoints.ts). */
      checkpoints: z
        .object({
          /** Append to dataDir/audit-checkpoints.log. */
          file: z.boolean().default(true),
          /** Also write each as one JSON line to standard output, for log shipping. */
          stdout: z.boolean().default(false),
          everySeconds: z.number().int().min(1).max(86_400).default(60),
        })
        .strict()
        .prefault({}),
    })
    .strict()
    .prefault({}),
  outbound: z
    .object({
      /**
       * Hosts that connections named over the API (not in this file) may reach: `host`, `host:port`
       * or `*.domain`. Default: the hosts of the connections configured in this file.
       */
      allowHosts: z.array(z.string().min(1)).optional(),
    })
    .strict()
    .prefault({}),
  /** Users, sessions, API tokens and sign-in (src/identity/, docs/identity.md). */
  identity: identityConfig.prefault({}),
};

export type CoreConfig = z.infer<z.ZodObject<typeof coreShape>>;
export type Config = CoreConfig & { itsm: ItsmConnectionConfig[]; integrations: IntegrationConfig[] };
export type MicrosoftConnection = z.infer<typeof microsoftConnection>;

/** One flow's integration entry; the API validates integrations created there with it too. */
export function integrationSchema(part: IntegrationSchemaPart, connections: ConnectionSchemaPart[]) {
  const refs = Object.fromEntries(
    connections.map((c) => [
      c.configKey,
      z.union([z.string().min(1), c.connectionSchema.omit({ name: true })]).optional(),
    ]),
  );
  return z
    .object({
      name: z.string().min(1),
      type: z.literal(part.type),
      enabled: z.boolean().default(true),
      /** The ITSM connection by name; `<adapter key>: name | {inline connection}` is accepted too. */
      itsm: z.string().min(1).optional(),
      ...refs,
      ...part.shape,
    })
    .strict();
}

export function buildConfigSchema(
  connections: ConnectionSchemaPart[],
  flows: IntegrationSchemaPart[],
): z.ZodType<Config> {
  const entries = flows.map((f) => integrationSchema(f, connections));
  const integration = entries.length >= 2 ? z.discriminatedUnion('type', entries as any) : (entries[0] ?? z.never());
  const lists = Object.fromEntries(connections.map((c) => [c.configKey, z.array(c.connectionSchema).default([])]));
  // The neutral form `itsm: [{type: 'servicenow', name, …}]`, which is also what validation produces,
  // so a validated configuration validates again unchanged.
  const typed = connections.map((c) => c.connectionSchema.extend({ type: z.literal(c.configKey) }).strict());
  const anyConnection = typed.length >= 2 ? z.discriminatedUnion('type', typed as any) : (typed[0] ?? z.never());
  return z
    .object({
      ...coreShape,
      ...lists,
      itsm: z.array(anyConnection).default([]),
      integrations: z.array(integration).default([]),
    })
    .strict()
    .superRefine((raw: Record<string, any>, ctx) => {
      const names = new Set<string>();
      (raw.itsm as { name: string }[]).forEach((conn, n) => {
        if (names.has(conn.name))
          ctx.addIssue({
            code: 'custom',
            path: ['itsm', n, 'name'],
            message: `duplicate connection name "${conn.name}"`,
          });
        names.add(conn.name);
      });
      for (const c of connections) {
        (raw[c.configKey] as { name: string }[]).forEach((conn, n) => {
          if (names.has(conn.name))
            ctx.addIssue({
              code: 'custom',
              path: [c.configKey, n, 'name'],
              message: `duplicate connection name "${conn.name}"`,
            });
          names.add(conn.name);
        });
      }
      const seen = new Set<string>();
      (raw.integrations as Record<string, unknown>[]).forEach((i, n) => {
        if (seen.has(i.name as string))
          ctx.addIssue({
            code: 'custom',
            path: ['integrations', n, 'name'],
            message: `duplicate integration name "${i.name}"`,
          });
        seen.add(i.name as string);
        const given = ['itsm', ...connections.map((c) => c.configKey)].filter((k) => i[k] !== undefined);
        if (given.length !== 1) {
          const keys = ['itsm', ...connections.map((c) => c.configKey)].join(', ');
          ctx.addIssue({
            code: 'custom',
            path: ['integrations', n, given[1] ?? 'itsm'],
            message: given.length ? `give one of ${keys}, not several` : `required: the ITSM connection (${keys})`,
          });
          return;
        }
        const ref = i[given[0]];
        if (typeof ref === 'string' && !names.has(ref))
          ctx.addIssue({
            code: 'custom',
            path: ['integrations', n, given[0]],
            message: `no ITSM connection named "${ref}"`,
          });
      });
    })
    .transform((raw: Record<string, any>): Config => {
      const itsm: ItsmConnectionConfig[] = [
        ...(raw.itsm as ItsmConnectionConfig[]),
        ...connections.flatMap((c) =>
          (raw[c.configKey] as { name: string }[]).map((conn) => ({ type: c.configKey, ...conn })),
        ),
      ];
      const integrations = (raw.integrations as Record<string, unknown>[]).map((entry) => {
        const i = { ...entry } as IntegrationConfig;
        for (const c of connections) {
          const ref = i[c.configKey];
          delete i[c.configKey];
          if (typeof ref === 'string') i.itsm = ref;
          else if (ref) {
            // An inline connection becomes a named one, so everything downstream sees names only.
            i.itsm = `inline:${i.name}`;
            itsm.push({ type: c.configKey, name: i.itsm, ...(ref as object) });
          }
        }
        return i;
      });
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(coreShape)) out[k] = raw[k];
      return { ...(out as CoreConfig), itsm, integrations };
    }) as unknown as z.ZodType<Config>;
}
