import { z } from 'zod';
import type { CheckResult } from '../../app/checks.ts';
import { HttpProblem } from '../../http/server.ts';
import { integrationChecks } from './checks.ts';
import type { Deps } from './effects.ts';
import { FLOW, type ItemState } from './flow.ts';
import { finishedStats } from './reconcile.ts';
import { defenderDb } from './tables.ts';

/**
 * What the console shows on an integration's page besides its settings: the reconcile pass under
 * way (its figures so far, rewritten by the pass after each page), what deleting it would do (the
 * cascade of cleanup.ts, counted), and "test the connection" for this integration alone.
 */

const figures = z.record(z.string(), z.unknown());
const reconcileState = z.object({
  /** running: a pass is under way; queued: one waits for a worker; idle: neither. */
  state: z.enum(['idle', 'queued', 'running']),
  /** The running pass's figures so far (pages, assessments, unhealthy, attached, healed, startedAt…). */
  current: figures.nullable(),
  last: figures.nullable(),
});
const cascade = z.object({
  /** Tracked unhealthy assessments: their rows are dropped. */
  assessments: z.number(),
  /** Governance assignments Ticketloop wrote into Defender: each is deleted. */
  governanceAssignments: z.number(),
  /** Open tickets: each gets a closing note and is no longer tracked (left open in the ITSM). */
  openTickets: z.number(),
  /** Items (tickets, open or not) that are marked deleted. */
  items: z.number(),
});
const checkResult = z.object({
  target: z.string(),
  check: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  fix: z.string().optional(),
});

export function registerIntegrationStatusRoutes(d: Deps): void {
  const app = d.app.http;
  const db = defenderDb(d.app.store.db);
  const tags = ['defender'];
  const params = z.object({ name: z.string().min(1).max(64) });
  const existing = (name: string) => {
    const i = d.integrations.get(name);
    if (!i) throw new HttpProblem(404, 'not_found', `no defender integration named "${name}"`);
    return i;
  };

  app.get(
    '/api/defender/integrations/:name/reconcile',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'The reconcile pass under way (figures so far) and the last finished one',
        params,
        response: { 200: reconcileState },
      },
    },
    async (req) => {
      const { name } = req.params;
      existing(name);
      const jobs = await db
        .selectFrom('jobs')
        .select(['state', 'payload', 'run_at'])
        .where('kind', '=', 'defender.reconcile')
        .where('state', 'in', ['ready', 'running'])
        .execute();
      const mine = jobs.filter((j) => (JSON.parse(j.payload) as { integration?: string }).integration === name);
      const now = d.app.clock.now();
      const state: z.infer<typeof reconcileState>['state'] = mine.some((j) => j.state === 'running')
        ? 'running'
        : mine.some((j) => Number(j.run_at) <= now)
          ? 'queued'
          : 'idle';
      const row = await db
        .selectFrom('defender_pass')
        .select('last_stats')
        .where('integration', '=', name)
        .executeTakeFirst();
      const stored = row?.last_stats ? (JSON.parse(row.last_stats) as { current?: Record<string, unknown> }) : {};
      // A pass that died half-way leaves its figures behind: shown only while its job runs.
      const current = state === 'running' ? (stored.current ?? null) : null;
      return { state, current, last: finishedStats(row?.last_stats ?? null) };
    },
  );

  app.get(
    '/api/defender/integrations/:name/cascade',
    {
      config: { role: 'read' },
      schema: {
        tags,
        summary: 'What deleting this integration would do: rows, governance assignments, tickets',
        params,
        response: { 200: cascade },
      },
    },
    async (req) => {
      const { name } = req.params;
      existing(name);
      const counts = await db
        .selectFrom('defender_assessment')
        .select((eb) => [eb.fn.countAll().as('n'), eb.fn.count('governed_ticket').as('governed')])
        .where('integration', '=', name)
        .executeTakeFirstOrThrow();
      // Item ids are `<integration>:<…>`; a `_` in the name is a LIKE wildcard, hence the prefix check.
      const prefix = `${name}:`;
      const items = (
        await db
          .selectFrom('flow_state')
          .select(['id', 'state'])
          .where('flow', '=', FLOW)
          .where('id', 'like', `${prefix}%`)
          .execute()
      ).filter((r) => r.id.startsWith(prefix));
      const open = items.filter((r) => (JSON.parse(r.state) as ItemState).ticket?.status === 'open').length;
      return {
        assessments: Number(counts.n),
        governanceAssignments: Number(counts.governed),
        openTickets: open,
        items: items.length,
      };
    },
  );

  app.post(
    '/api/defender/integrations/:name/check',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Test the connection: its ITSM connection, reading its scope in Defender, its SMTP server',
        params,
        response: { 200: z.object({ results: z.array(checkResult) }) },
      },
    },
    async (req) => {
      const i = existing(req.params.name);
      const target = `ITSM ${i.itsm}`;
      const itsm = await d.app.connections
        .itsm(i.itsm)
        .checkSetup()
        .catch((e: Error): CheckResult[] => [{ target, check: 'connection', ok: false, detail: e.message }]);
      // A failed sign-in shows in the scope read, explained by diagnoseMicrosoft.
      const own = await integrationChecks(d.app, i, { microsoftSignedIn: true });
      return { results: [...itsm, ...own] };
    },
  );
}
