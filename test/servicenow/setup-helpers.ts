import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { systemClock } from '../../src/engine/clock.ts';
import { serviceNowInstance, type ServiceNowConnection } from '../../src/itsm/servicenow/config.ts';
import { verifyWebhookAuth } from '../../src/itsm/servicenow/webhook.ts';
import type { ItsmAdapterDeps } from '../../src/itsm/port.ts';
import { testTls, type Harness } from '../sandbox-servicenow/helpers.ts';
import { until } from '../helpers/wait.ts';

export { until };

/** A connection configuration for the sandbox, parsed as the config loader would (defaults applied). */
export function connection(h: Harness | { baseUrl: string }, extra: Record<string, unknown>): ServiceNowConnection {
  const instanceUrl = 'sn' in h ? h.sn.baseUrl : h.baseUrl;
  return serviceNowInstance.parse({ name: 'prod', instanceUrl, caFile: testTls().caPath, timeoutMs: 5_000, ...extra });
}

/** Adapter deps whose recorder keeps every outbound call, so tests can count writes. */
export function deps(): ItsmAdapterDeps & { calls: OutboundCall[]; writes(): OutboundCall[] } {
  const calls: OutboundCall[] = [];
  return {
    recorder: { record: (c) => calls.push(c) },
    clock: systemClock,
    registry: new Registry(),
    calls,
    writes: () => calls.filter((c) => c.method !== 'GET' && !c.url.includes('/oauth_token.do')),
  };
}

export interface Received {
  path: string;
  body: string;
  /** The signature verified with the secret, as Ticketloop's receiver does. */
  valid: boolean;
}

/** A small HTTP receiver standing in for Ticketloop's public endpoint. */
export async function receiver(secret: () => string): Promise<{ base: string; got: Received[]; close(): void }> {
  const got: Received[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const valid = verifyWebhookAuth({ type: 'hmac', secret: secret() }, req.headers, raw);
      got.push({ path: req.url ?? '', body: raw.toString('utf8'), valid });
      res.writeHead(valid ? 202 : 401).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    got,
    close: () => srv.close(),
  };
}
