import type { FastifyReply } from 'fastify';

/**
 * ARM wire conventions shared by every route of the Azure sandbox: the CloudError envelope,
 * api-version checks and the throttling body (wire-format.md §5).
 */

export const ARM_AUDIENCE = 'https://management.azure.com';

/** Assessments and assessment metadata: the versions the specs know (2025-05-04 adds `risk`, Critical). */
export const ASSESSMENT_API_VERSIONS = ['2025-05-04', '2021-06-01', '2020-01-01'] as const;
/** Governance assignments exist only in this preview version. */
export const GOVERNANCE_API_VERSIONS = ['2022-01-01-preview'] as const;

export class ArmError extends Error {
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
    return {
      error: { code: this.code, message: this.message, target: this.target, details: this.details, additionalInfo: [] },
    };
  }
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

export function requireApiVersion(q: Record<string, unknown>, supported: readonly string[]): string {
  const v = firstQuery(q, 'api-version');
  if (!v) {
    throw new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  if (!supported.includes(v)) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${v}' is invalid. The supported versions are '${supported.join(',')}'.`,
    );
  }
  return v;
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
