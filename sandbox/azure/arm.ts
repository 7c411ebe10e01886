import type { FastifyReply } from 'fastify';

/**
 * ARM wire conventions shared by every route of the Azure sandbox: the CloudError envelope,
 * api-version checks and the throttling body (wire-format.md §5).
 */

export const ARM_AUDIENCE = 'https://management.azure.com';
/** Every `aud` ARM accepts, in the order its InvalidAuthenticationTokenAudience message lists them. */
export const ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
] as const;

/** Assessments and assessment metadata: the versions the specs know (2025-05-04 adds `risk`, Critical). */
export const ASSESSMENT_API_VERSIONS = ['2025-05-04', '2021-06-01', '2020-01-01'] as const;
/** Governance assignments exist only in this preview version. */
export const GOVERNANCE_API_VERSIONS = ['2022-01-01-preview'] as const;
/** Microsoft.Resources subscriptions and tenants (`az account list` uses 2022-12-01). */
export const SUBSCRIPTION_API_VERSIONS = [
  '2022-12-01',
  '2021-01-01',
  '2020-01-01',
  '2019-11-01',
  '2016-06-01',
] as const;
/** Microsoft.Resources resource groups. */
export const RESOURCE_GROUP_API_VERSIONS = [
  '2024-03-01',
  '2023-07-01',
  '2022-09-01',
  '2021-04-01',
  '2021-01-01',
  '2020-06-01',
  '2019-10-01',
] as const;
/** Microsoft.Management management groups. */
export const MANAGEMENT_GROUP_API_VERSIONS = ['2023-04-01', '2021-04-01', '2020-05-01', '2020-02-01'] as const;

export class ArmError extends Error {
  /** Errors ARM's front door answers itself (auth, routing, api-version) carry only code and message. */
  gateway = false;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target: string | null = null,
    readonly details: Array<{ code: string; message: string; target?: string }> = [],
  ) {
    super(message);
  }
  body() {
    if (this.gateway) return { error: { code: this.code, message: this.message } };
    return {
      error: { code: this.code, message: this.message, target: this.target, details: this.details, additionalInfo: [] },
    };
  }
}

/** An error in the front door's own `{"error":{"code","message"}}` shape. */
export function gatewayError(status: number, code: string, message: string): ArmError {
  const e = new ArmError(status, code, message);
  e.gateway = true;
  return e;
}

export function sendArmError(reply: FastifyReply, e: ArmError): FastifyReply {
  return reply.code(e.status).header('x-ms-failure-cause', 'gateway').send(e.body());
}

/** The first value of a query parameter (clients sometimes repeat api-version on nextLinks). */
export function firstQuery(q: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(q).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : q[key];
  return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
}

export const missingApiVersion = () =>
  gatewayError(
    400,
    'MissingApiVersionParameter',
    'The api-version query parameter (?api-version=) is required for all requests.',
  );

/**
 * The request's api-version, if `supported` has it. ARM itself serves Microsoft.Resources and answers
 * InvalidApiVersionParameter; for a resource provider's type (`providerType`, e.g. `assessments`) the
 * front door answers NoRegisteredProviderFound, naming the type.
 */
export function requireApiVersion(
  q: Record<string, unknown>,
  supported: readonly string[],
  providerType?: string,
): string {
  const v = firstQuery(q, 'api-version');
  if (!v) throw missingApiVersion();
  if (supported.includes(v)) return v;
  if (providerType !== undefined) {
    throw gatewayError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location 'global' and API version '${v}' for type '${providerType}'. The supported api-versions are '${supported.join(', ')}'. The supported locations are 'global'.`,
    );
  }
  throw gatewayError(
    400,
    'InvalidApiVersionParameter',
    `The api-version '${v}' is invalid. The supported versions are '${supported.join(',')}'.`,
  );
}

/**
 * A nextLink: the caller's host and query (as ARM keeps them) with the continuation token under
 * `tokenParam` (`$skipToken` for Microsoft.Security lists, `$skiptoken` for Microsoft.Resources/Management).
 */
export function nextLink(
  host: string | undefined,
  query: Record<string, unknown>,
  path: string,
  token: string,
  tokenParam = '$skipToken',
): string {
  const params = Object.entries(query)
    .filter(([k]) => k.toLowerCase() !== '$skiptoken')
    .map(([k, v]) => `${k}=${encodeURIComponent(String(Array.isArray(v) ? v[0] : v))}`);
  params.push(`${tokenParam}=${token}`);
  return `https://${host}${path}?${params.join('&')}`;
}

/** Offset paging over a small in-memory list; the token is the base64url offset. */
export function offsetPage<T>(items: T[], token: string | undefined, size: number): { value: T[]; next?: string } {
  const start = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new ArmError(400, 'InvalidSkipToken', 'The $skiptoken is not valid.');
  const end = start + size;
  return {
    value: items.slice(start, end),
    next: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined,
  };
}

export function throttledBody(retryAfterSeconds: number) {
  return {
    error: {
      code: 'OperationNotAllowed',
      message: `The request is being throttled. Please retry after ${retryAfterSeconds} seconds.`,
      target: null,
      details: [
        {
          code: 'TooManyRequests',
          target: 'Microsoft.Security',
          message: `Number of requests exceeded the limit. Please try again after '${retryAfterSeconds}' seconds. Refer to https://aka.ms/arm-throttling.`,
        },
      ],
      additionalInfo: [],
    },
  };
}

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  403: 'AuthorizationFailed',
  404: 'NotFound',
  409: 'Conflict',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export function faultBody(status: number) {
  return new ArmError(
    status,
    STATUS_CODES[status] ?? 'InternalServerError',
    `Injected sandbox failure (${status}).`,
  ).body();
}

/** Is `s` an RFC 3339 date-time (what the spec's `format: date-time` means)? */
export function isDateTime(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(s) &&
    !Number.isNaN(Date.parse(s))
  );
}
