import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, sendArmError } from './arm.ts';
import type { AzureStore } from './store.ts';
import { SupportStore } from './support-store.ts';

/**
 * Control endpoints for Microsoft.Support (no bearer token, like every `/_sandbox` route): what the
 * support side does in real life — an engineer's message on a ticket, a status change.
 *   POST /_sandbox/azure/support/tickets/{name}/communications  {"subject","body","sender"?}
 *   POST /_sandbox/azure/support/tickets/{name}/status          {"status","supportEngineer"?}
 *   POST /_sandbox/azure/support/fail-next                      {"code","message"}: the next create fails
 */

type Body = Record<string, any>;

export function registerSupportAdmin(app: FastifyInstance, ctx: { store: AzureStore; clock: OffsetClock }): void {
  const s = new SupportStore(ctx.store.docs);
  const iso = () => new Date(ctx.clock.now()).toISOString();
  const P = '/_sandbox/azure/support/tickets/:name';

  const ticket = (name: string) => {
    const t = s.ticketByName(name);
    if (!t) throw new ArmError(404, 'ResourceNotFound', `No support ticket named '${name}'.`);
    return t;
  };
  const handle = (fn: (name: string, b: Body) => unknown) => async (req: any, reply: FastifyReply) => {
    try {
      return fn(req.params.name, (req.body ?? {}) as Body);
    } catch (e) {
      if (e instanceof ArmError) return sendArmError(reply, e);
      throw e;
    }
  };

  app.post(
    `${P}/communications`,
    handle((name, b) => {
      const t = ticket(name);
      for (const k of ['subject', 'body'])
        if (typeof b[k] !== 'string' || !b[k].trim()) throw new ArmError(400, 'InvalidInput', `'${k}' is required.`, k);
      const c = s.putCommunication(t, {
        name: `microsoft-${s.communications(t).length + 1}-${Date.now().toString(36)}`,
        properties: {
          communicationType: 'web',
          communicationDirection: 'inbound',
          sender: typeof b.sender === 'string' ? b.sender : 'Microsoft',
          subject: b.subject,
          body: b.body,
          createdDate: iso(),
        },
      });
      t.properties.modifiedDate = iso();
      s.putTicket(t);
      return {
        id: `${t.scope}/providers/Microsoft.Support/supportTickets/${t.name}/communications/${c.name}`,
        name: c.name,
        type: 'Microsoft.Support/communications',
        properties: c.properties,
      };
    }),
  );

  app.post(
    '/_sandbox/azure/support/fail-next',
    handle((_name, b) => {
      const error = {
        code: typeof b.code === 'string' && b.code ? b.code : 'SupportTicketCreationFailed',
        message: typeof b.message === 'string' && b.message ? b.message : 'The support ticket could not be created.',
      };
      s.failNext(error);
      return { failNext: error };
    }),
  );

  app.post(
    `${P}/status`,
    handle((name, b) => {
      const t = ticket(name);
      if (typeof b.status !== 'string' || !b.status.trim())
        throw new ArmError(
          400,
          'InvalidInput',
          "'status' is required (a free string: Open, Updating, Closed…).",
          'status',
        );
      t.properties.status = b.status;
      if (typeof b.supportEngineer === 'string') t.properties.supportEngineer = { emailAddress: b.supportEngineer };
      t.properties.modifiedDate = iso();
      s.putTicket(t);
      return { name: t.name, properties: t.properties };
    }),
  );
}
