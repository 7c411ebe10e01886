import { join } from 'node:path';
import { ensureSandboxTls, type SandboxTls } from './shared/tls.ts';
import { OffsetClock } from './shared/clock.ts';
import { startServiceNowSandbox, type ServiceNowSandbox } from './servicenow/index.ts';
import { startMicrosoftSandbox, type MicrosoftSandbox } from './microsoft/index.ts';
import { ARM_AUDIENCES, startAzureSandbox, type AzureSandbox } from './azure/index.ts';
import { startChatSandbox, type ChatSandbox } from './chat/index.ts';

/**
 * All sandbox services together — ServiceNow, Microsoft (Entra + Graph), Azure (ARM) and the chat
 * webhook receiver (Teams, Slack) — on one CA and one movable clock, so a test or demo can move
 * time for every service at once.
 */
export interface SandboxOptions {
  dataDir: string;
  ports?: { servicenow?: number; microsoft?: number; azure?: number; chat?: number };
}

export interface Sandbox {
  tls: SandboxTls;
  clock: OffsetClock;
  servicenow: ServiceNowSandbox;
  microsoft: MicrosoftSandbox;
  azure: AzureSandbox;
  chat: ChatSandbox;
  close(): Promise<void>;
}

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const tls = ensureSandboxTls(join(o.dataDir, 'tls'));
  const clock = new OffsetClock();
  const servicenow = await startServiceNowSandbox({ dataDir: o.dataDir, tls, port: o.ports?.servicenow ?? 0, clock });
  const microsoft = await startMicrosoftSandbox({ dataDir: o.dataDir, tls, port: o.ports?.microsoft ?? 0, clock });
  const azure = await startAzureSandbox({
    dataDir: o.dataDir,
    tls,
    port: o.ports?.azure ?? 0,
    clock,
    tenant: { tenantId: microsoft.tenantId },
    verifyBearer: (token) => microsoft.entra.verifyAccessToken(token, { audience: [...ARM_AUDIENCES] }),
  });
  const chat = await startChatSandbox({ dataDir: o.dataDir, tls, port: o.ports?.chat ?? 0, clock });
  return {
    tls,
    clock,
    servicenow,
    microsoft,
    azure,
    chat,
    async close() {
      await Promise.allSettled([servicenow.close(), microsoft.close(), azure.close(), chat.close()]);
    },
  };
}

/** What a person (or another SDK) needs to point at the sandbox. */
export function describeSandbox(s: Sandbox): string {
  const sn = s.servicenow;
  const ms = s.microsoft;
  return [
    'Ticketloop sandbox',
    '',
    `  CA certificate      ${s.tls.caPath}   (NODE_EXTRA_CA_CERTS=${s.tls.caPath})`,
    '',
    `  ServiceNow          ${sn.baseUrl}            web UI: ${sn.baseUrl}/ui`,
    `    admin             ${sn.credentials.admin.username} / ${sn.credentials.admin.password}`,
    `    IT agent (itil)   ${sn.credentials.itil.username} / ${sn.credentials.itil.password}`,
    `    OAuth client      ${sn.credentials.oauth.clientId} / ${sn.credentials.oauth.clientSecret}   (POST ${sn.baseUrl}/oauth_token.do)`,
    `    API key           x-sn-apikey: ${sn.credentials.apiKey}`,
    `    faults            ${sn.baseUrl}/_sandbox/faults`,
    '',
    `  Microsoft (Entra + Graph) ${ms.baseUrl}`,
    `    tenant            ${ms.tenantId}`,
    `    token endpoint    ${ms.authorityHost}/${ms.tenantId}/oauth2/v2.0/token`,
    `    Graph             ${ms.graphUrl}/v1.0   ${ms.graphUrl}/beta`,
    `    app               ${ms.apps.ticketloop.clientId} / ${ms.apps.ticketloop.clientSecret}`,
    `    faults            ${ms.baseUrl}/_sandbox/faults`,
    '',
    `  Azure (ARM)         ${s.azure.baseUrl}`,
    `    faults            ${s.azure.baseUrl}/_sandbox/faults`,
    '',
    `  Chat webhooks       ${s.chat.baseUrl}`,
    `    Teams workflow    POST ${s.chat.baseUrl}/_sandbox/chat/teams/<hook>`,
    `    Slack             POST ${s.chat.baseUrl}/_sandbox/chat/slack/<hook>`,
    `    received          GET ${s.chat.baseUrl}/_sandbox/chat/messages?hook=<hook>`,
    `    faults            ${s.chat.baseUrl}/_sandbox/faults`,
    '',
    `  clock               POST <any base URL>/_sandbox/clock {"advanceMs": N} (shared by all four)`,
  ].join('\n');
}
