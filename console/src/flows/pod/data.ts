import { api, call } from '../../api/client.ts';
import type { Catalog, DriftRow, PodJob, PodRequest } from './types.ts';

/**
 * The pages' reads and writes of /api/pod/… (src/flows/pod/routes.ts), typed by types.ts. Every query
 * key starts with `pod`, so one invalidation after an action refreshes every list and request shown.
 */

export const POD = ['pod'] as const;
/** Lists poll this often; an unchanged answer is a 304 (weak ETag). */
export const POLL_MS = 5_000;

export type View = 'mine' | 'inbox' | 'all';

export const loadCatalog = async () => (await call(api.GET('/api/pod/catalog'))) as unknown as Catalog;

export const loadRequests = async (view: View, offset = 0, limit = 50) =>
  (await call(api.GET('/api/pod/requests', { params: { query: { view, offset, limit } } }))) as unknown as {
    items: PodRequest[];
    more: boolean;
  };

export const loadRequest = async (id: string) =>
  (await call(api.GET('/api/pod/requests/{id}', { params: { path: { id } } }))) as unknown as PodRequest & {
    jobs: PodJob[];
  };

export const loadGrants = async (offset = 0, limit = 200) =>
  (await call(api.GET('/api/pod/grants', { params: { query: { offset, limit } } }))) as unknown as {
    items: PodRequest[];
    more: boolean;
  };

export const loadDrift = async (resolved: boolean) =>
  (await call(
    api.GET('/api/pod/drift', { params: { query: { resolved: resolved ? 'true' : 'false' } } }),
  )) as unknown as { items: DriftRow[] };

/** The server's clock less the browser's (ms), from the middle of the round trip. */
export async function loadClockOffset(): Promise<number> {
  const sent = Date.now();
  const { now } = await call(api.GET('/api/pod/clock'));
  return Date.parse(now) - (sent + Date.now()) / 2;
}

export const submitRequest = async (body: Record<string, unknown>, idempotencyKey: string) =>
  call(
    api.POST('/api/pod/requests', {
      body: body as never,
      headers: { 'Idempotency-Key': idempotencyKey },
    }),
  );

export type Action =
  | { kind: 'approve' | 'reject' | 'revoke'; comment: string }
  | { kind: 'cancel' }
  | { kind: 'extend'; duration: string };

/** One action on a request; the API answers with the request as it is now. */
export async function act(id: string, a: Action): Promise<PodRequest> {
  const path = { path: { id } };
  const r =
    a.kind === 'cancel'
      ? api.POST('/api/pod/requests/{id}/cancel', { params: path })
      : a.kind === 'extend'
        ? api.POST('/api/pod/requests/{id}/extend', { params: path, body: { duration: a.duration } })
        : a.kind === 'approve'
          ? api.POST('/api/pod/requests/{id}/approve', { params: path, body: { comment: a.comment } })
          : a.kind === 'reject'
            ? api.POST('/api/pod/requests/{id}/reject', { params: path, body: { comment: a.comment } })
            : api.POST('/api/pod/requests/{id}/revoke', { params: path, body: { comment: a.comment } });
  return (await call(r)) as unknown as PodRequest;
}

/** Approve or reject with an e-mail's signed link (its token decides which); the request as it is now. */
export async function decideByLink(id: string, token: string, comment: string): Promise<PodRequest> {
  return (await call(
    api.POST('/api/pod/requests/{id}/link', { params: { path: { id } }, body: { token, comment } }),
  )) as unknown as PodRequest;
}
