import { randomUUID } from 'node:crypto';

/** Entra's error body and the failure that carries it (token endpoint and sign-in share them). */

/** The AADSTS error body, as login.microsoftonline.com sends it. */
export function aadError(now: number, error: string, code: number, message: string) {
  const trace = randomUUID();
  const correlation = randomUUID();
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
