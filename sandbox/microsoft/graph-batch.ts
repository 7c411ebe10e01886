import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../shared/clock.ts';
import type { Entra } from './entra.ts';
import { authenticateGraph, badRequest, graphError } from './graph-http.ts';

/**
 * JSON batching, `POST /v1.0/$batch` and `/beta/$batch` (concepts/json-batching.md): up to 20
 * requests `{id, method, url, headers?, body?, dependsOn?}` with `url` relative to the version.
 * Each runs through the same server (Fastify's inject) with the batch's Authorization header;
 * a request whose dependency did not succeed is answered 424 without being run. Requests run in
 * `dependsOn` order, otherwise in the order given; answers come back in the order given.
 */

const MAX_REQUESTS = 20;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Response headers a batch answer passes on, in Graph's spelling. */
const PASSED_HEADERS = ['Content-Type', 'Location', 'Retry-After', 'Cache-Control', 'ETag', 'OData-Version'];

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}
interface BatchAnswer {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

const invalid = () => badRequest('Invalid batch payload format.');

/** The batch's requests, checked: shape, size, unique ids (not case-sensitive), known dependencies. */
function readBatch(body: unknown): BatchItem[] {
  const requests = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests) || requests.length === 0) throw invalid();
  if (requests.length > MAX_REQUESTS) throw badRequest('Number of requests inside batch exceed the limit.');
  const seen = new Set<string>();
  const items = requests.map((r): BatchItem => {
    if (!r || typeof r !== 'object') throw invalid();
    const { id, method, url, headers, dependsOn } = r as Record<string, unknown>;
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof url !== 'string' || typeof method !== 'string')
      throw invalid();
    if (!METHODS.has(method.toUpperCase())) throw invalid();
    if (headers !== undefined && (headers === null || typeof headers !== 'object')) throw invalid();
    if (dependsOn !== undefined && !(Array.isArray(dependsOn) && dependsOn.every((x) => typeof x === 'string')))
      throw invalid();
    const key = String(id).toLowerCase();
    if (seen.has(key)) throw badRequest(`Request Id ${id} has to be unique in a batch.`);
    seen.add(key);
    return { ...(r as BatchItem), id: String(id), method: method.toUpperCase() };
  });
  for (const it of items)
    for (const dep of it.dependsOn ?? [])
      if (!seen.has(dep.toLowerCase()))
        throw badRequest(`Request Id ${it.id} depends on '${dep}', which is not in the batch.`);
  return items;
}

/** The requests in an order where each comes after those it depends on. */
function runOrder(items: BatchItem[]): BatchItem[] {
  const byId = new Map(items.map((i) => [i.id.toLowerCase(), i]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: BatchItem[] = [];
  const visit = (it: BatchItem) => {
    const key = it.id.toLowerCase();
    if (done.has(key)) return;
    if (visiting.has(key)) throw badRequest(`Request Id ${it.id} depends on itself through dependsOn.`);
    visiting.add(key);
    for (const dep of it.dependsOn ?? []) visit(byId.get(dep.toLowerCase())!);
    visiting.delete(key);
    done.add(key);
    out.push(it);
  };
  items.forEach(visit);
  return out;
}

export function registerGraphBatch(app: FastifyInstance, d: { entra: Entra; clock: OffsetClock }): void {
  async function run(req: FastifyRequest, version: string, it: BatchItem): Promise<BatchAnswer> {
    const headers = Object.fromEntries(Object.entries(it.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const fail = (status: number, code: string, message: string): BatchAnswer => ({
      id: it.id,
      status,
      headers: { 'Content-Type': 'application/json' },
      body: graphError(d.clock.now(), req, code, message),
    });
    if (/^\/?\$batch\b/i.test(it.url)) return fail(400, 'BadRequest', 'Nested batch requests are not supported.');
    let payload: string | Buffer | undefined;
    if (it.body !== undefined) {
      const type = headers['content-type'];
      // json-batching.md: "When a body is included with the request, the headers object must contain a value for Content-Type."
      if (!type) return fail(400, 'BadRequest', 'A Content-Type header is required when the request has a body.');
      payload = /json/i.test(type)
        ? JSON.stringify(it.body)
        : typeof it.body === 'string'
          ? Buffer.from(it.body, 'base64')
          : JSON.stringify(it.body);
    }
    const res = await app.inject({
      method: it.method as 'GET',
      // Batched URLs are often written unencoded (json-batching.md's own `$filter=city eq null`).
      url: `/${version}${it.url.startsWith('/') ? '' : '/'}${it.url.replace(/ /g, '%20')}`,
      headers: { ...headers, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
      ...(payload !== undefined ? { payload } : {}),
    });
    const passed: Record<string, string> = {};
    for (const h of PASSED_HEADERS) {
      const v = res.headers[h.toLowerCase()];
      if (v !== undefined) passed[h] = String(v);
    }
    let body: unknown;
    if (res.body) {
      try {
        body = JSON.parse(res.body);
      } catch {
        body = res.body;
      }
    }
    return { id: it.id, status: res.statusCode, headers: passed, ...(body !== undefined ? { body } : {}) };
  }

  for (const version of ['v1.0', 'beta']) {
    app.post(`/${version}/$batch`, async (req) => {
      await authenticateGraph(d.entra, req);
      const items = readBatch(req.body);
      const order = runOrder(items);
      const answers = new Map<string, BatchAnswer>();
      const succeeded = (id: string) => {
        const s = answers.get(id.toLowerCase())?.status ?? 0;
        return s >= 200 && s < 300;
      };
      for (const it of order) {
        const failedDep = (it.dependsOn ?? []).find((dep) => !succeeded(dep));
        answers.set(
          it.id.toLowerCase(),
          failedDep !== undefined
            ? {
                id: it.id,
                status: 424,
                headers: { 'Content-Type': 'application/json' },
                body: graphError(
                  d.clock.now(),
                  req,
                  'FailedDependency',
                  `The request was not run: request '${failedDep}' it depends on did not succeed.`,
                ),
              }
            : await run(req, version, it),
        );
      }
      return { responses: items.map((it) => answers.get(it.id.toLowerCase())!) };
    });
  }
}
