import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import { ArmError, firstQuery, gatewayError, offsetPage, requireApiVersion } from './arm.ts';
import type { RouteTable } from './dispatch.ts';
import type { AzureStore } from './store.ts';
import {
  SUPPORT_API_VERSIONS,
  SUPPORT_SERVICES,
  classificationResource,
  findService,
  parseClassificationId,
  parseServiceId,
  serviceResource,
} from './support-catalog.ts';
import { SupportStore, type StoredCommunication, type StoredTicket } from './support-store.ts';
import { checkTicketBody, checkUpdateBody, matchesFilter, parseFilter } from './support-validate.ts';

/**
 * Microsoft.Support (support.json 2024-04-01; wire-format.md §6): the services and problem
 * classifications catalog, support tickets at subscription and tenant level, their communications,
 * and checkNameAvailability. Creating a ticket or a communication is a long-running operation as the
 * spec declares it (`final-state-via: azure-async-operation`): 202 with `Azure-AsyncOperation` and
 * `Location`; the operation answers InProgress, then Succeeded; the resource appears when it has
 * succeeded (support-store.ts). 2020-04-01 is served too (what @azure/arm-support 2.1 sends), where
 * `advancedDiagnosticConsent` did not exist yet.
 */

interface Ctx {
  store: AzureStore;
  clock: OffsetClock;
}

const SUP = '/providers/Microsoft\\.Support';
const SUB = '/subscriptions/([^/]+)';
const RX = {
  services: new RegExp(`^${SUP}/services$`, 'i'),
  service: new RegExp(`^${SUP}/services/([^/]+)$`, 'i'),
  classifications: new RegExp(`^${SUP}/services/([^/]+)/problemClassifications$`, 'i'),
  classification: new RegExp(`^${SUP}/services/([^/]+)/problemClassifications/([^/]+)$`, 'i'),
  checkName: new RegExp(`^(?:${SUB})?${SUP}/checkNameAvailability$`, 'i'),
  tickets: new RegExp(`^(?:${SUB})?${SUP}/supportTickets$`, 'i'),
  ticket: new RegExp(`^(?:${SUB})?${SUP}/supportTickets/([^/]+)$`, 'i'),
  checkCommName: new RegExp(`^(?:${SUB})?${SUP}/supportTickets/([^/]+)/checkNameAvailability$`, 'i'),
  comms: new RegExp(`^(?:${SUB})?${SUP}/supportTickets/([^/]+)/communications$`, 'i'),
  comm: new RegExp(`^(?:${SUB})?${SUP}/supportTickets/([^/]+)/communications/([^/]+)$`, 'i'),
  opStatus: new RegExp(`^(?:${SUB})?${SUP}/operationsStatus/([^/]+)$`, 'i'),
  opResult: new RegExp(`^(?:${SUB})?${SUP}/operationResults/([^/]+)$`, 'i'),
};

type Body = Record<string, any>;
const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
const version = (req: FastifyRequest, type: string) => requireApiVersion(q(req), SUPPORT_API_VERSIONS, type);
const scopeOf = (sub: string | undefined) => (sub ? `/subscriptions/${sub}` : '');
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

export function supportRoutes(ctx: Ctx): RouteTable {
  const s = new SupportStore(ctx.store.docs);
  const now = () => ctx.clock.now();
  const iso = () => new Date(now()).toISOString();

  const subscriptionScope = (sub: string | undefined) => {
    if (sub && !ctx.store.subscription(sub))
      throw gatewayError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
    return scopeOf(sub);
  };
  const ticketPath = (t: StoredTicket) => `${t.scope}/providers/Microsoft.Support/supportTickets/${t.name}`;
  const renderTicket = (t: StoredTicket) => ({
    id: ticketPath(t),
    name: t.name,
    type: 'Microsoft.Support/supportTickets',
    properties: t.properties,
  });
  const renderComm = (t: StoredTicket, c: StoredCommunication) => ({
    id: `${ticketPath(t)}/communications/${c.name}`,
    name: c.name,
    type: 'Microsoft.Support/communications',
    properties: c.properties,
  });
  const mustTicket = (scope: string, name: string) => {
    const t = s.ticket(scope, name);
    if (!s.visible(t, now()))
      throw new ArmError(404, 'ResourceNotFound', `The support ticket '${name}' was not found.`, 'supportTicketName');
    return t;
  };

  /** 202 with the operation's two URLs, as the spec's examples show them. */
  const accepted = (req: FastifyRequest, reply: FastifyReply, scope: string, opId: string, v: string) => {
    const base = `https://${req.headers.host}${scope}/providers/Microsoft.Support`;
    return reply
      .code(202)
      .header('azure-asyncoperation', `${base}/operationsStatus/${opId}?api-version=${v}`)
      .header('location', `${base}/operationResults/${opId}?api-version=${v}`)
      .send();
  };

  // --- catalog -----------------------------------------------------------------------------------

  const service = (name: string) => {
    const svc = findService(name);
    if (!svc) throw new ArmError(404, 'ResourceNotFound', `The service '${name}' was not found.`, 'serviceName');
    return svc;
  };

  // --- tickets -----------------------------------------------------------------------------------

  function createTicket(req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
    const v = version(req, 'supportTickets');
    const scope = subscriptionScope(m[1]);
    const name = m[2];
    if (!NAME.test(name))
      throw new ArmError(400, 'InvalidSupportTicketName', `The support ticket name '${name}' is not valid.`);
    if (s.ticket(scope, name))
      throw new ArmError(409, 'Conflict', `A support ticket named '${name}' already exists; choose another name.`);
    const p = checkTicketBody(req.body, v, scope);
    const service = parseServiceId(p.serviceId)!;
    const pc = parseClassificationId(p.problemClassificationId)!;
    const created = iso();
    const op = s.startOperation(scope, now());
    if (op.error) return accepted(req, reply, scope, op.id, v); // it will fail: nothing is created
    const sla = 240;
    s.putTicket({
      scope,
      name,
      opId: op.id,
      properties: {
        supportTicketId: s.nextTicketNumber(),
        ...p,
        problemClassificationDisplayName: pc.classification.displayName,
        require24X7Response: p.require24X7Response ?? false,
        serviceLevelAgreement: {
          startTime: created,
          expirationTime: new Date(now() + sla * 60_000).toISOString(),
          slaMinutes: sla,
        },
        supportEngineer: { emailAddress: null },
        supportPlanType: 'Premier',
        supportPlanDisplayName: 'Premier',
        serviceDisplayName: service.displayName,
        status: 'Open',
        createdDate: created,
        modifiedDate: created,
      },
    });
    return accepted(req, reply, scope, op.id, v);
  }

  function listTickets(req: FastifyRequest, m: RegExpExecArray) {
    version(req, 'supportTickets');
    const scope = subscriptionScope(m[1]);
    const filter = parseFilter(firstQuery(q(req), '$filter'), ['status', 'serviceid', 'problemclassificationid']);
    const rows = s
      .tickets(scope)
      .filter((t) => s.visible(t, now()) && matchesFilter(t.properties, filter))
      .sort((a, b) => String(b.properties.createdDate).localeCompare(String(a.properties.createdDate)));
    return page(req, rows.map(renderTicket), 25, 100, `${scope}/providers/Microsoft.Support/supportTickets`);
  }

  function updateTicket(req: FastifyRequest, m: RegExpExecArray) {
    const v = version(req, 'supportTickets');
    const t = mustTicket(subscriptionScope(m[1]), m[2]);
    const u = checkUpdateBody(req.body, v);
    if (u.severity && t.properties.supportEngineer?.emailAddress && u.severity !== t.properties.severity)
      throw new ArmError(
        400,
        'SeverityUpdateNotAllowed',
        'The severity cannot be changed while a support engineer is working on the ticket; add a communication instead.',
        'severity',
      );
    const p = t.properties;
    if (u.severity) p.severity = u.severity;
    if (u.status) p.status = u.status === 'closed' ? 'Closed' : 'Open';
    if (u.contactDetails) p.contactDetails = { ...p.contactDetails, ...u.contactDetails };
    if (u.advancedDiagnosticConsent) p.advancedDiagnosticConsent = u.advancedDiagnosticConsent;
    if (u.secondaryConsent) p.secondaryConsent = u.secondaryConsent;
    p.modifiedDate = iso();
    s.putTicket(t);
    return renderTicket(t);
  }

  function checkName(req: FastifyRequest, m: RegExpExecArray, ticketName?: string) {
    version(req, 'checkNameAvailability');
    const scope = subscriptionScope(m[1]);
    const b = (req.body ?? {}) as Body;
    const want = ticketName ? 'Microsoft.Support/communications' : 'Microsoft.Support/supportTickets';
    if (typeof b.name !== 'string' || !b.name)
      throw new ArmError(400, 'InvalidInput', "'name' is required.", 'checkNameAvailabilityInput.name');
    if (typeof b.type !== 'string' || b.type.toLowerCase() !== want.toLowerCase())
      throw new ArmError(400, 'InvalidInput', `'type' must be '${want}'.`, 'checkNameAvailabilityInput.type');
    const taken = ticketName ? !!s.communication(mustTicket(scope, ticketName), b.name) : !!s.ticket(scope, b.name);
    return taken
      ? { nameAvailable: false, reason: 'Name not available', message: `Name '${b.name}' is already in use.` }
      : { nameAvailable: true };
  }

  // --- communications ----------------------------------------------------------------------------

  function createComm(req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
    const v = version(req, 'supportTickets/communications');
    const scope = subscriptionScope(m[1]);
    const t = mustTicket(scope, m[2]);
    const name = m[3];
    if (!NAME.test(name))
      throw new ArmError(400, 'InvalidCommunicationName', `The communication name '${name}' is not valid.`);
    if (s.communication(t, name))
      throw new ArmError(409, 'Conflict', `A communication named '${name}' already exists; choose another name.`);
    const p = ((req.body ?? {}) as Body).properties as Body | undefined;
    for (const k of ['subject', 'body'] as const)
      if (typeof p?.[k] !== 'string' || !p[k].trim())
        throw new ArmError(400, 'InvalidInput', `'properties.${k}' is required.`, `properties.${k}`);
    if (p!.subject.length > 200)
      throw new ArmError(
        400,
        'InvalidInput',
        "'properties.subject' is longer than 200 characters.",
        'properties.subject',
      );
    const op = s.startOperation(scope, now());
    if (op.error) return accepted(req, reply, scope, op.id, v);
    s.putCommunication(t, {
      name,
      opId: op.id,
      properties: {
        communicationType: 'web',
        // The spec's example: a message the customer adds is "outbound".
        communicationDirection: 'outbound',
        sender: typeof p!.sender === 'string' ? p!.sender : (t.properties.contactDetails?.primaryEmailAddress ?? null),
        subject: p!.subject,
        body: p!.body,
        createdDate: iso(),
      },
    });
    t.properties.modifiedDate = iso();
    s.putTicket(t);
    return accepted(req, reply, scope, op.id, v);
  }

  const commVisible = (c: StoredCommunication | undefined): c is StoredCommunication =>
    !!c && (!c.opId || s.done(s.operation(c.opId), now()));

  function listComms(req: FastifyRequest, m: RegExpExecArray) {
    version(req, 'supportTickets/communications');
    const scope = subscriptionScope(m[1]);
    const t = mustTicket(scope, m[2]);
    const filter = parseFilter(firstQuery(q(req), '$filter'), ['communicationtype', 'createddate']);
    const rows = s
      .communications(t)
      .filter((c) => commVisible(c) && matchesFilter(c.properties, filter))
      .map((c) => renderComm(t, c));
    return page(req, rows, 10, 10, `${ticketPath(t)}/communications`);
  }

  function getComm(req: FastifyRequest, m: RegExpExecArray) {
    version(req, 'supportTickets/communications');
    const t = mustTicket(subscriptionScope(m[1]), m[2]);
    const c = s.communication(t, m[3]);
    if (!commVisible(c))
      throw new ArmError(404, 'ResourceNotFound', `The communication '${m[3]}' was not found.`, 'communicationName');
    return renderComm(t, c);
  }

  // --- operations --------------------------------------------------------------------------------

  function operation(m: RegExpExecArray) {
    const op = s.operation(m[2]);
    if (!op || op.scope.toLowerCase() !== scopeOf(m[1]).toLowerCase())
      throw new ArmError(404, 'OperationNotFound', `The operation '${m[2]}' was not found.`);
    return op;
  }

  function opStatus(req: FastifyRequest, m: RegExpExecArray) {
    version(req, 'operationsStatus');
    const op = operation(m);
    const done = s.pollOperation(op, now());
    return {
      id: `${op.scope}/providers/Microsoft.Support/operationsStatus/${op.id}`,
      name: op.id,
      status: done ? (op.error ? 'Failed' : 'Succeeded') : 'InProgress',
      startTime: op.startTime,
      ...(done ? { endTime: iso() } : {}),
      ...(done && op.error ? { error: op.error } : {}),
    };
  }

  function opResult(req: FastifyRequest, reply: FastifyReply, m: RegExpExecArray) {
    const v = version(req, 'operationResults');
    const op = operation(m);
    if (s.pollOperation(op, now())) {
      if (op.error) throw new ArmError(400, op.error.code, op.error.message);
      return reply.code(204).send();
    }
    return accepted(req, reply, op.scope, op.id, v);
  }

  /** A page of `$top` (default, max) with a `nextLink` carrying `$skiptoken`. */
  function page(req: FastifyRequest, rows: unknown[], dflt: number, max: number, path: string) {
    const raw = firstQuery(q(req), '$top');
    const top = raw === undefined ? dflt : Number(raw);
    if (!Number.isInteger(top) || top < 1)
      throw new ArmError(
        400,
        'InvalidQueryParameterValue',
        `The value '${raw}' of query parameter '$top' is not valid.`,
      );
    const p = offsetPage(rows, firstQuery(q(req), '$skiptoken'), Math.min(top, max));
    if (!p.next) return { value: p.value, nextLink: null };
    const keep = Object.entries(q(req))
      .filter(([k]) => k.toLowerCase() !== '$skiptoken')
      .map(([k, val]) => `${k}=${encodeURIComponent(String(Array.isArray(val) ? val[0] : val))}`);
    return {
      value: p.value,
      nextLink: `https://${req.headers.host}${path}?${[...keep, `$skiptoken=${p.next}`].join('&')}`,
    };
  }

  return [
    [RX.services, { GET: (req) => (version(req, 'services'), { value: SUPPORT_SERVICES.map(serviceResource) }) }],
    [RX.service, { GET: (req, _r, m) => (version(req, 'services'), serviceResource(service(m[1]))) }],
    [
      RX.classifications,
      {
        GET: (req, _r, m) => {
          version(req, 'services/problemClassifications');
          const svc = service(m[1]);
          return { value: svc.classifications.map((c) => classificationResource(svc, c)) };
        },
      },
    ],
    [
      RX.classification,
      {
        GET: (req, _r, m) => {
          version(req, 'services/problemClassifications');
          const svc = service(m[1]);
          const c = svc.classifications.find((x) => x.name.toLowerCase() === m[2].toLowerCase());
          if (!c) throw new ArmError(404, 'ResourceNotFound', `The problem classification '${m[2]}' was not found.`);
          return classificationResource(svc, c);
        },
      },
    ],
    [RX.checkName, { POST: (req, _r, m) => checkName(req, m) }],
    [RX.tickets, { GET: (req, _r, m) => listTickets(req, m) }],
    [
      RX.ticket,
      {
        GET: (req, _r, m) => (version(req, 'supportTickets'), renderTicket(mustTicket(subscriptionScope(m[1]), m[2]))),
        PUT: (req, reply, m) => createTicket(req, reply, m),
        PATCH: (req, _r, m) => updateTicket(req, m),
      },
    ],
    [RX.checkCommName, { POST: (req, _r, m) => checkName(req, m, m[2]) }],
    [RX.comms, { GET: (req, _r, m) => listComms(req, m) }],
    [RX.comm, { GET: (req, _r, m) => getComm(req, m), PUT: (req, reply, m) => createComm(req, reply, m) }],
    [RX.opStatus, { GET: (req, _r, m) => opStatus(req, m) }],
    [RX.opResult, { GET: (req, reply, m) => opResult(req, reply, m) }],
  ];
}
