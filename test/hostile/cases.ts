import { createHmac, randomUUID } from 'node:crypto';

/** Hostile bodies and the well-formed bodies each inbound endpoint expects. */

export interface BodyCase {
  name: string;
  raw: string | Buffer;
  contentType?: string;
  /** Parse-level problems every endpoint must refuse, even one that ignores its body. */
  parseLevel?: boolean;
  /** The server may refuse by closing the connection while the client is still writing (over the body limit). */
  mayCloseEarly?: boolean;
}

const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

export function bodyCases(): BodyCase[] {
  const tenMB = `{"pad":"${'a'.repeat(10 * 1024 * 1024)}"}`;
  return [
    { name: 'invalid JSON (truncated)', raw: '{"CustomExtensionStageInstanceId":', parseLevel: true },
    { name: 'not JSON at all', raw: 'hello there', parseLevel: true },
    { name: 'empty body with a JSON content type', raw: '', parseLevel: true },
    { name: 'trailing garbage', raw: '{"a":1} {"b":2}', parseLevel: true },
    { name: 'JSON array', raw: '[]' },
    { name: 'JSON string', raw: '"callout"' },
    { name: 'JSON number', raw: '42' },
    { name: 'JSON null', raw: 'null' },
    { name: 'missing every field', raw: '{}' },
    {
      name: 'wrong types',
      raw: JSON.stringify({
        CustomExtensionStageInstanceId: 5,
        Stage: ['AssignmentRequestCreated'],
        AccessPackageAssignmentRequestId: { id: 1 },
        CallbackUriPath: false,
        table: 7,
        operation: true,
        sys_id: null,
        record: 'x',
      }),
    },
    {
      name: '__proto__ poisoning',
      raw: '{"__proto__":{"polluted":true},"Stage":"AssignmentRequestCreated"}',
      parseLevel: true,
    },
    {
      name: 'constructor.prototype poisoning',
      raw: '{"constructor":{"prototype":{"polluted":true}}}',
      parseLevel: true,
    },
    { name: '10 MB body', raw: tenMB, parseLevel: true, mayCloseEarly: true },
    // Over the limit the server answers 413 from Content-Length and may close before the client has
    // written everything (RFC 9110 §15.5.14); the client then sees EPIPE instead of the answer.
    {
      name: '1.5 MB body (over the 1 MB limit)',
      raw: `{"pad":"${'b'.repeat(1536 * 1024)}"}`,
      parseLevel: true,
      mayCloseEarly: true,
    },
    { name: '10,000 nested arrays', raw: deepArray(10_000) },
    { name: '10,000 nested objects', raw: deepObject(10_000) },
    {
      name: 'lone surrogates (escaped)',
      raw: '{"CustomExtensionStageInstanceId":"\\ud800","Stage":"\\udfffAssignmentRequestCreated","table":"\\ud83d"}',
    },
    {
      name: 'invalid UTF-8 bytes',
      raw: Buffer.concat([Buffer.from('{"Stage":"'), Buffer.from([0xed, 0xa0, 0x80, 0xff, 0xfe]), Buffer.from('"}')]),
    },
    {
      name: 'NUL characters',
      raw: '{"CustomExtensionStageInstanceId":"a\\u0000b","Stage":"Assignment\\u0000RequestCreated","table":"incident\\u0000"}',
    },
    {
      name: 'RTL override and zero-width characters',
      raw: JSON.stringify({
        CustomExtensionStageInstanceId: '\u202egnp.exe\u200b',
        Stage: '\u202eAssignmentRequestCreated',
        table: 'inc\u200bident',
      }),
    },
    {
      name: 'huge string under the body limit',
      raw: JSON.stringify({ CustomExtensionStageInstanceId: 'x'.repeat(900_000), Stage: 'y'.repeat(1000) }),
    },
    { name: 'text/plain content type', raw: '{"Stage":"AssignmentRequestCreated"}', contentType: 'text/plain' },
    {
      name: 'form-urlencoded content type',
      raw: 'Stage=AssignmentRequestCreated',
      contentType: 'application/x-www-form-urlencoded',
    },
  ];
}

/** A realistic Entra callout (wire-format §2.3) for a request stage, with fresh ids. */
export function calloutBody(stage = 'AssignmentRequestCreated'): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    AccessPackageAssignmentRequestId: requestId,
    CallbackUriPath: `/identityGovernance/entitlementManagement/assignmentRequests/${requestId}/resume`,
    CustomExtensionStageInstanceId: randomUUID(),
    Stage: stage,
    RequestType: 'UserAdd',
    State: 'Submitted',
    Status: 'WaitingForCallback',
    Answers: [],
    CallbackConfiguration: { DurationBeforeTimeout: 'P1D' },
    AccessPackage: { Id: randomUUID(), DisplayName: 'Hostile package', Description: null },
    AccessPackageCatalog: { Id: randomUUID(), DisplayName: 'Hostile catalog', Description: null },
    Assignment: {
      Id: randomUUID(),
      State: null,
      Status: null,
      AssignmentPolicy: { Id: randomUUID(), DisplayName: 'policy' },
      Target: {
        Id: randomUUID(),
        ObjectId: randomUUID(),
        DisplayName: 'Mallory',
        Email: 'mallory@example.test',
        PrincipalName: 'mallory@example.test',
        ConnectedOrganization: null,
      },
    },
    Requestor: { Id: randomUUID(), ObjectId: randomUUID(), DisplayName: 'Mallory' },
  };
}

/** A business-rule webhook body about a Ticketloop ticket (WEBHOOKS.md). */
export function webhookBody(): Record<string, unknown> {
  const sysId = randomUUID().replace(/-/g, '');
  return {
    table: 'incident',
    operation: 'update',
    sys_id: sysId,
    record: {
      sys_id: sysId,
      number: 'INC0099999',
      state: '6',
      correlation_id: `tl:entitlement:${randomUUID()}`,
      sys_mod_count: '3',
      sys_updated_on: '2026-01-01 00:00:00',
    },
  };
}

/** Unix seconds now, as the senders put in their timestamp header. */
export const nowSeconds = () => String(Math.floor(Date.now() / 1000));

/** Ticketloop's HMAC scheme: over "<timestamp>.<raw body>" (http/auth.ts). */
export const hmac = (secret: string, raw: string | Buffer, timestamp = nowSeconds()) =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('hex')}`;

/** The signature and timestamp headers of a signed route (Logic App forward or ServiceNow webhook). */
export function signedHeaders(path: string, secret: string, raw: string | Buffer, timestamp = nowSeconds()) {
  const logicApp = path.endsWith('/logic-app');
  return {
    [logicApp ? 'x-ticketloop-timestamp' : 'x-sn-timestamp']: timestamp,
    [logicApp ? 'x-ticketloop-signature' : 'x-sn-signature']: hmac(secret, raw, timestamp),
  };
}
