/**
 * Load generation in its OWN process (autocannon), so the system under test never shares an event
 * loop with the client. Loopback targets only; bounded by duration and an optional request count.
 *
 *   child: node --import tsx bench/harness/load.ts '<LoadSpec JSON>'   → prints one LoadResult JSON line
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  /** JSON body; `__UUID__` becomes one fresh GUID per request (every occurrence the same: distinct stage instance ids). */
  bodyTemplate: string;
  connections: number;
  durationS: number;
  timeoutS?: number;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx answers per second over the run. */
  rps: number;
  p50: number;
  p99: number;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const host = new URL(spec.url).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host))
    throw new Error(`load only goes to loopback, not ${host}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line) return reject(new Error(`load generator exited (${code}): ${out.slice(-500)}`));
      resolve(JSON.parse(line) as LoadResult);
    });
  });
}

async function child(spec: LoadSpec): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon'); // CommonJS, no bundled types
  const parts = spec.bodyTemplate.split('__UUID__');
  const result = await autocannon({
    url: spec.url,
    method: 'POST',
    connections: spec.connections,
    duration: spec.durationS,
    timeout: spec.timeoutS ?? 30,
    headers: { 'content-type': 'application/json', ...spec.headers },
    requests: [
      {
        method: 'POST',
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: parts.join(randomUUID()) }),
      },
    ],
  } as never);
  const r = result as unknown as {
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
    duration: number;
    latency: { p50: number; p99: number };
  };
  const out: LoadResult = {
    connections: spec.connections,
    durationS: r.duration,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    rps: Math.round(r['2xx'] / r.duration),
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (import.meta.filename === process.argv[1]) await child(JSON.parse(process.argv[2]) as LoadSpec);
