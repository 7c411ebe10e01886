import Fastify, { type FastifyInstance } from 'fastify';
import type { SandboxTls } from './tls.ts';

/** An HTTPS Fastify server for one sandbox service. */
export function createSandboxServer(tls: SandboxTls, opts: { bodyLimit?: number } = {}): FastifyInstance {
  const app = Fastify({
    https: { key: tls.key, cert: tls.cert },
    logger: false,
    bodyLimit: opts.bodyLimit ?? 10 * 1024 * 1024,
    keepAliveTimeout: 10_000,
  });
  // Form bodies (OAuth token endpoints) arrive as application/x-www-form-urlencoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  return app;
}

/** Listen on 127.0.0.1 (port 0 = any free port) and return the https base URL. */
export async function listen(app: FastifyInstance, port = 0, host = '127.0.0.1'): Promise<string> {
  await app.listen({ port, host });
  const addr = app.server.address();
  const p = typeof addr === 'object' && addr ? addr.port : port;
  return `https://localhost:${p}`;
}
