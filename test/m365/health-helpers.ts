import { startHarness, type Harness } from '../microsoft/helpers.ts';
import { EntraTokenSource } from '../../src/connectors/microsoft/identity.ts';
import { GRAPH_SCOPE, GraphClient } from '../../src/connectors/microsoft/graph.ts';
import type { OutboundCall } from '../../src/connectors/http.ts';
import { ServiceHealthClient } from '../../src/connectors/microsoft/service-health.ts';

/** The Microsoft sandbox, and the wire client on the Ticketloop app's own credentials (both roles by default). */
export interface HealthSetup {
  h: Harness;
  graph: GraphClient;
  client: ServiceHealthClient;
  /** Every outbound Graph call the client made. */
  calls: OutboundCall[];
}

export const ROOT = '/v1.0/admin/serviceAnnouncement';

export async function withHealth(fn: (s: HealthSetup) => Promise<void>): Promise<void> {
  const h = await startHarness();
  const tokens = new EntraTokenSource({
    authorityHost: h.sb.authorityHost,
    tenantId: h.sb.tenantId,
    clientId: h.sb.apps.ticketloop.clientId,
    clientSecret: h.sb.apps.ticketloop.clientSecret,
    ca: h.tls.ca,
  });
  const calls: OutboundCall[] = [];
  const graph = new GraphClient({
    graphUrl: h.sb.graphUrl,
    auth: tokens.authProvider(GRAPH_SCOPE),
    ca: h.tls.ca,
    recorder: { record: (c) => calls.push(c) },
  });
  try {
    await fn({ h, graph, client: new ServiceHealthClient(graph), calls });
  } finally {
    await graph.close();
    await tokens.close();
    await h.close();
  }
}

/** A Graph GET with a bearer token for the Ticketloop app. */
export async function graphGet(h: Harness, path: string, headers: Record<string, string> = {}) {
  const token = await h.token();
  return h.call('GET', path, { headers: { authorization: `Bearer ${token}`, ...headers } });
}

/** Add an issue through the control endpoint; fails the test when the sandbox refuses. */
export async function addIssue(h: Harness, issue: Record<string, unknown>) {
  const r = await h.call('POST', '/_sandbox/m365/issues', { json: issue });
  if (r.status !== 201) throw new Error(`add issue: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function addPost(h: Harness, id: string, post: Record<string, unknown>) {
  const r = await h.call('POST', `/_sandbox/m365/issues/${id}/posts`, { json: post });
  if (r.status !== 201) throw new Error(`add post: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
