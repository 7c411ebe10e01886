import Fastify from 'fastify';

export interface Callout {
  headers: Record<string, unknown>;
  body: any;
}

/** A local HTTP endpoint standing in for our callout receiver; answers 202 (or what `status` says). */
export async function startReceiver() {
  const app = Fastify({ logger: false });
  const received: Callout[] = [];
  const waiters: { pred: (c: Callout) => boolean; resolve: (c: Callout) => void }[] = [];
  const state = { status: 202 };
  app.post('/callout', async (req, reply) => {
    const c = { headers: req.headers, body: req.body };
    received.push(c);
    for (const w of [...waiters]) {
      if (!w.pred(c)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(c);
    }
    return reply.code(state.status).send();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/callout`,
    received,
    state,
    /** Resolve with the first callout (already received or future) matching `pred`. */
    next(pred: (c: Callout) => boolean, timeoutMs = 10_000): Promise<Callout> {
      const hit = received.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching callout in time')), timeoutMs);
        waiters.push({ pred, resolve: (c) => (clearTimeout(t), resolve(c)) });
      });
    },
    close: () => app.close(),
  };
}
