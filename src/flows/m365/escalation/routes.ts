import { z } from 'zod';
import type { Ticketloop } from '../../../app/build.ts';
import { personOf } from '../../../identity/http.ts';
import type { M365Integration } from '../config.ts';
import { EscalationService, GUIDED_STATUSES, supportClient } from './service.ts';
import { escalationView } from './store.ts';

/**
 * Escalation to Microsoft support (docs/m365.md): `admin` escalates and records; `insights` reads.
 * With escalation off the integration is "Insights only" and POST answers 409 saying so.
 */

const tags = ['m365'];
const view = z.record(z.string(), z.unknown());
const communicationView = z.object({
  name: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  sender: z.string(),
  subject: z.string(),
  body: z.string(),
  createdDate: z.string(),
});
const idParams = z.object({ id: z.string().regex(/^esc-[0-9a-f-]{36}$/, 'an escalation id (esc-…)') });

/** An incident by its record id or its number (exactly one). */
export const incidentRef = z
  .object({
    sys_id: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'a 32-character hexadecimal record id')
      .optional(),
    number: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'a ticket number such as INC0010001')
      .optional(),
  })
  .strict()
  .refine((v) => !!v.sys_id !== !!v.number, { message: 'give exactly one of sys_id or number' });

const escalateBody = z
  .object({
    integration: z.string().max(80).optional(),
    incident: incidentRef,
    kind: z.enum(['azure-support', 'guided']).optional(),
    severity: z.enum(['minimal', 'moderate', 'critical', 'highestcriticalimpact']),
    title: z.string().trim().min(1).max(200).optional(),
    description: z.string().trim().min(1).max(8000).optional(),
    service: z.string().trim().min(1).max(200).optional(),
    problemClassification: z.string().trim().min(1).max(400).optional(),
    issues: z.array(z.string().min(1).max(64)).max(10).optional(),
    affectedUsers: z.string().trim().max(500).optional(),
  })
  .strict();

export function registerEscalationRoutes(app: Ticketloop, pick: (name?: string) => M365Integration): void {
  const http = app.http;
  const service = new EscalationService(app);
  const owned = async (id: string) => {
    const row = await service.get(id);
    pick(row.integration); // its integration still exists
    return row;
  };

  http.post(
    '/api/m365/escalations',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary:
          'Escalate an incident to Microsoft support: an Azure support ticket (Azure and Entra services) or a guided hand-off (Microsoft 365 services)',
        body: escalateBody,
        response: { 201: view },
      },
    },
    async (req, reply) => {
      const i = pick(req.body.integration);
      const row = await service.escalate(i, req.body, personOf(req));
      return reply.code(201).send(escalationView(row));
    },
  );

  http.get(
    '/api/m365/escalations',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: 'Escalations to Microsoft support, newest first',
        querystring: z.object({
          integration: z.string().max(80).optional(),
          kind: z.enum(['azure-support', 'guided']).optional(),
        }),
        response: {
          200: z.object({ mode: z.string(), lastSyncAt: z.string().nullable(), items: z.array(view) }),
        },
      },
    },
    async (req) => {
      const i = pick(req.query.integration);
      const rows = await service.store.list(i.name, { kind: req.query.kind });
      const synced = await service.store.lastSync(i.name);
      return {
        mode: i.escalation.mode === 'off' ? 'insights-only' : i.escalation.mode,
        lastSyncAt: synced === null ? null : new Date(synced).toISOString(),
        items: rows.map(escalationView),
      };
    },
  );

  http.get(
    '/api/m365/escalations/:id',
    {
      config: { role: 'insights' },
      schema: { tags, summary: 'One escalation', params: idParams, response: { 200: view } },
    },
    async (req) => escalationView(await owned(req.params.id)),
  );

  http.post(
    '/api/m365/escalations/:id/case',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Record the case number a guided hand-off got in the Microsoft 365 admin center',
        params: idParams,
        body: z
          .object({ caseNumber: z.string().regex(/^[A-Za-z0-9-]{3,40}$/, 'the case number the admin center gave') })
          .strict(),
        response: { 200: view },
      },
    },
    async (req) => {
      await owned(req.params.id);
      return escalationView(await service.recordCase(req.params.id, req.body.caseNumber, personOf(req)));
    },
  );

  http.post(
    '/api/m365/escalations/:id/status',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: "Set a guided case's status by hand (Microsoft 365 cases have no API to read it from)",
        params: idParams,
        body: z.object({ status: z.enum(GUIDED_STATUSES as [string, ...string[]]) }).strict(),
        response: { 200: view },
      },
    },
    async (req) => {
      await owned(req.params.id);
      return escalationView(await service.setStatus(req.params.id, req.body.status, personOf(req)));
    },
  );

  http.post(
    '/api/m365/escalations/:id/reply',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Send a message on the Azure support ticket (a communication); it is sent by a durable job',
        params: idParams,
        body: z.object({ message: z.string().trim().min(1, 'required').max(10_000) }).strict(),
        response: { 202: z.object({ communication: z.string(), state: z.literal('sending') }) },
      },
    },
    async (req, reply) => {
      await owned(req.params.id);
      const r = await service.reply(req.params.id, req.body.message, personOf(req));
      return reply.code(202).send({ communication: r.communication, state: 'sending' as const });
    },
  );

  http.post(
    '/api/m365/escalations/:id/close',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: "Close the Azure support ticket (the support API's update with status closed); done by a durable job",
        params: idParams,
        body: z
          .object({ reason: z.string().trim().min(1).max(1000).optional() })
          .strict()
          .optional(),
        response: { 202: z.object({ state: z.literal('closing') }) },
      },
    },
    async (req, reply) => {
      await owned(req.params.id);
      await service.close(req.params.id, personOf(req), req.body?.reason);
      return reply.code(202).send({ state: 'closing' as const });
    },
  );

  http.get(
    '/api/m365/escalations/:id/communications',
    {
      config: { role: 'insights' },
      schema: {
        tags,
        summary: "The Azure ticket's messages, both directions, oldest first, as Microsoft has them now (guided: none)",
        params: idParams,
        response: { 200: z.object({ items: z.array(communicationView) }) },
      },
    },
    async (req) => {
      const row = await owned(req.params.id);
      if (row.kind !== 'azure-support' || !row.ticket_number) return { items: [] };
      const all = await supportClient(app, pick(row.integration)).listCommunications(row.ticket_name!);
      const items = all
        .map((c) => ({
          name: c.name,
          direction: c.direction.toLowerCase() === 'outbound' ? ('outbound' as const) : ('inbound' as const),
          sender: c.sender,
          subject: c.subject,
          body: c.body,
          createdDate: c.createdDate,
        }))
        .sort((a, b) => Date.parse(a.createdDate) - Date.parse(b.createdDate));
      return { items };
    },
  );
}
