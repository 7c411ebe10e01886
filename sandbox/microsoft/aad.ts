import { randomUUID } from 'node:crypto';

/** Entra's error body and the failure that carries it (token endpoint and sign-in share them). */

/**
 * The AADSTS error body, as login.microsoftonline.com sends it. The correlation id is the caller's
 * `client-request-id` when it sent one (MSAL does), as Entra's is.
 */
export function aadError(now: number, error: string, code: number, message: string, clientRequestId?: string) {
  const trace = randomUUID();
  const correlation = clientRequestId && /^[0-9a-f-]{36}$/i.test(clientRequestId) ? clientRequestId : randomUUID();
  const timestamp = new Date(now)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    error,
    error_description: `AADSTS${code}: ${message} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: trace,
    correlation_id: correlation,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

export class AadFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
