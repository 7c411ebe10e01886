import { GRAPH_SCOPE } from '../connectors/microsoft/graph.ts';
import { diagnoseMicrosoft } from '../connectors/microsoft/diagnose.ts';
import type { Ticketloop } from './build.ts';
import type { CheckResult } from './checks.ts';
import type { FlowModule } from './module.ts';

/**
 * Connection checks: every configured ITSM connection (its own checkSetup), the Microsoft sign-in,
 * then each flow's "Test setup" (the permissions its enabled integrations need). `ticketloop
 * doctor` prints them; `ticketloop start` runs them once in the background, logs one warning line
 * per problem and lists the failing connections as degraded on /readyz.
 */

/** What the flows' checks may rely on. */
export interface CheckContext {
  /** The Microsoft app could sign in (its failure is reported once, by the core). */
  microsoftSignedIn: boolean;
}

const CHECK_TIMEOUT_MS = 20_000;

async function bounded(target: string, check: string, run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(
      () =>
        resolve([
          {
            target,
            check,
            ok: false,
            detail: `no answer within ${CHECK_TIMEOUT_MS / 1000} s`,
            fix: 'check that this host can reach it (proxy, firewall) and that it is up',
          },
        ]),
      CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([
      run().catch((e: Error) => [{ target, check, ok: false, detail: e.message, fix: 'see the log for details' }]),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function microsoftSignIn(app: Ticketloop): Promise<CheckResult[]> {
  const ms = app.connections.microsoft();
  const target = `Microsoft tenant ${ms.config.tenantId}`;
  try {
    await ms.tokens.getToken(GRAPH_SCOPE);
    return [{ target, check: 'sign-in', ok: true, detail: `app ${ms.config.clientId} signed in` }];
  } catch (e) {
    return [{ target, check: 'sign-in', ok: false, ...diagnoseMicrosoft(e, ms.config) }];
  }
}

export async function runChecks(app: Ticketloop, flows: FlowModule[]): Promise<CheckResult[]> {
  const itsm = app.config.itsm.map((c) =>
    bounded(`${c.type} ${c.name}`, 'connection', () => app.connections.itsm(c.name).checkSetup()),
  );
  const signIn = app.config.microsoft ? await bounded('Microsoft', 'sign-in', () => microsoftSignIn(app)) : [];
  const ctx: CheckContext = { microsoftSignedIn: signIn.length > 0 && signIn.every((r) => r.ok) };
  const flowChecks = flows.flatMap((m) => (m.checks ? [bounded(m.name, 'test setup', () => m.checks!(app, ctx))] : []));
  const rest = await Promise.all([...itsm, ...flowChecks]);
  return [...signIn, ...rest.flat()];
}

/** The last start-up (or on-demand) check, for /readyz. */
export class ConnectionHealth {
  private results: CheckResult[] | undefined;

  record(results: CheckResult[]): void {
    this.results = results;
  }

  /** `target: check` of each failure; undefined until a check has run. */
  degraded(): string[] | undefined {
    return this.results?.filter((r) => !r.ok).map((r) => `${r.target}: ${r.check}`);
  }
}

/** One line per finding, for the terminal: ✓/✗ target — check: detail, then the fix. */
export function formatChecks(results: CheckResult[]): string {
  return results
    .map((r) => {
      const head = `${r.ok ? '✓' : '✗'} ${r.target} — ${r.check}: ${r.detail}`;
      return r.ok || !r.fix ? head : `${head}\n    fix: ${r.fix}`;
    })
    .join('\n');
}
