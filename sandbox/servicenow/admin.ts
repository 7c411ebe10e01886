import type { FastifyInstance } from 'fastify';
import { SEED_SETS, loadSeedSet, type SeedSet } from './demo.ts';
import type { SnContext } from './routes.ts';
import { SYSTEM_ACTOR, DEMO } from './seed.ts';
import type { WebhookConfig } from './settings.ts';
import { TABLES } from './tables.ts';
import type { Webhooks } from './webhooks.ts';

const P = '/_sandbox/servicenow';

/**
 * Sandbox-only admin endpoints (no auth; never part of a real instance):
 *   GET  /_sandbox/servicenow/info                 credentials, tables, settings
 *   GET|PUT /_sandbox/servicenow/properties        {"glide.invalid_query.returns_no_rows":"true", …} (merged)
 *   GET|PUT /_sandbox/servicenow/rate-limit        {"requestsPerHour": 100}   (0 = no rule; PUT resets counts)
 *   GET|PUT /_sandbox/servicenow/oauth             {"accessTokenTtlSeconds": 5, "refreshTokenTtlSeconds": 60}
 *   GET|PUT /_sandbox/servicenow/webhooks          [{table, url, events, auth}]   (replaces the list)
 *   GET  /_sandbox/servicenow/webhooks/deliveries  recent deliveries and their state
 *   POST /_sandbox/servicenow/seed                 {"table":"incident","count":100000,"fields":{"short_description":"Bench {n}"}}
 *                                                  or {"set":"demo"}: the demo records (demo.ts; idempotent)
 *   DELETE /_sandbox/servicenow/table/:table       drop all rows of a table (no webhooks)
 */
export function registerAdmin(app: FastifyInstance, ctx: SnContext, webhooks: Webhooks): void {
  const s = ctx.settings;

  app.get(`${P}/info`, async () => ({
    baseUrl: ctx.baseUrl,
    credentials: DEMO,
    uiUser: DEMO.agent.username,
    tables: Object.fromEntries(Object.keys(TABLES).map((t) => [t, ctx.store.count(t)])),
    settings: s.value,
  }));

  app.get(`${P}/properties`, async () => s.value.properties);
  app.put(`${P}/properties`, async (req) => {
    for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) s.value.properties[k] = String(v);
    s.save();
    return s.value.properties;
  });

  app.get(`${P}/rate-limit`, async () => s.value.rateLimit);
  app.put(`${P}/rate-limit`, async (req, reply) => {
    const n = Number((req.body as { requestsPerHour?: unknown } | undefined)?.requestsPerHour ?? 0);
    if (!Number.isFinite(n) || n < 0) return reply.code(400).send({ error: 'requestsPerHour must be a number >= 0' });
    s.value.rateLimit = { requestsPerHour: Math.floor(n) };
    s.save();
    ctx.limiter.reset();
    return s.value.rateLimit;
  });

  app.get(`${P}/oauth`, async () => s.value.oauth);
  app.put(`${P}/oauth`, async (req) => {
    const b = (req.body ?? {}) as Partial<typeof s.value.oauth>;
    if (typeof b.accessTokenTtlSeconds === 'number' && b.accessTokenTtlSeconds > 0)
      s.value.oauth.accessTokenTtlSeconds = b.accessTokenTtlSeconds;
    if (typeof b.refreshTokenTtlSeconds === 'number' && b.refreshTokenTtlSeconds > 0)
      s.value.oauth.refreshTokenTtlSeconds = b.refreshTokenTtlSeconds;
    s.save();
    return s.value.oauth;
  });

  app.get(`${P}/webhooks`, async () => s.value.webhooks);
  app.put(`${P}/webhooks`, async (req, reply) => {
    const list = req.body as WebhookConfig[];
    if (!Array.isArray(list))
      return reply.code(400).send({ error: 'body must be an array of {table, url, events, auth}' });
    for (const w of list) {
      if (!TABLES[w?.table] || typeof w.url !== 'string' || !/^https?:\/\//.test(w.url)) {
        return reply
          .code(400)
          .send({ error: `invalid webhook ${JSON.stringify(w)}: needs a known table and an http(s) url` });
      }
      if (!Array.isArray(w.events) || w.events.length === 0) w.events = ['insert', 'update', 'delete'];
    }
    s.value.webhooks = list;
    s.save();
    return s.value.webhooks;
  });
  app.get(`${P}/webhooks/deliveries`, async () => webhooks.log);

  app.post(`${P}/seed`, async (req, reply) => {
    const b = (req.body ?? {}) as { set?: string; table?: string; count?: number; fields?: Record<string, unknown> };
    if (b.set !== undefined) {
      if (!SEED_SETS.includes(b.set as SeedSet))
        return reply
          .code(400)
          .send({ error: `unknown seed set ${JSON.stringify(b.set)}; known: ${SEED_SETS.join(', ')}` });
      return { set: b.set, inserted: loadSeedSet(b.set as SeedSet, ctx.store, ctx.records) };
    }
    if (!b.table || !TABLES[b.table] || TABLES[b.table].generated)
      return reply.code(400).send({ error: 'unknown or generated (read-only) table' });
    const count = Math.floor(Number(b.count ?? 0));
    if (!(count > 0 && count <= 1_000_000)) return reply.code(400).send({ error: 'count must be 1..1000000' });
    const t0 = Date.now();
    ctx.records.seed(b.table, count, b.fields ?? {}, SYSTEM_ACTOR);
    ctx.fmt.warm(b.table);
    return { table: b.table, inserted: count, total: ctx.store.count(b.table), ms: Date.now() - t0 };
  });

  app.delete(`${P}/table/:table`, async (req, reply) => {
    const t = (req.params as { table: string }).table;
    if (!TABLES[t] || TABLES[t].generated)
      return reply.code(400).send({ error: 'unknown or generated (read-only) table' });
    return { table: t, deleted: ctx.store.clear(t) };
  });
}
