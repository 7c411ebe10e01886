/**
 * The IT agent: closes Ticketloop's entitlement tickets as they appear, through the ServiceNow
 * Table API, shrugging off whatever faults the sandbox injects (the next round tries again).
 * Also the final count of tickets by correlation id, read from the sandbox itself.
 */
import { sleep } from './http.ts';
import type { SandboxProcess } from './sandbox-proc.ts';

export const PREFIX = 'tl:entitlement:';

interface Row {
  sys_id: string;
  correlation_id: string;
  state: string;
}

export class Closer {
  closes = 0;
  errors = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly auth: string;

  constructor(
    private readonly sb: SandboxProcess,
    private readonly table = 'incident',
  ) {
    const { username, password } = sb.servicenow.itil;
    this.auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.round().catch(() => void this.errors++);
        await sleep(500);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** One pass: list open tickets, resolve each. Returns how many were still open. */
  async round(): Promise<number> {
    const q = encodeURIComponent(`correlation_idSTARTSWITH${PREFIX}^stateIN1,2,3`);
    const r = await this.sb.http.call(
      'GET',
      `${this.sb.servicenow.baseUrl}/api/now/table/${this.table}?sysparm_query=${q}&sysparm_fields=sys_id,correlation_id,state&sysparm_limit=400`,
      {
        headers: { authorization: this.auth },
        timeoutMs: 15_000,
      },
    );
    if (r.status !== 200) {
      this.errors++;
      return -1;
    }
    const rows = r.json<{ result: Row[] }>().result;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < rows.length && !this.stopped) {
          const row = rows[next++];
          try {
            const p = await this.sb.http.call(
              'PATCH',
              `${this.sb.servicenow.baseUrl}/api/now/table/${this.table}/${row.sys_id}`,
              {
                body: { state: '6', close_code: 'Solution provided', close_notes: 'Access provisioned (chaos closer)' },
                headers: { authorization: this.auth },
                timeoutMs: 15_000,
              },
            );
            if (p.status === 200) this.closes++;
            else this.errors++;
          } catch {
            this.errors++;
          }
        }
      }),
    );
    return rows.length;
  }
}

/** Every entitlement ticket in the sandbox (faults must be off): count, duplicates, resolved. */
export async function ticketCensus(
  sb: SandboxProcess,
  table = 'incident',
): Promise<{
  tickets: number;
  correlations: number;
  duplicated: number;
  resolved: number;
  byCorrelation: Map<string, number>;
}> {
  const q = encodeURIComponent(`correlation_idSTARTSWITH${PREFIX}`);
  const byCorrelation = new Map<string, number>();
  let tickets = 0;
  let resolved = 0;
  for (let offset = 0; ; offset += 2000) {
    const page = await sb.sn<{ result: Row[] }>(
      'GET',
      `/api/now/table/${table}?sysparm_query=${q}&sysparm_fields=sys_id,correlation_id,state&sysparm_limit=2000&sysparm_offset=${offset}&sysparm_no_count=true`,
    );
    for (const row of page.result) {
      tickets++;
      if (row.state === '6' || row.state === '7') resolved++;
      byCorrelation.set(row.correlation_id, (byCorrelation.get(row.correlation_id) ?? 0) + 1);
    }
    if (page.result.length < 2000) break;
  }
  const duplicated = [...byCorrelation.values()].filter((n) => n > 1).length;
  return { tickets, correlations: byCorrelation.size, duplicated, resolved, byCorrelation };
}

/** Resumes the Graph sandbox accepted, per request id. */
export async function resumeCensus(
  sb: SandboxProcess,
): Promise<{ accepted: number; rejected: number; requests: number; duplicated: number }> {
  const r = await sb.ms<{ accepted: number; rejected: number; value: { requestId: string; accepted: boolean }[] }>(
    'GET',
    '/_sandbox/graph/resumes',
  );
  const per = new Map<string, number>();
  for (const v of r.value) if (v.accepted) per.set(v.requestId, (per.get(v.requestId) ?? 0) + 1);
  return {
    accepted: r.accepted,
    rejected: r.rejected,
    requests: per.size,
    duplicated: [...per.values()].filter((n) => n > 1).length,
  };
}
