import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/**
 * The API client, typed by schema.d.ts (generated from /openapi.json). Every unsafe request carries
 * the session's CSRF token; a 401 on a signed-in page means the session ended (expired, signed out
 * elsewhere) and sends the console back to sign-in with a message.
 */

export const CSRF_HEADER = 'x-csrf-token';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

let csrfToken: string | undefined;
let onSessionEnded: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export function whenSessionEnds(handler: (() => void) | undefined): void {
  onSessionEnded = handler;
}

/** One field the API refused: `path` names it as `body.mapping.assignedTo`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** An error answer of the API (its error envelope), thrown by `call`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

const session: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method) && csrfToken) request.headers.set(CSRF_HEADER, csrfToken);
    return request;
  },
  onResponse({ request, response }) {
    const signingIn = new URL(request.url).pathname.startsWith('/api/auth/login');
    if (response.status === 401 && csrfToken && !signingIn) onSessionEnded?.();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(session);

/** The data of an answer, or its error as an ApiError. */
export async function call<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await pending;
  if (response.ok && data !== undefined) return data as NonNullable<T>;
  const envelope = (error as { error?: { code?: string; message?: string; details?: FieldProblem[] } } | undefined)
    ?.error;
  throw new ApiError(
    response.status,
    envelope?.code ?? 'http_error',
    envelope?.message ?? `${response.status} ${response.statusText}`,
    Array.isArray(envelope?.details) ? envelope.details : [],
  );
}
