import { join } from 'node:path';
import { OffsetClock, registerClock } from '../shared/clock.ts';
import { Faults, registerFaults } from '../shared/faults.ts';
import { DocStore } from '../shared/persist.ts';
import { createSandboxServer, listen } from '../shared/server.ts';
import type { SandboxTls } from '../shared/tls.ts';
import { registerAdmin } from './admin.ts';
import { ApprovalRollUp } from './approvals.ts';
import { Auth } from './auth.ts';
import { registerCatalogApi } from './catalog.ts';
import { loadSeedSet, type SeedResult, type SeedSet } from './demo.ts';
import { Formatter } from './format.ts';
import { registerKnowledgeApi } from './knowledge.ts';
import { RATE_RULE_SYS_ID, RateLimiter, rateLimitBody } from './ratelimit.ts';
import { Records } from './records.ts';
import { Roles } from './roles.ts';
import { registerErrorHandling, registerTableApi, type SnContext } from './routes.ts';
import { BusinessRules } from './rules.ts';
import { DEMO, demoRolesOf, seedDemoData } from './seed.ts';
import { Settings } from './settings.ts';
import { TableStore } from './store.ts';
import { registerUi } from './ui.ts';
import { Vault } from './vault.ts';
import { Webhooks } from './webhooks.ts';

/**
 * A ServiceNow-compatible instance for development, demos and contract tests: Table API,
 * OAuth/Basic/API-key auth, roles and ACLs, rate limiting, business-rule webhooks (configured
 * through /_sandbox, or installed as Ticketloop's sys_script rule) and a small agent web UI at /ui.
 * Behaviour follows the wire-format fact sheet §1; see WEBHOOKS.md for the outbound contract.
 */
export interface ServiceNowSandboxOptions {
  /** State file: `${dataDir}/servicenow.db`. */
  dataDir: string;
  tls: SandboxTls;
  /** 0 = any free port. */
  port?: number;
  clock?: OffsetClock;
  /**
   * Default true: demo users, groups and sys_choice rows. False: only the credential accounts (and
   * their roles). Demo *records* (incidents, requests, articles) load only through `seed()`.
   */
  seedDemoData?: boolean;
}

export interface Credential {
  username: string;
  password: string;
}

export interface ServiceNowSandbox {
  /** https://localhost:PORT — the "instance URL". */
  baseUrl: string;
  faults: Faults;
  clock: OffsetClock;
  credentials: {
    admin: Credential;
    itil: Credential;
    readonly: Credential;
    /** `userName`: the OAuth application user the client_credentials grant acts as. */
    oauth: { clientId: string; clientSecret: string; userName: string };
    apiKey: string;
  };
  /** Load a seed set (demo.ts): idempotent, persisted; returns the rows inserted per table. */
  seed(set: SeedSet): SeedResult;
  close(): Promise<void>;
}

export async function startServiceNowSandbox(o: ServiceNowSandboxOptions): Promise<ServiceNowSandbox> {
  const clock = o.clock ?? new OffsetClock();
  const docs = new DocStore(join(o.dataDir, 'servicenow.db'));
  const store = new TableStore(docs);
  const settings = new Settings(docs);
  const fmt = new Formatter(store, '');
  const vault = new Vault(docs);
  const records = new Records(store, clock, fmt, vault);
  const roles = new Roles(store);
  const auth = new Auth(docs, store, clock, settings, roles);
  seedDemoData(store, records, o.seedDemoData ?? true, (u, p) => auth.setPassword(u, p));
  roles.seed(records, demoRolesOf);

  const faults = new Faults();
  const webhooks = new Webhooks(settings, fmt, faults, clock, o.tls.ca);
  records.listeners.push(
    roles.onChange,
    webhooks.onChange,
    new BusinessRules(store, vault, webhooks).onChange,
    new ApprovalRollUp(store, () => records).onChange,
  );

  const app = createSandboxServer(o.tls);
  const ctx: SnContext = {
    baseUrl: '',
    store,
    records,
    fmt,
    auth,
    settings,
    limiter: new RateLimiter(settings, clock),
    clock,
  };
  registerErrorHandling(app);
  registerFaults(app, faults, {
    error: (status) => ({
      error: {
        message: status >= 500 ? 'Internal Server Error' : 'Bad Request',
        detail: `Injected fault (HTTP ${status})`,
      },
      status: 'failure',
    }),
    tooManyRequests: () => rateLimitBody(settings.value.rateLimit.requestsPerHour || 100),
    rateLimitHeaders: (retryAfter) => ({
      'X-RateLimit-Limit': String(settings.value.rateLimit.requestsPerHour || 100),
      'X-RateLimit-Reset': String(Math.floor(clock.now() / 1000) + retryAfter),
      'X-RateLimit-Rule': RATE_RULE_SYS_ID,
    }),
  });
  registerClock(app, clock);
  auth.register(app);
  registerTableApi(app, ctx);
  registerCatalogApi(app, ctx);
  registerKnowledgeApi(app, ctx);
  registerAdmin(app, ctx, webhooks);
  registerUi(app, ctx);

  let baseUrl: string;
  try {
    baseUrl = await listen(app, o.port ?? 0);
  } catch (err) {
    docs.close();
    throw err;
  }
  ctx.baseUrl = baseUrl;
  fmt.baseUrl = baseUrl;

  return {
    baseUrl,
    faults,
    clock,
    credentials: {
      admin: { ...DEMO.admin },
      itil: { ...DEMO.itil },
      readonly: { ...DEMO.readonly },
      oauth: { ...DEMO.oauth, userName: DEMO.integration.username },
      apiKey: DEMO.apiKey,
    },
    seed: (set) => loadSeedSet(set, store, records),
    async close() {
      await webhooks.close();
      await app.close();
      docs.close();
    },
  };
}
