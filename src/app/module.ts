import type { IntegrationSchemaPart } from '../config/schema.ts';
import type { JobHandler } from '../engine/engine.ts';
import type { Flow } from '../engine/flow.ts';
import type { Migrations } from '../store/migrations.ts';
import type { Ticketloop } from './build.ts';
import type { CheckResult, SetupStep } from './checks.ts';
import type { CheckContext } from './doctor.ts';

/**
 * The module contract. A flow is a folder `src/flows/<name>/` whose `module.ts` exports one
 * FlowModule; adding a flow adds that folder and one line in app/registry.ts, nothing else in the
 * core. The core builds the configuration schema from `integration`, runs `migrations` with its
 * own, registers `flow` with `effects` in the engine, then calls `register` for routes, schedules,
 * metrics and ticket kinds to watch. The demo is imported only by `ticketloop demo`. Its console
 * pages are browser code, so they live in console/src/flows/<name>/ (listed by this `name` in
 * console/src/flows/registry.ts) and show when GET /api/flows reports an integration of the flow.
 */
export interface FlowModule {
  /** The flow's name: its items are `<name>/<id>`, its jobs `<name>.<effect>`. */
  name: string;
  /** The pure decisions. */
  flow: Flow<any, any>;
  /** The `integrations[]` entry this flow reads (`type` and its fields). */
  integration?: IntegrationSchemaPart;
  /** Its tables. */
  migrations?: Migrations;
  /** Job handlers by name; the job kind is `<name>.<handler>`. */
  effects(app: Ticketloop): Record<string, JobHandler>;
  /** Routes, schedules, metrics, ticket kinds to watch. Runs after every flow's effects are registered. */
  register?(app: Ticketloop): Promise<void> | void;
  /** "Test setup": what its enabled integrations need of their connections (permissions, scopes, SMTP). */
  checks?(app: Ticketloop, ctx: CheckContext): Promise<CheckResult[]>;
  /** `ticketloop setup <name>`: create in the tenant (and the configuration file) what the flow needs. */
  setup?: SetupCommand;
  /** The walk-through against the sandbox, imported lazily. */
  demo?(): Promise<FlowDemo>;
}

/** A flow's setup command: its options (commander flags) and the steps it takes. */
export interface SetupCommand {
  description: string;
  options: { flags: string; description: string; default?: string; required?: boolean }[];
  run(app: Ticketloop, options: Record<string, any>, ctx: SetupContext): Promise<SetupStep[]>;
}

export interface SetupContext {
  /** Show what would change, change nothing. */
  dryRun: boolean;
  /** Add or update an `integrations[]` entry in the configuration file (comments kept). */
  recordIntegration(entry: Record<string, unknown> & { name: string }): Promise<SetupStep>;
  /** Verify the ITSM connection and install what it needs for these ticket kinds (`setup <itsm>`). */
  setupItsm(connection: string, kinds: string[]): Promise<SetupStep[]>;
  /** A line of output (the preview of what a loop would do). */
  say(text: string): void;
  /** Set a top-level section of the configuration file (`microsoft`, or a `servicenow` entry by name). */
  recordSection?(key: string, value: Record<string, unknown>, o?: { listBy?: string }): Promise<SetupStep>;
  /** Run `fn` on an app built from the configuration file as it is now (after what setup wrote). */
  withReloadedApp?<T>(fn: (app: Ticketloop) => Promise<T>): Promise<T>;
  /** Ask the person at the terminal (interactive runs only; undefined otherwise). A secret is not echoed. */
  ask?(question: string, o?: { secret?: boolean; default?: string }): Promise<string>;
}

export interface FlowDemo {
  /** Integration entries (raw configuration) the demo adds, pointed at the sandbox. */
  integrations(sandbox: DemoSandbox): Record<string, unknown>[];
  /** Walk through the loop step by step. */
  run(ctx: DemoContext): Promise<void>;
}

/** What a demo needs of the running sandbox (sandbox/index.ts's Sandbox fits it). */
export interface DemoSandbox {
  tls: { ca: string; caPath: string };
  servicenow: {
    baseUrl: string;
    credentials: {
      itil: { username: string; password: string };
      oauth: { clientId: string; clientSecret: string; userName: string };
    };
  };
  microsoft: {
    baseUrl: string;
    authorityHost: string;
    graphUrl: string;
    tenantId: string;
    apps: { ticketloop: { clientId: string; clientSecret: string } };
    /** Directory groups (`Ticketloop Admins`, …) the demo maps to roles for sign-in. */
    groups: { id: string; displayName: string }[];
  };
  azure: {
    baseUrl: string;
    /** The seeded demo tenant: a production subscription with a VM missing system updates. */
    demo: { prodSubscription: string; vm: string; systemUpdates: string };
  };
}

export interface DemoContext {
  app: Ticketloop;
  sandbox: DemoSandbox;
  /** Ticketloop's own base URL (callouts and webhooks arrive here). */
  url: string;
  auto: boolean;
  step(text: string): void;
  /** A detail line under the current step. */
  say(text: string): void;
}
