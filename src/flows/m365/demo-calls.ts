import { Agent, request } from 'undici';
import type { DemoContext } from '../../app/module.ts';

/**
 * The HTTP calls the Microsoft 365 walk-through makes as the people in it: Microsoft (the sandbox's
 * control endpoints), the service desk in ServiceNow (the sandbox instance's Table API, as its IT
 * support account) and an agent answering in Ticketloop (its API, with a short-lived personal token).
 */

/** A JSON call (the sandbox's CA trusted), the answer parsed; anything but 2xx throws with the answer. */
export async function call(ctx: DemoContext, url: string, method: string, body?: unknown, auth?: string) {
  const agent = new Agent({ connect: { ca: ctx.sandbox.tls.ca } });
  try {
    const r = await request(url, {
      method: method as 'POST',
      dispatcher: agent,
      headers: {
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(auth ? { authorization: auth } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await r.body.json().catch(() => undefined)) as any;
    if (r.statusCode >= 300) throw new Error(`demo: ${method} ${url} → ${r.statusCode} ${JSON.stringify(json)}`);
    return json;
  } finally {
    await agent.close();
  }
}

/** The sandbox ServiceNow instance as its IT support account: the records a person sees there. */
export function serviceDesk(ctx: DemoContext) {
  const sn = ctx.sandbox.servicenow;
  const { username, password } = sn.credentials.itil;
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const table = async (name: string, query: string, fields: string) =>
    (
      await call(
        ctx,
        `${sn.baseUrl}/api/now/table/${name}?${new URLSearchParams({ sysparm_query: query, sysparm_fields: fields, sysparm_exclude_reference_link: 'true' })}`,
        'GET',
        undefined,
        basic,
      )
    ).result as Record<string, string>[];
  return {
    /** An incident as a user's words reach ServiceNow (the IT support account files it for them). */
    async file(short: string, description: string) {
      const r = await call(
        ctx,
        `${sn.baseUrl}/api/now/table/incident`,
        'POST',
        { short_description: short, description },
        basic,
      );
      return r.result as { sys_id: string; number: string; short_description: string; opened_at: string };
    },
    async incident(sysId: string) {
      const [row] = await table(
        'incident',
        `sys_id=${sysId}`,
        'sys_id,number,short_description,state,parent_incident,close_notes',
      );
      return row;
    },
    /** The incident's work notes, oldest first, as the form's activity stream shows them. */
    workNotes: (sysId: string) =>
      table(
        'sys_journal_field',
        `element_id=${sysId}^element=work_notes^ORDERBYsys_created_on`,
        'value,sys_created_by',
      ),
    /** The record's page in the instance's UI. */
    link: (sysId: string) => `${sn.baseUrl}/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${sysId}`)}`,
  };
}

/**
 * Act as demo-insights in Ticketloop's API: a personal token made for the call and revoked after it,
 * so the verdict is recorded as that agent's.
 */
export async function asInsightsAgent<T>(ctx: DemoContext, act: (auth: string) => Promise<T>): Promise<T> {
  const { identity, clock } = ctx.app;
  const owner = await identity.users.find('demo-insights');
  const { token, view } = await identity.tokens.create(
    { kind: 'personal', name: `m365-demo-${clock.now()}`, owner, days: 1 },
    'demo',
  );
  try {
    return await act(`Bearer ${token}`);
  } finally {
    await identity.tokens.revoke(view.id, 'demo');
  }
}
