import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';

/**
 * `ticketloop pod request|approve|reject|revoke|cancel|extend|list|show|report`: a client of the
 * running service's API (`--url`, `TICKETLOOP_URL`) with the caller's own token (`--token`,
 * `TICKETLOOP_TOKEN`; make one with `ticketloop tokens create`), so every role check and audit row
 * is the API's. Errors print the API's message, which names the field.
 */

interface ApiOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

class ApiError extends Error {}

function api(o: ApiOptions) {
  const base = (o.url ?? process.env.TICKETLOOP_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = o.token ?? process.env.TICKETLOOP_TOKEN;
  if (!token)
    throw new ApiError(
      'no token: pass --token or set TICKETLOOP_TOKEN (ticketloop tokens create <name> --role requester)',
    );
  return async (method: string, path: string, body?: unknown): Promise<{ json?: any; text: string }> => {
    let r: Response;
    try {
      r = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new ApiError(
        `cannot reach Ticketloop at ${base}: ${(e as Error).message} (is it running? --url / TICKETLOOP_URL)`,
      );
    }
    const text = await r.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!r.ok) throw new ApiError(json?.error?.message ?? `${r.status} ${text.slice(0, 200)}`);
    return { json, text };
  };
}

function identityOf(v: string): { type: 'user' | 'servicePrincipal'; id: string } {
  const [type, id] = v.includes(':') ? v.split(':', 2) : ['user', v];
  const t = type === 'sp' || type === 'servicePrincipal' ? 'servicePrincipal' : type === 'user' ? 'user' : undefined;
  if (!t || !id) throw new InvalidArgumentError('use user:<object id> or sp:<object id>');
  return { type: t, id };
}

const line = (r: any) =>
  [
    r.id,
    r.status.padEnd(13),
    `${r.permission}@${r.system}`,
    r.scope,
    r.grant?.expiresAt && r.status === 'granted' ? `until ${r.grant.expiresAt}` : '',
    r.requester,
  ]
    .filter(Boolean)
    .join('  ');

function describe(r: any): string {
  const approvals = r.approvals.map(
    (a: any) => `  ${a.decision} by ${a.actor} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`,
  );
  const grant = r.grant
    ? [
        `  granted ${r.grant.grantedAt ?? '-'}, expires ${r.grant.expiresAt}, ended ${r.grant.revokedAt ?? '-'}`,
        `  provider: ${r.grant.providerState ?? '-'}`,
      ]
    : [];
  return [
    line(r),
    `  for ${r.identity.type} ${r.identity.id}, ${r.duration}: ${r.justification}`,
    ...approvals,
    ...grant,
    ...(r.error ? [`  error: ${r.error}`] : []),
    `  note: ${r.revokeCaveat}`,
  ].join('\n');
}

export function registerPodCommands(cli: Command): void {
  const pod = cli
    .command('pod')
    .description('permissions on demand: request, approve, revoke and report time-bound cloud access');
  const withApi = (c: Command) =>
    c
      .option('--url <url>', 'Ticketloop base URL (default $TICKETLOOP_URL or http://127.0.0.1:8080)')
      .option('--token <token>', 'API token (default $TICKETLOOP_TOKEN)')
      .option('--json', 'print the API answer as JSON');
  const run =
    (work: (call: ReturnType<typeof api>, o: any, id: string) => Promise<string | undefined>) =>
    async (...args: any[]) => {
      const o = args.at(-2) as ApiOptions;
      try {
        const out = await work(api(o), o, encodeURIComponent(String(args[0])));
        if (out !== undefined) process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        process.stderr.write(`error: ${e.message}\n`);
        process.exitCode = 1;
      }
    };
  const show = (o: ApiOptions, r: { json?: any }) => (o.json ? JSON.stringify(r.json, null, 2) : describe(r.json));

  withApi(pod.command('request').description('ask for a permission for a time'))
    .requiredOption('--system <name>', 'authorization system (e.g. azure-prod)')
    .requiredOption('--permission <name>', 'permission on it (e.g. prod-reader)')
    .requiredOption('--identity <who>', 'user:<object id> or sp:<object id> (a workload identity)', identityOf)
    .option('--scope <scope>', 'where (default: the only allowed scope)')
    .option('--duration <iso>', 'e.g. PT1H (default: the policy default)')
    .option('--justification <text>', 'why')
    .option('--ticket <number>', 'ticket number, when the policy asks for one')
    .action(
      run(async (call, o) => {
        const body = {
          system: o.system,
          permission: o.permission,
          identity: o.identity,
          scope: o.scope,
          duration: o.duration,
          justification: o.justification,
          ticketNumber: o.ticket,
        };
        const r = await call('POST', '/api/pod/requests', body);
        return o.json ? JSON.stringify(r.json) : `request ${r.json.id}: ${r.json.status}`;
      }),
    );
  for (const verb of ['approve', 'reject', 'revoke'] as const)
    withApi(pod.command(`${verb} <id>`).description(`${verb} a request`))
      .option('--comment <text>', 'why', '')
      .action(
        run(async (call, o, id) =>
          show(
            o,
            await call('POST', `/api/pod/requests/${id}/${verb}`, {
              comment: o.comment,
            }),
          ),
        ),
      );
  withApi(pod.command('cancel <id>').description('withdraw a request still waiting for approval')).action(
    run(async (call, o, id) => show(o, await call('POST', `/api/pod/requests/${id}/cancel`))),
  );
  withApi(pod.command('extend <id>').description('extend an active grant'))
    .requiredOption('--duration <iso>', 'how much longer, e.g. PT1H')
    .action(
      run(async (call, o, id) =>
        show(
          o,
          await call('POST', `/api/pod/requests/${id}/extend`, {
            duration: o.duration,
          }),
        ),
      ),
    );
  withApi(pod.command('show <id>').description('one request: approvals, grant, provider state')).action(
    run(async (call, o, id) => show(o, await call('GET', `/api/pod/requests/${id}`))),
  );
  withApi(pod.command('list').description('requests: yours, your approvals inbox, or all (read roles)'))
    .option('--view <view>', 'mine | inbox | all', 'mine')
    .option('--status <status>', 'only this status')
    .action(
      run(async (call, o) => {
        const q = new URLSearchParams({ view: o.view, ...(o.status ? { status: o.status } : {}) });
        const r = await call('GET', `/api/pod/requests?${q}`);
        if (o.json) return JSON.stringify(r.json, null, 2);
        return r.json.items.length ? r.json.items.map(line).join('\n') : 'no requests';
      }),
    );
  withApi(pod.command('report').description('who had which permission where, when, approved by whom (CSV)'))
    .requiredOption('--from <time>', 'ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z')
    .requiredOption('--to <time>', 'ISO 8601 date-time')
    .option('--out <file>', 'write the CSV here instead of stdout')
    .action(
      run(async (call, o) => {
        const r = await call('GET', `/api/pod/report.csv?${new URLSearchParams({ from: o.from, to: o.to })}`);
        if (!o.out) return r.text;
        writeFileSync(o.out, r.text);
        return `${r.text.trim().split('\n').length - 1} grant(s) written to ${o.out}`;
      }),
    );
}
